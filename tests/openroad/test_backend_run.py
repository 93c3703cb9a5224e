"""`vhflow run --backend openroad` end to end: --dry-run renders and never reports completion,
a missing binary is one error before any run directory exists, and with an `openroad` on PATH
(a fake that prints OpenROAD-format reports) the run completes with parsed metrics."""

from __future__ import annotations

import json

import pytest

from flow.errors import StageError, ToolError
from flow.runner import run_flow
from tests.conftest import DESIGNS
from tests.openroad.conftest import install_fake_openroad

FAKE = r'''#!{python}
import os, sys
script = os.path.basename(sys.argv[-1])
with open("calls.txt", "a") as fh:
    fh.write(script + "\n")
if script == "signoff.tcl":
    for name, text in [("report_tns", "tns max -0.12"), ("report_wns", "wns max -0.05"),
                       ("report_worst_slack_max", "worst slack max -0.05"),
                       ("report_design_area", "Design area 512 um^2 38% utilization.")]:
        print("vhflow-section: " + name)
        print(text)
        print("vhflow-section: end")
if script == os.environ.get("FAKE_FAIL"):
    print("[ERROR GPL-0302] Use a higher -density or re-floorplan with a larger core area.")
    sys.exit(1)
'''


@pytest.fixture
def no_openroad(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENROAD_EXE", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")


@pytest.fixture
def fake_openroad(tmp_path, monkeypatch):
    return install_fake_openroad(tmp_path, monkeypatch, FAKE)


def test_dry_run_renders_and_is_not_complete(tmp_path, nangate45, no_openroad):
    res = run_flow(DESIGNS / "gcd/config.toml", tag="dry", backend="openroad", dry_run=True, runs_dir=tmp_path)
    assert res.status == "rendered"
    info = json.loads((res.run_dir / "run.json").read_text())
    assert [s["id"] for s in info["stages"]] == ["synth", "floorplan", "openroad"]
    assert all(s["status"] == "done" for s in info["stages"])
    scripts = res.run_dir / "03_openroad"
    for name in ("config.mk", "constraint.sdc", "floorplan.tcl", "pdn.tcl", "place.tcl", "cts.tcl", "route.tcl",
                 "signoff.tcl"):
        assert (scripts / name).is_file(), name
    # OpenROAD reads the netlist our synthesis wrote
    assert f"read_verilog {res.run_dir / '01_synth' / 'gcd.v'}" in (scripts / "floorplan.tcl").read_text()
    assert res.metrics["openroad__scripts__rendered"] == 6
    assert "finish__timing__setup__ws" not in res.metrics


def test_missing_openroad_is_one_error_and_no_run(tmp_path, nangate45, no_openroad):
    with pytest.raises(ToolError, match="no `openroad` on PATH"):
        run_flow(DESIGNS / "gcd/config.toml", tag="x", backend="openroad", runs_dir=tmp_path)
    assert not (tmp_path / "gcd").exists()


def test_run_with_openroad_parses_metrics(tmp_path, nangate45, fake_openroad, monkeypatch):
    res = run_flow(DESIGNS / "gcd/config.toml", tag="or", backend="openroad", runs_dir=tmp_path)
    assert res.status == "completed_with_violations"  # the fake sign-off report has a -0.05 ns setup slack
    d = next(res.run_dir.glob("*_openroad"))
    assert (d / "calls.txt").read_text().split() == ["floorplan.tcl", "pdn.tcl", "place.tcl", "cts.tcl",
                                                     "route.tcl", "signoff.tcl"]
    assert res.metrics["finish__timing__setup__tns"] == pytest.approx(-0.12)  # ns, as ORFS
    assert res.metrics["finish__timing__setup__ws"] == pytest.approx(-0.05)
    assert res.metrics["finish__design__instance__utilization"] == pytest.approx(0.38)
    # a failing script fails the stage, names the OpenROAD error and leaves the run failed
    monkeypatch.setenv("FAKE_FAIL", "place.tcl")
    with pytest.raises(StageError, match="GPL-0302"):
        run_flow(DESIGNS / "gcd/config.toml", tag="bad", backend="openroad", runs_dir=tmp_path)
    bad = res.run_dir.parent / "bad"
    info = json.loads((bad / "run.json").read_text())
    assert info["status"] == "failed" and info["failed_stage"] == "openroad"
    assert not (next(bad.glob("*_openroad")) / "state_out.json").exists()


def test_dry_run_with_finevh_islands_on_sky130(tmp_path, sky130hd, no_openroad):
    """FINE-VH before the OpenROAD stage: the scripts read the netlist with the level shifters,
    use our floorplan's die and core (the fences are cut from it) and fix every shifter."""
    from tests.openroad.tclstub import Session

    res = run_flow(DESIGNS / "gcd/config.sky130hd.toml", tag="fvh", backend="openroad", dry_run=True,
                   runs_dir=tmp_path, overrides=["FINEVH_ISLANDS=3", "FINEVH_VDDL_CORNER=ss_n40C_1v44"])
    assert res.status == "rendered"
    run = res.run_dir
    scripts = next(run.glob("*_openroad"))
    fp = Session().source(scripts / "floorplan.tcl")
    assert fp.one("read_verilog").positional == [str(next(run.glob("*_finevh_islands/gcd.finevh.v")))]
    plan = __import__("numpy").load(next(run.glob("*_floorplan/floorplan.npz")))
    init = fp.one("initialize_floorplan")
    assert [float(v) for v in init.keys["-die_area"].split()] == pytest.approx([v * 1e6 for v in plan["die"]], abs=1e-3)
    assert [float(v) for v in init.keys["-core_area"].split()] == pytest.approx([v * 1e6 for v in plan["core"]], abs=1e-3)
    doc = json.loads(next(run.glob("*_finevh_islands/islands.json")).read_text())
    fixed = {c.args[0] for c in fp.of("setPlacementStatus") if c.args[1] == "FIXED"}
    assert fixed == set(doc["level_shifter_cells"]) and len(fixed) == res.metrics["finevh__level_shifters"] > 0
