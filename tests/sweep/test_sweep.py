"""Sweeps: grid points as run directories, failures recorded, re-runs finish only what is missing."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from flow.sweep import pareto_mask, point_tag, points, read_sweep, run_sweep
from tests.conftest import DESIGNS


def sweep_file(tmp_path, extra=""):
    p = tmp_path / "util.toml"
    p.write_text(
        f'base = "{DESIGNS}/gcd/config.toml"\nto_stage = "floorplan"\n'
        'metrics = ["floorplan__design__core__area", "floorplan__design__utilization"]\n'
        'pareto = ["floorplan__design__core__area", "max:floorplan__design__utilization"]\n'
        f"{extra}[parameters]\nCORE_UTILIZATION = [30, 50, 150]\n"
    )
    return p


def test_points_modes(tmp_path):
    spec = read_sweep(sweep_file(tmp_path))
    assert points(spec) == [{"CORE_UTILIZATION": 30}, {"CORE_UTILIZATION": 50}, {"CORE_UTILIZATION": 150}]
    spec.parameters = {"A": [1, 2], "B": [0.1, 0.2]}
    assert len(points(spec)) == 4
    spec.mode = "list"
    assert points(spec) == [{"A": 1, "B": 0.1}, {"A": 2, "B": 0.2}]
    spec.mode, spec.samples, spec.seed, spec.parameters = "random", 5, 3, {"A": [10, 20]}
    pts = points(spec)
    assert len(pts) == 5 and all(10 <= p["A"] <= 20 for p in pts) and pts == points(spec)
    assert point_tag({"A": 1, "B": "x y"}) == "A-1_B-x-y"


def test_pareto_mask():
    t = pd.DataFrame({"status": ["completed"] * 4 + ["failed"], "a": [1, 2, 3, 1, 0], "b": [4, 3, 5, 5, 0]})
    assert pareto_mask(t, ["a", "b"]) == [True, True, False, False, False]
    assert pareto_mask(t, ["a", "max:b"]) == [False, False, False, True, False]  # (1, 5) dominates all


def test_local_sweep_failure_and_resume(tmp_path, nangate45):
    spec = read_sweep(sweep_file(tmp_path))
    out = tmp_path / "out"
    table = run_sweep(spec, out, executor="local", jobs=2)
    assert list(table["status"]) == ["stopped", "stopped", "failed"]
    assert "CORE_UTILIZATION = 150.0: must be <= 100 %" in table["error"][2]
    a30, a50 = table["floorplan__design__core__area"][:2]
    assert a30 / a50 == pytest.approx(50 / 30, rel=0.05)  # core area ∝ 1 / utilisation
    csv = pd.read_csv(out / "sweep.csv")
    assert len(csv) == 3 and (out / "report.html").exists() and (out / "pareto.png").exists()
    # kill half-way: one finished point loses its completion, then a re-run does only it
    run_json = out / "runs/gcd/nangate45/CORE_UTILIZATION-50/run.json"
    info = json.loads(run_json.read_text())
    info["status"] = "running"
    run_json.write_text(json.dumps(info))
    first = json.loads((out / "runs/gcd/nangate45/CORE_UTILIZATION-30/run.json").read_text())["started"]
    again = run_sweep(spec, out, executor="local", jobs=2)
    assert list(again["skipped"]) == [True, False, False]
    assert json.loads((out / "runs/gcd/nangate45/CORE_UTILIZATION-30/run.json").read_text())["started"] == first
    assert again["status"][1] == "stopped"


@pytest.mark.slow
def test_ray_executor(tmp_path, nangate45):
    pytest.importorskip("ray")
    p = tmp_path / "r.toml"
    p.write_text(f'base = "{DESIGNS}/gcd/config.toml"\nto_stage = "floorplan"\n'
                 'metrics = ["floorplan__design__core__area"]\n[parameters]\nCORE_UTILIZATION = [35, 45]\n')
    table = run_sweep(read_sweep(p), tmp_path / "out", executor="ray", jobs=2)
    assert list(table["status"]) == ["stopped", "stopped"]
    assert table["floorplan__design__core__area"][0] > table["floorplan__design__core__area"][1]


def test_bad_sweep_files(tmp_path):
    from flow.errors import ConfigError, FormatError

    (tmp_path / "a.toml").write_text("base = \n")
    with pytest.raises(FormatError, match="a.toml:1"):
        read_sweep(tmp_path / "a.toml")
    (tmp_path / "b.toml").write_text('base = "nope.toml"\n[parameters]\nX = [1]\n')
    with pytest.raises(ConfigError, match="base config .* not found"):
        read_sweep(tmp_path / "b.toml")
    (tmp_path / "c.toml").write_text(f'base = "{DESIGNS}/gcd/config.toml"\nmode = "zip"\n[parameters]\nX = [1]\n')
    with pytest.raises(ConfigError, match="mode 'zip'"):
        read_sweep(tmp_path / "c.toml")
