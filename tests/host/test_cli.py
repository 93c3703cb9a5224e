"""The `vhflow` command line: one-line errors with exit codes, and no run marked done on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flow.cli import main

REPO = Path(__file__).resolve().parents[2]


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def design(tmp_path, nangate45):
    src = tmp_path / "src"
    src.mkdir()
    (src / "top.v").write_text(
        "module top(input clk, input [3:0] a, output reg [3:0] q);\n"
        "  always @(posedge clk) q <= q + a;\nendmodule\n"
    )
    (src / "top.sdc").write_text("create_clock -name clk -period 2.0 [get_ports clk]\n")
    cfg = tmp_path / "config.toml"
    cfg.write_text('DESIGN_NAME = "top"\nPLATFORM = "nangate45"\nVERILOG_FILES = ["src/top.v"]\nSDC_FILE = "src/top.sdc"\n')
    return cfg


def runs_marked_done(root: Path) -> list[Path]:
    return list(root.rglob("state_out.json")) if root.exists() else []


def test_version(capsys):
    code, out, _ = cli(capsys, "--version")
    assert code == 0 and out.strip() == "vhflow 0.1.0"


@pytest.mark.parametrize(
    ("extra_toml", "overrides", "message"),
    [
        ("CORE_UTILISATION = 40\n", [], r"config.toml:5: unknown configuration variable 'CORE_UTILISATION' \(did you mean CORE_UTILIZATION\?\)"),
        ('CLOCK_PERIOD = "fast"\n', [], r"config.toml:5: CLOCK_PERIOD = 'fast': expected"),
        ("", ["PLATFORM=gf180"], r"unknown platform 'gf180'"),
        ("", ["CORNER=ss_125C"], r"unknown corner 'ss_125C'"),
        ("", ["NOEQUALS"], r"--set 'NOEQUALS': expected KEY=VALUE"),
        ("CLOCK_PERIOD = [\n", [], r"config.toml:\d+: invalid TOML"),
    ],
)
def test_bad_config_one_line_exit_2(capsys, design, extra_toml, overrides, message):
    import re

    design.write_text(design.read_text() + extra_toml)
    args = ["run", str(design), "--runs-dir", str(design.parent / "runs")]
    for o in overrides:
        args += ["--set", o]
    code, _, err = cli(capsys, *args)
    assert code == 2
    assert re.search(message, one_line_error(err)), err
    assert not (design.parent / "runs").exists()


def test_missing_config_file(capsys, tmp_path):
    code, _, err = cli(capsys, "run", str(tmp_path / "nope.toml"))
    assert code == 2 and "nope.toml: config file not found" in one_line_error(err)


def test_missing_verilog_exit_2_no_stage_done(capsys, design):
    design.write_text(design.read_text().replace("src/top.v", "src/missing.v"))
    code, _, err = cli(capsys, "run", str(design), "--runs-dir", str(design.parent / "runs"), "--tag", "t")
    assert code == 2 and "missing.v: file not found" in one_line_error(err)
    assert runs_marked_done(design.parent / "runs") == []


def test_yosys_failure_exit_1_run_failed(capsys, design):
    (design.parent / "src" / "top.v").write_text("module top(input clk; endmodule\n")
    code, _, err = cli(capsys, "run", str(design), "--runs-dir", str(design.parent / "runs"), "--tag", "t")
    line = one_line_error(err)
    assert code == 1 and "stage synth failed: yosys failed" in line and "top.v" in line
    run = json.loads((design.parent / "runs/top/nangate45/t/run.json").read_text())
    assert run["status"] == "failed" and run["failed_stage"] == "synth"
    assert runs_marked_done(design.parent / "runs") == []


def test_missing_pdk_file_exit_2(capsys, design, tmp_path, monkeypatch, nangate45):
    import shutil

    shutil.copytree(nangate45.root / "lef", tmp_path / "pdks" / "nangate45" / "lef")
    monkeypatch.setenv("VHFLOW_PLATFORMS", str(tmp_path / "pdks"))
    code, _, err = cli(capsys, "run", str(design), "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and "missing PDK file(s)" in one_line_error(err)
    assert not (tmp_path / "runs").exists()


def test_platforms_lists_corners(capsys, nangate45, sky130hd):
    code, out, _ = cli(capsys, "platforms")
    assert code == 0
    for text in ("nangate45", "sky130hd", "ss_n40C_1v28", "typical", "unithd"):
        assert text in out


def test_hello_plugin_installed_runs_in_flow(tmp_path, design):
    """Install the example plugin for real (pip --target) and see its stage run in a flow."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target),
         str(REPO / "examples" / "hello_plugin")],
        check=True, capture_output=True,
    )
    env = {**__import__("os").environ, "PYTHONPATH": f"{target}:{REPO}"}
    listed = subprocess.run([sys.executable, "-m", "flow.cli", "plugins"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "hello" in listed.stdout and "vhflow-hello 0.1.0" in listed.stdout
    order = " ".join(listed.stdout.split("stages:")[1].split()).split(" → ")
    assert order.index("synth") < order.index("hello_cells") < order.index("floorplan")
    run = subprocess.run(
        [sys.executable, "-m", "flow.cli", "run", str(design), "--runs-dir", str(tmp_path / "runs"),
         "--tag", "h", "--to", "hello_cells", "-q"],
        env=env, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    metrics = json.loads((tmp_path / "runs/top/nangate45/h/metrics.json").read_text())
    hist = json.loads((tmp_path / "runs/top/nangate45/h/01a_hello_cells/cell_histogram.json").read_text())
    assert metrics["hello__cell_types"] == len(hist) > 0
    assert sum(hist.values()) == metrics["synth__design__instance__count__stdcell"]
