"""Runner semantics on a flow of small stages: run dirs, done markers, failure, resume, --to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flow.errors import ConfigError, FormatError, StageError
from flow.plugin_manager import get_plugin_manager, hookimpl
from flow.runner import run_flow
from flow.stage import Stage, StageContext, StageResult, Variable
from flow.state import State


class Produce(Stage):
    id = "produce"
    outputs = ("number",)

    def run(self, state: State, ctx: StageContext) -> StageResult:
        out = ctx.path("number.txt")
        out.write_text(str(ctx.config["START"]))
        return StageResult(views={"number": out}, metrics={"produce__value": ctx.config["START"]})


class Increment(Stage):
    id = "increment"
    inputs = ("number",)
    outputs = ("number",)
    config_vars = (Variable("FAIL_AT", str, "Stage that raises.", "", source="test"),)

    def run(self, state: State, ctx: StageContext) -> StageResult:
        if ctx.config["FAIL_AT"] == "increment":
            raise RuntimeError("boom")
        if ctx.config["FAIL_AT"] == "increment-format":
            raise FormatError(state["number"], 1, "not a number")
        value = int(state["number"].read_text()) + 1
        out = ctx.path("number.txt")
        out.write_text(str(value))
        return StageResult(views={"number": out}, metrics={"increment__value": value})


class Double(Stage):
    id = "double"
    inputs = ("number",)

    def run(self, state: State, ctx: StageContext) -> StageResult:
        value = int(state["number"].read_text()) * 2
        if ctx.config["FAIL_AT"] == "double-missing":
            return StageResult(views={"ghost": ctx.stage_dir / "ghost.txt"})
        return StageResult(metrics={"double__value": value})


class Skipped(Stage):
    id = "skipped"

    @classmethod
    def enabled(cls, config):
        return False


class TestFlow:
    @hookimpl
    def vhflow_add_stages(self, flow):
        flow.stages[:] = [Produce, Skipped, Increment, Double]

    @hookimpl
    def vhflow_config_variables(self):
        return [Variable("START", int, "Initial value.", 1, source="test")]

    @hookimpl
    def vhflow_metrics(self, state, run_dir):
        return {"test__final_views": len(state)}


@pytest.fixture
def config(tmp_path, nangate45):
    (tmp_path / "a.v").write_text("module top; endmodule\n")
    (tmp_path / "c.sdc").write_text("")
    p = tmp_path / "config.toml"
    p.write_text('DESIGN_NAME = "top"\nPLATFORM = "nangate45"\nVERILOG_FILES = ["a.v"]\nSDC_FILE = "c.sdc"\nSTART = 20\n')
    return p


def run(config, **kw):
    pm = get_plugin_manager(extra=[TestFlow()], entry_points=False)
    return run_flow(config, pm=pm, runs_dir=config.parent / "runs", tag="t", **kw)


def load(run_dir: Path, name: str):
    return json.loads((run_dir / name).read_text())


def test_complete_run(config):
    res = run(config)
    assert res.status == "completed"
    assert res.metrics["double__value"] == 42 and res.metrics["test__final_views"] == 1
    info = load(res.run_dir, "run.json")
    assert [s["dir"] for s in info["stages"]] == ["00a_produce", "00b_increment", "00c_double"]
    assert all(s["status"] == "done" and s["seconds"] >= 0 for s in info["stages"])
    assert load(res.run_dir, "metrics.json")["increment__value"] == 21
    cfg = load(res.run_dir, "config.resolved.json")
    assert cfg["variables"]["START"] == {
        "value": 20, "source": f"{config}:5", "type": "int", "unit": None, "doc": "Initial value.",
        "declared_by": "test",
    }
    st = load(res.run_dir / "00b_increment", "state_out.json")
    assert st["views"]["number"] == "00b_increment/number.txt"  # relative: run dirs can move
    assert (res.run_dir / "00b_increment" / "stage.log").exists()
    assert "stage increment: done" in (res.run_dir / "flow.log").read_text()


def test_failure_leaves_no_done_marker_and_resume(config):
    with pytest.raises(StageError, match=r"stage increment failed: RuntimeError: boom"):
        run(config, overrides=["FAIL_AT=increment"])
    run_dir = config.parent / "runs" / "top" / "nangate45" / "t"
    info = load(run_dir, "run.json")
    assert info["status"] == "failed" and info["failed_stage"] == "increment"
    assert [s["status"] for s in info["stages"]] == ["done", "failed", "pending"]
    assert not (run_dir / "00b_increment" / "state_out.json").exists()
    assert "double__value" not in load(run_dir, "metrics.json")
    assert "Traceback" in (run_dir / "00b_increment" / "stage.log").read_text()

    produced = run_dir / "00a_produce" / "number.txt"
    mtime = produced.stat().st_mtime_ns
    res = run(config, from_stage="increment")
    assert res.status == "completed" and res.metrics["double__value"] == 42
    assert produced.stat().st_mtime_ns == mtime  # the finished stage was reused, not rerun
    assert res.metrics["produce__value"] == 20  # metrics of reused stages carried over


def test_bad_input_in_stage_keeps_its_error(config):
    with pytest.raises(FormatError, match="number.txt:1: not a number"):
        run(config, overrides=["FAIL_AT=increment-format"])
    assert load(config.parent / "runs/top/nangate45/t", "run.json")["status"] == "failed"


def test_missing_declared_output_fails(config):
    with pytest.raises(StageError, match="declared outputs that do not exist"):
        run(config, overrides=["FAIL_AT=double-missing"])


def test_to_stops_and_is_not_complete(config):
    res = run(config, to_stage="increment")
    assert res.status == "stopped"
    assert [s["status"] for s in load(res.run_dir, "run.json")["stages"]] == ["done", "done", "pending"]


def test_from_needs_finished_previous_stage(config):
    with pytest.raises(ConfigError, match="stage produce has not finished"):
        run(config, from_stage="increment")
    with pytest.raises(ConfigError, match="no such stage"):
        run(config, to_stage="route")
    assert not (config.parent / "runs").exists()  # bad input leaves no run directory


def test_rerun_same_tag_starts_over(config):
    first = run(config)
    (first.run_dir / "stale.txt").write_text("x")
    second = run(config, overrides=["START=1"])
    assert not (second.run_dir / "stale.txt").exists()
    assert second.metrics["double__value"] == 4


def test_backend_choices_are_checked(config):
    with pytest.raises(ConfigError, match="unknown backend 'magic'"):
        run(config, backend="magic")
    with pytest.raises(ConfigError, match="--dry-run renders OpenROAD scripts"):
        run(config, dry_run=True)
