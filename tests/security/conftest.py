"""Shared pieces of the security tests: a tiny flow of in-process stages (no synthesis), a
design config, and the CLI run in-process with that flow."""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from flow.plugin_manager import get_plugin_manager, hookimpl
from flow.stage import Stage, StageContext, StageResult, Variable
from flow.state import State

REPO = Path(__file__).resolve().parents[2]


def load_fuzz():
    """benchmarks/fuzz_readers.py as a module (seeds, mutations and the per-format readers)."""
    spec = importlib.util.spec_from_file_location("fuzz_readers", REPO / "benchmarks" / "fuzz_readers.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fuzz_readers", mod)
    spec.loader.exec_module(mod)
    return mod


class Write(Stage):
    """Writes a file; `SEC_MODE` makes it fail, report violations or be interrupted."""

    id = "write"
    config_vars = (
        Variable("SEC_MODE", str, "What the test stage does.", "ok", source="sectest"),
        Variable("SEC_LEVEL", int, "A number a later stage reads.", 1, source="sectest", min=0, max=10),
    )

    def run(self, state: State, ctx: StageContext) -> StageResult:
        mode = ctx.config["SEC_MODE"]
        if mode == "interrupt":
            raise KeyboardInterrupt
        if mode == "crash":
            raise RuntimeError("boom")
        out = ctx.path("out.txt")
        out.write_text("x")
        metrics = {"write__level": ctx.config["SEC_LEVEL"]}
        if mode == "violate":
            metrics["timing__setup__ws"] = -1e-10  # s: -0.1 ns
        return StageResult(views={"out": out}, metrics=metrics)


class Check(Stage):
    id = "check"
    config_vars = (Variable("SEC_CHECK", int, "Read by the last stage only.", 0, source="sectest"),)

    def run(self, state: State, ctx: StageContext) -> StageResult:
        return StageResult(metrics={"check__value": ctx.config["SEC_CHECK"], "check__seen": state.metrics.get("write__level")})


class SecFlow:
    @hookimpl
    def vhflow_add_stages(self, flow):
        flow.stages[:] = [Write, Check]


class RaisingPlugin:
    """A plugin whose hooks raise (named `rogue` when registered)."""

    @hookimpl
    def vhflow_metrics(self, state, run_dir):
        raise ValueError("rogue metrics hook")

    @hookimpl
    def vhflow_cli(self, app):
        raise RuntimeError("rogue cli hook")


def sec_pm(*extra):
    pm = get_plugin_manager(extra=[SecFlow()], entry_points=False)
    for plugin, name in extra:
        pm.register(plugin, name=name)
    return pm


@pytest.fixture
def design(tmp_path, nangate45):
    (tmp_path / "top.v").write_text("module top(input clk, output y); assign y = clk; endmodule\n")
    (tmp_path / "top.sdc").write_text("create_clock -name clk -period 2.0 [get_ports clk]\n")
    cfg = tmp_path / "config.toml"
    cfg.write_text('DESIGN_NAME = "top"\nPLATFORM = "nangate45"\nVERILOG_FILES = ["top.v"]\nSDC_FILE = "top.sdc"\n')
    return cfg


@pytest.fixture
def vhflow(monkeypatch, capsys):
    """`vhflow(*argv, plugins=...)` -> (exit code, stdout, stderr), in-process, on the SecFlow."""
    return _cli(monkeypatch, capsys, sec_flow=True)


@pytest.fixture
def vhflow_real(monkeypatch, capsys):
    """The same on the real flow and installed plugins (for input that fails before any stage)."""
    return _cli(monkeypatch, capsys, sec_flow=False)


def _cli(monkeypatch, capsys, *, sec_flow: bool):
    import flow.cli
    import flow.runner

    state = {"extra": ()}

    def pm_factory(*a, **k):
        return sec_pm(*state["extra"])

    if sec_flow:
        monkeypatch.setattr("flow.plugin_manager.get_plugin_manager", pm_factory)
        monkeypatch.setattr(flow.runner, "get_plugin_manager", pm_factory)
    else:  # the installed plugins, loaded once for all calls (the inputs fail before any stage)
        real = functools.lru_cache(maxsize=1)(flow.runner.get_plugin_manager)
        monkeypatch.setattr(flow.runner, "get_plugin_manager", lambda *a, **k: real())
    original = flow.cli.build_app
    built = functools.lru_cache(maxsize=8)(lambda extra: original())  # typer apps are reusable
    monkeypatch.setattr(flow.cli, "build_app", lambda: built(state["extra"]))

    def call(*argv: str, plugins=()):
        state["extra"] = tuple(plugins)
        capsys.readouterr()
        try:
            flow.cli.main([str(a) for a in argv])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return call


def run_json(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())
