"""The runner: resolves config and platform, runs the stages in order, keeps the run directory.

Layout (`runs/<design>/<tag>/`): `config.resolved.json`, `run.json` (status and per-stage
timing), `metrics.json`, `<nn>_<stage>/` (the stage's files, `stage.log`, and `state_out.json`,
written atomically last: the only "done" marker), `flow.log`, `report.html`. A run is
`completed` only when every stage finished and the report was written; a failure leaves
`status: failed` with the stage and error, and no later stage marked done.
"""

from __future__ import annotations

import datetime as _dt
import logging
import shutil
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from flow import __version__
from flow.config import FLOW_VARIABLES, ResolvedConfig, collect_variables, resolve_config
from flow.errors import ConfigError, StageError, ToolError, VhflowError
from flow.metrics import to_orfs, write_run_metrics
from flow.orfs_variables import ORFS_COMPAT_VARIABLES, ignored_warning
from flow.platform import Platform, load_platform
from flow.plugin_manager import get_plugin_manager
from flow.stage import FlowSpec, Stage, StageContext, StageResult
from flow.stages import core_stages
from flow.stages.openroad import OpenroadStage, openroad_flow
from flow.state import State
from flow.util import write_json

BACKENDS = ("embedded", "openroad")
STATE_FILE = "state_out.json"


@dataclass
class RunResult:
    run_dir: Path
    status: str
    metrics: dict[str, Any] = field(default_factory=dict)
    report: Path | None = None


@dataclass
class FlowSetup:
    """Everything resolved before a run directory is touched (so bad input leaves no trace)."""

    pm: pluggy.PluginManager
    flow: FlowSpec
    config: ResolvedConfig
    platform: Platform
    stages: list[type[Stage]]


def all_variables(pm: pluggy.PluginManager, flow: FlowSpec) -> dict:
    groups = [FLOW_VARIABLES]
    groups += [s.config_vars for s in flow]
    groups.append(OpenroadStage.config_vars)  # declared for every run: configs stay backend-neutral
    for plugin_vars in pm.hook.vhflow_config_variables():
        groups.append(plugin_vars or ())
    declared = collect_variables(groups)
    # ORFS names come last: a stage or plugin that declares one of them owns it.
    for var in ORFS_COMPAT_VARIABLES:
        declared.setdefault(var.name, var)
    return declared


def build_flow(pm: pluggy.PluginManager) -> FlowSpec:
    flow = FlowSpec(core_stages())
    pm.hook.vhflow_add_stages(flow=flow)
    return flow


def plugin_platform_configs(pm: pluggy.PluginManager) -> list[Path]:
    return [Path(p) for group in pm.hook.vhflow_platforms() for p in (group or [])]


def prepare(
    config_path: Path | None,
    overrides: Iterable[str] = (),
    *,
    pm: pluggy.PluginManager | None = None,
    raw: dict[str, Any] | None = None,
) -> FlowSetup:
    """Resolve plugins, stages, config and platform; raise before anything is written."""
    pm = pm or get_plugin_manager()
    flow = build_flow(pm)
    variables = all_variables(pm, flow)
    config = resolve_config(config_path, variables, overrides, raw=raw)
    platform = load_platform(config["PLATFORM"], plugin_platform_configs(pm))
    platform.require_files()
    if config["CORNER"] is not None:
        platform.corner(config["CORNER"])
    stages = [s for s in flow if s.enabled(config)]
    return FlowSetup(pm, flow, config, platform, stages)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def default_tag() -> str:
    return _dt.datetime.now().strftime("RUN_%Y-%m-%d_%H-%M-%S")


def stage_dir_name(index: int, stage: type[Stage]) -> str:
    return f"{index + 1:02d}_{stage.id}"


def _select(stages: Sequence[type[Stage]], stage_id: str | None, what: str) -> int | None:
    if stage_id is None:
        return None
    ids = [s.id for s in stages]
    if stage_id not in ids:
        raise ConfigError(f"{what} {stage_id!r}: no such stage in this flow (stages: {', '.join(ids)})")
    return ids.index(stage_id)


class _RunLog:
    """`flow.log` for the whole run and `stage.log` per stage, on the `vhflow` logger."""

    def __init__(self, run_dir: Path) -> None:
        self.logger = logging.getLogger(f"vhflow.run.{run_dir}")
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self.fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
        self.run_handler = logging.FileHandler(run_dir / "flow.log")
        self.run_handler.setFormatter(self.fmt)
        self.logger.addHandler(self.run_handler)
        from flow.report.warnings import COLLECTOR  # the CLI prints them at the end

        self.logger.addHandler(COLLECTOR)
        self.stage_handler: logging.Handler | None = None

    def begin_stage(self, stage_dir: Path) -> None:
        self.end_stage()
        self.stage_handler = logging.FileHandler(stage_dir / "stage.log")
        self.stage_handler.setFormatter(self.fmt)
        self.logger.addHandler(self.stage_handler)

    def end_stage(self) -> None:
        if self.stage_handler is not None:
            self.logger.removeHandler(self.stage_handler)
            self.stage_handler.close()
            self.stage_handler = None

    def close(self) -> None:
        self.end_stage()
        from flow.report.warnings import COLLECTOR

        self.logger.removeHandler(COLLECTOR)
        self.logger.removeHandler(self.run_handler)
        self.run_handler.close()


def run_flow(
    config_path: Path | str | None,
    *,
    tag: str | None = None,
    overrides: Iterable[str] = (),
    backend: str = "embedded",
    from_stage: str | None = None,
    to_stage: str | None = None,
    runs_dir: Path | str | None = None,
    quiet: bool = True,
    dry_run: bool = False,
    pm: pluggy.PluginManager | None = None,
    raw: dict[str, Any] | None = None,
    progress: Callable[[str, str, float | None], None] | None = None,
) -> RunResult:
    """Run the flow for a design config; returns the run directory and final metrics.

    `progress(stage_id, event, seconds)` is called with events `start`, `done`, `failed`,
    `reused`. Raises a `VhflowError` subclass on bad input (before the run directory exists) or
    `StageError` when a stage fails (the run directory then says `failed`).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r} (backends: {', '.join(BACKENDS)})")
    setup = prepare(Path(config_path) if config_path is not None else None, list(overrides), pm=pm, raw=raw)
    stages = setup.stages
    if backend == "openroad":
        from flow.backends.openroad import find_openroad

        stages = openroad_flow(stages)
        if not dry_run and find_openroad() is None:
            raise ToolError("backend openroad: no `openroad` on PATH and OPENROAD_EXE not set; "
                            "use --dry-run to render the scripts only")
    elif dry_run:
        raise ConfigError("--dry-run renders OpenROAD scripts: use it with --backend openroad")
    first = _select(stages, from_stage, "--from") or 0
    last = _select(stages, to_stage, "--to")
    if last is None:
        last = len(stages) - 1
    if last < first:
        raise ConfigError(f"--to {to_stage} comes before --from {from_stage}")

    design = setup.config["DESIGN_NAME"]
    runs_root = Path(runs_dir) if runs_dir is not None else Path.cwd() / "runs"
    run_dir = (runs_root / design / (tag or default_tag())).resolve()

    state = State()
    if first > 0:
        prev = run_dir / stage_dir_name(first - 1, stages[first - 1]) / STATE_FILE
        if not prev.exists():
            raise ConfigError(
                f"--from {from_stage}: stage {stages[first - 1].id} has not finished in {run_dir} (no {prev.name})"
            )
        state = State.load(prev, base=run_dir)
    elif run_dir.exists():
        shutil.rmtree(run_dir)  # a fresh run with an existing tag starts over
    run_dir.mkdir(parents=True, exist_ok=True)
    # Later stages' results are stale once an earlier one reruns.
    for i in range(first, len(stages)):
        d = run_dir / stage_dir_name(i, stages[i])
        if d.exists():
            shutil.rmtree(d)
    (run_dir / "report.html").unlink(missing_ok=True)

    write_json(
        run_dir / "config.resolved.json",
        {
            "variables": setup.config.to_json(),
            "platform": setup.platform.name,
            "platform_root": str(setup.platform.root),
            "backend": backend,
            "design_dir": str(setup.config.design_dir),
            "config_file": str(setup.config.path) if setup.config.path else None,
            "vhflow_version": __version__,
        },
    )
    run_info: dict[str, Any] = {
        "status": "running",
        "design": design,
        "tag": run_dir.name,
        "backend": backend,
        "platform": setup.platform.name,
        "started": _now(),
        "finished": None,
        "vhflow_version": __version__,
        "stages": [
            {"id": s.id, "name": s.name or s.id, "dir": stage_dir_name(i, s), "status": "pending",
             "seconds": None, "error": None}
            for i, s in enumerate(stages)
        ],
    }
    old = _load_json(run_dir / "run.json")
    if first > 0 and old:
        by_id = {s["id"]: s for s in old.get("stages", [])}
        for i in range(first):
            prev_info = by_id.get(stages[i].id, {})
            run_info["stages"][i].update(status="done", seconds=prev_info.get("seconds"))
    write_json(run_dir / "run.json", run_info)
    metrics: dict[str, Any] = dict(state.metrics)
    write_run_metrics(run_dir, metrics)

    log = _RunLog(run_dir)
    cache: dict[Any, Any] = {}
    try:
        log.logger.info("vhflow %s: %s on %s, backend %s", __version__, design, setup.platform.name, backend)
        ignored = ignored_warning(setup.config, backend)
        if ignored:
            log.logger.warning("%s", ignored)
        for i in range(first):
            if progress:
                progress(stages[i].id, "reused", None)
        for i in range(first, last + 1):
            stage_cls = stages[i]
            info = run_info["stages"][i]
            stage_dir = run_dir / info["dir"]
            stage_dir.mkdir(parents=True, exist_ok=True)
            log.begin_stage(stage_dir)
            ctx = StageContext(
                config=setup.config,
                platform=setup.platform,
                stage_dir=stage_dir,
                run_dir=run_dir,
                design_dir=setup.config.design_dir,
                backend=backend,
                hook=setup.pm.hook,
                log=log.logger,
                cache=cache,
                dry_run=dry_run,
            )
            info["status"] = "running"
            write_json(run_dir / "run.json", run_info)
            if progress:
                progress(stage_cls.id, "start", None)
            log.logger.info("stage %s: start", stage_cls.id)
            t0 = time.perf_counter()
            try:
                stage = stage_cls()
                setup.pm.hook.vhflow_pre_stage(stage=stage, state=state, ctx=ctx)
                result = stage.run(state, ctx)
                if not isinstance(result, StageResult):
                    raise StageError(f"stage {stage_cls.id} returned {type(result).__name__}, not StageResult")
                setup.pm.hook.vhflow_post_stage(stage=stage, state=state, ctx=ctx, result=result)
                missing = [v for v in result.views.values() if not Path(v).exists()]
                if missing:
                    raise StageError(f"stage {stage_cls.id} declared outputs that do not exist: {missing}")
                state = state.updated(result.views, result.metrics)
                state.save(stage_dir / STATE_FILE, base=run_dir)  # the done marker, written last
            except BaseException as exc:
                seconds = time.perf_counter() - t0
                message = _one_line(exc)
                log.logger.error("stage %s failed after %.1f s: %s", stage_cls.id, seconds, message)
                if not isinstance(exc, VhflowError):
                    log.logger.error("%s", "".join(traceback.format_exception(exc)))
                info.update(status="failed", seconds=round(seconds, 3), error=message)
                run_info.update(status="failed", finished=_now(), failed_stage=stage_cls.id, error=message)
                write_json(run_dir / "run.json", run_info)
                write_run_metrics(run_dir, metrics)
                if progress:
                    progress(stage_cls.id, "failed", seconds)
                if isinstance(exc, KeyboardInterrupt) or (isinstance(exc, VhflowError) and exc.exit_code == 2):
                    raise  # bad input keeps its own one-line message and exit code
                raise StageError(f"stage {stage_cls.id} failed: {message} (run: {run_dir})") from exc
            seconds = time.perf_counter() - t0
            info.update(status="done", seconds=round(seconds, 3))
            metrics = dict(state.metrics)
            write_json(run_dir / "run.json", run_info)
            write_run_metrics(run_dir, metrics)
            log.logger.info("stage %s: done in %.1f s", stage_cls.id, seconds)
            if progress:
                progress(stage_cls.id, "done", seconds)
        log.end_stage()

        for extra in setup.pm.hook.vhflow_metrics(state=state, run_dir=run_dir):
            metrics.update(extra or {})
        metrics["flow__stages__completed"] = sum(1 for s in run_info["stages"] if s["status"] == "done")
        write_run_metrics(run_dir, metrics)
        complete = last == len(stages) - 1
        status = "completed" if complete else "stopped"
        if dry_run:
            status = "rendered"  # scripts only: nothing was placed, routed or signed off
        run_info.update(status=status, finished=_now(), stopped_after=stages[last].id)
        write_json(run_dir / "run.json", run_info)
        report = _build_report(run_dir, setup.pm, log.logger)  # a failure here marks the run failed
        log.logger.info("run %s: %s", run_dir, run_info["status"])
        return RunResult(run_dir, run_info["status"], to_orfs(metrics), report)
    except VhflowError:
        raise
    except BaseException as exc:
        run_info.update(status="failed", finished=_now(), error=_one_line(exc))
        write_json(run_dir / "run.json", run_info)
        raise
    finally:
        log.close()


def _build_report(run_dir: Path, pm: pluggy.PluginManager, logger: logging.Logger) -> Path | None:
    try:
        from flow.report.html import build_report
    except ImportError:
        logger.warning("report module not available: no report.html")
        return None
    return build_report(run_dir, pm=pm)


def _load_json(path: Path) -> dict[str, Any] | None:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0]
    if not isinstance(exc, VhflowError):
        first = f"{type(exc).__name__}: {first}"
    return first
