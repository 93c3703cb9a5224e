"""The runner: resolves config and platform, runs the stages in order, keeps the run directory.

Layout (`runs/<design>/<platform>/<tag>/`, names checked to stay inside the runs root, one
run at a time per directory by a lock): `config.resolved.json`, `run.json` (status, stage order
and per-stage timing), `metrics.json`, `<nn>_<stage>/` (the stage's files, `stage.log`, and
`state_out.json`, written atomically last: the only "done" marker), `flow.log`, `report.html`.
A run is `completed` (or `completed_with_violations`, decided by flow.violations) only once
every stage finished and report.html was written; a failure leaves `status: failed` with the
stage and error (`interrupted` after Ctrl-C), and no later stage marked done. Resuming with
`--from` re-runs from the first stage that declares a variable that changed."""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import re
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
from flow.errors import ConfigError, FormatError, PluginError, RunDirError, StageError, ToolError, VhflowError
from flow.metrics import to_orfs, write_run_metrics
from flow.orfs_variables import ORFS_COMPAT_VARIABLES, ignored_warning
from flow.platform import Platform, load_platform
from flow.plugin_manager import get_plugin_manager
from flow.stage import FlowSpec, Stage, StageContext, StageResult
from flow.stages import core_stages
from flow.stages.openroad import OpenroadStage, openroad_flow
from flow.state import State
from flow.util import write_json
from flow.violations import signoff_violations

BACKENDS = ("embedded", "openroad")
STATE_FILE = "state_out.json"


@dataclass
class RunResult:
    run_dir: Path
    status: str
    metrics: dict[str, Any] = field(default_factory=dict)
    report: Path | None = None
    violations: list[str] = field(default_factory=list)  # flow.violations: sign-off checks that failed


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


def stage_dir_names(stages: Sequence[type[Stage]]) -> list[str]:
    """`NN_<id>` per stage, NN fixed per core stage id (01_synth ... 08_signoff; the openroad
    stage takes place's 03) and a plugin stage numbered after the core stage it follows
    (`01a_finevh_partition`): a directory keeps its name whichever plugins add stages, and the
    names still sort in flow order. The order itself is recorded in run.json."""
    numbers = {s.id: i + 1 for i, s in enumerate(core_stages())}
    numbers.setdefault("openroad", numbers.get("place", len(numbers) + 1))
    out: list[str] = []
    current, extra = 0, 0
    for stage in stages:
        if stage.id in numbers:
            current, extra = numbers[stage.id], 0
            out.append(f"{current:02d}_{stage.id}")
        else:
            extra += 1
            suffix = ""
            n = extra
            while n:
                n, r = divmod(n - 1, 26)
                suffix = chr(ord("a") + r) + suffix
            out.append(f"{current:02d}{suffix}_{stage.id}")
    return out


#: a run tag and a design or platform name: one path component, no `.`/`..`, no separators
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")


def check_name(value: object, what: str) -> str:
    """`value` if it is a safe single directory name, else a ConfigError naming `what`."""
    s = str(value)
    if not SAFE_NAME.fullmatch(s):
        raise ConfigError(f"{what} {s!r}: must be 1-128 letters, digits, '_', '.', '+' or '-', not starting "
                          "with '.', '+' or '-' (it names a directory under the runs root)")
    return s


def run_directory(runs_root: Path, design: str, platform: str, tag: str) -> Path:
    """`<runs_root>/<design>/<platform>/<tag>`, checked to resolve inside the runs root."""
    for value, what in ((design, "DESIGN_NAME"), (platform, "PLATFORM"), (tag, "--tag")):
        check_name(value, what)
    root = Path(runs_root).resolve()
    run_dir = (root / design / platform / tag).resolve()
    if not run_dir.is_relative_to(root) or run_dir == root:
        raise ConfigError(f"run directory {run_dir} resolves outside the runs root {root} (a symbolic link?)")
    return run_dir


class RunLock:
    """An exclusive lock per run directory (`.<tag>.lock` beside it, so wiping the run keeps it):
    a second run with the same tag fails at once instead of deleting the first one's files."""

    def __init__(self, run_dir: Path) -> None:
        import fcntl

        self.path = run_dir.parent / f".{run_dir.name}.lock"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunDirError(f"cannot create the run directory under {run_dir.parent}: {exc.strerror}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            raise ConfigError(f"run {run_dir} is in use by another vhflow run (lock {self.path}); "
                              "wait for it or choose another --tag") from None

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing drops the flock
            self.fd = -1


def _remove_inside(path: Path, root: Path) -> None:
    """rmtree `path` only if it lies inside `root` and is a real directory (never a link)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.resolve().is_relative_to(Path(root).resolve()):
        raise ConfigError(f"{path}: refusing to delete a link or a directory outside the runs root {root}")
    shutil.rmtree(path)


def _changed_variables(old: dict[str, Any] | None, config: ResolvedConfig) -> list[str]:
    """Variables whose value differs from the run being resumed (config.resolved.json)."""
    if not old:
        return []
    from flow.config import _jsonable

    before = {k: v.get("value") for k, v in (old.get("variables") or {}).items() if isinstance(v, dict)}
    now = config.to_json()
    return sorted(k for k in now if k in before and _jsonable(now[k]["value"]) != before[k]
                  or k not in before)


def _first_stage_using(names: Iterable[str], stages: Sequence[type[Stage]]) -> tuple[int, str] | None:
    """(index, variable) of the earliest stage that declares one of `names` (flow-wide
    variables count as read by the first stage)."""
    flow_wide = {v.name for v in FLOW_VARIABLES}
    best: tuple[int, str] | None = None
    for name in names:
        if name in flow_wide:
            idx = 0
        else:
            idx = next((i for i, st in enumerate(stages) if any(v.name == name for v in st.config_vars)), None)
            if idx is None:
                continue
        if best is None or idx < best[0]:
            best = (idx, name)
    return best


def _write_status(path: Path, run_info: dict[str, Any]) -> None:
    """run.json, atomically; if the disk is full, at least overwrite the old file in place so a
    run never keeps saying `running` after it stopped."""
    try:
        write_json(path, run_info)
    except OSError:
        import json

        try:
            with open(path, "w") as fh:
                fh.write(json.dumps({k: run_info.get(k) for k in ("status", "design", "tag", "error",
                                                                     "failed_stage", "finished")}))
        except OSError:
            pass


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
    run_dir = run_directory(runs_root, design, setup.platform.name, tag if tag is not None else default_tag())
    dir_names = stage_dir_names(stages)

    first = _resume_point(setup, stages, dir_names, run_dir, first, from_stage)
    lock = RunLock(run_dir)
    try:
        return _run_locked(setup, stages, dir_names, run_dir, Path(runs_root).resolve(), first, last,
                           backend=backend, dry_run=dry_run, progress=progress, from_stage=from_stage)
    finally:
        lock.release()


def _resume_point(setup: FlowSetup, stages: list[type[Stage]], dir_names: list[str], run_dir: Path, first: int,
                  from_stage: str | None) -> int:
    """The stage a `--from` run really starts at (earlier when a variable an earlier stage
    declares changed since the run), checked before anything is written."""
    if first == 0:
        return 0
    old_config = _load_json(run_dir / "config.resolved.json")
    rerun = _first_stage_using(_changed_variables(old_config, setup.config), stages)
    if rerun is not None and rerun[0] < first:
        # resuming past a stage that reads a changed variable would keep its stale result
        logging.getLogger("vhflow").warning(
            "--from %s: %s changed since the run, so stage %s (which declares it) re-runs too",
            from_stage, rerun[1], stages[rerun[0]].id)
        first = rerun[0]
    if first > 0:
        prev = run_dir / dir_names[first - 1] / STATE_FILE
        if not prev.exists():
            raise ConfigError(
                f"--from {stages[first].id}: stage {stages[first - 1].id} has not finished in {run_dir} (no {prev.name})"
            )
    return first


def _run_locked(setup: FlowSetup, stages: list[type[Stage]], dir_names: list[str], run_dir: Path,
                runs_root: Path, first: int, last: int, *, backend: str, dry_run: bool,
                progress: Callable[[str, str, float | None], None] | None, from_stage: str | None) -> RunResult:
    design = setup.config["DESIGN_NAME"]
    state = State()
    if first > 0:
        prev = run_dir / dir_names[first - 1] / STATE_FILE
        try:
            state = State.load(prev, base=run_dir)
        except (OSError, ValueError) as exc:
            raise FormatError(prev, None, f"cannot resume: unreadable state ({exc})") from None
    try:
        if first == 0:
            _remove_inside(run_dir, runs_root)  # a fresh run with an existing tag starts over
        run_dir.mkdir(parents=True, exist_ok=True)
        # Later stages' results are stale once an earlier one reruns.
        for i in range(first, len(stages)):
            _remove_inside(run_dir / dir_names[i], run_dir)
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
    except OSError as exc:
        raise RunDirError(f"cannot write the run directory {run_dir}: {exc.strerror or exc}") from None
    run_info: dict[str, Any] = {
        "status": "running",
        "design": design,
        "tag": run_dir.name,
        "backend": backend,
        "platform": setup.platform.name,
        "started": _now(),
        "finished": None,
        "vhflow_version": __version__,
        "stage_order": [s.id for s in stages],
        "stages": [
            {"id": s.id, "name": s.name or s.id, "dir": dir_names[i], "status": "pending",
             "seconds": None, "error": None}
            for i, s in enumerate(stages)
        ],
    }
    old = _load_json(run_dir / "run.json")
    if first > 0 and old:
        by_id = {s["id"]: s for s in old.get("stages", []) if isinstance(s, dict) and "id" in s}
        for i in range(first):
            prev_info = by_id.get(stages[i].id, {})
            run_info["stages"][i].update(status="done", seconds=prev_info.get("seconds"))
    metrics: dict[str, Any] = dict(state.metrics)
    try:
        write_json(run_dir / "run.json", run_info)
        write_run_metrics(run_dir, metrics)
        log = _RunLog(run_dir)
    except OSError as exc:
        _write_status(run_dir / "run.json", {**run_info, "status": "failed", "error": str(exc)})
        raise RunDirError(f"cannot write the run directory {run_dir}: {exc.strerror or exc}") from None

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
            t0, c0 = time.perf_counter(), _cpu_seconds()
            try:
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
                stage = stage_cls()
                _call_hook(setup.pm, "vhflow_pre_stage", stage=stage, state=state, ctx=ctx)
                result = stage.run(state, ctx)
                if not isinstance(result, StageResult):
                    raise StageError(f"stage {stage_cls.id} returned {type(result).__name__}, not StageResult")
                _call_hook(setup.pm, "vhflow_post_stage", stage=stage, state=state, ctx=ctx, result=result)
                missing = [v for v in result.views.values() if not Path(v).exists()]
                if missing:
                    raise StageError(f"stage {stage_cls.id} declared outputs that do not exist: {missing}")
                state = state.updated(result.views, result.metrics)
                state.save(stage_dir / STATE_FILE, base=run_dir)  # the done marker, written last
            except BaseException as exc:
                seconds = time.perf_counter() - t0
                message = _one_line(exc)
                interrupted = isinstance(exc, KeyboardInterrupt)
                status = "interrupted" if interrupted else "failed"
                with contextlib.suppress(Exception):
                    log.logger.error("stage %s %s after %.1f s: %s", stage_cls.id, status, seconds, message)
                    if not isinstance(exc, VhflowError | KeyboardInterrupt):
                        log.logger.error("%s", "".join(traceback.format_exception(exc)))
                info.update(status=status, seconds=round(seconds, 3), error=message)
                run_info.update(status=status, finished=_now(), failed_stage=stage_cls.id, error=message)
                _write_status(run_dir / "run.json", run_info)
                with contextlib.suppress(OSError):
                    write_run_metrics(run_dir, metrics)
                if progress:
                    progress(stage_cls.id, "failed", seconds)
                if interrupted or (isinstance(exc, VhflowError) and exc.exit_code == 2):
                    raise  # bad input keeps its own one-line message and exit code
                if isinstance(exc, OSError):
                    raise RunDirError(f"stage {stage_cls.id} failed: cannot write its files "
                                      f"({exc.strerror or exc}) (run: {run_dir})") from exc
                raise StageError(f"stage {stage_cls.id} failed: {message} (run: {run_dir})") from exc
            seconds = time.perf_counter() - t0
            # CPU beside wall: on a shared machine wall time says more about the neighbours
            info.update(status="done", seconds=round(seconds, 3), cpu_seconds=round(_cpu_seconds() - c0, 3))
            metrics = dict(state.metrics)
            write_json(run_dir / "run.json", run_info)
            write_run_metrics(run_dir, metrics)
            log.logger.info("stage %s: done in %.1f s", stage_cls.id, seconds)
            if progress:
                progress(stage_cls.id, "done", seconds)
        log.end_stage()

        for extra in _call_hook(setup.pm, "vhflow_metrics", state=state, run_dir=run_dir):
            metrics.update(extra or {})
        metrics["flow__stages__completed"] = sum(1 for s in run_info["stages"] if s["status"] == "done")
        write_run_metrics(run_dir, metrics)
        complete = last == len(stages) - 1
        status = "completed" if complete else "stopped"
        violations = signoff_violations({**metrics, **to_orfs(metrics)}) if not dry_run else []
        if complete and violations:
            status = "completed_with_violations"
        if dry_run:
            status = "rendered"  # scripts only: nothing was placed, routed or signed off
        # `outcome` is what the report shows; `status` becomes it only once report.html exists,
        # so a run killed while reporting never looks complete
        run_info.update(status="reporting", outcome=status, violations=violations, stopped_after=stages[last].id)
        write_json(run_dir / "run.json", run_info)
        report = _build_report(run_dir, setup.pm, log.logger)
        run_info.update(status=status, finished=_now())
        write_json(run_dir / "run.json", run_info)
        log.logger.info("run %s: %s", run_dir, status)
        return RunResult(run_dir, status, to_orfs(metrics), report, violations)
    except BaseException as exc:
        if run_info["status"] not in ("failed", "interrupted"):
            interrupted = isinstance(exc, KeyboardInterrupt)
            run_info.update(status="interrupted" if interrupted else "failed", finished=_now(),
                            error=_one_line(exc))
            _write_status(run_dir / "run.json", run_info)
        if isinstance(exc, OSError):
            raise RunDirError(f"cannot write the run directory {run_dir}: {exc.strerror or exc}") from exc
        raise
    finally:
        with contextlib.suppress(Exception):
            log.close()


def _cpu_seconds() -> float:
    """CPU time of this process (all threads) and of the children it waited for (Yosys)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _call_hook(pm: pluggy.PluginManager, name: str, **kwargs: Any) -> list[Any]:
    """Call a hook; an exception raised by a plugin names the plugin (pluggy does not)."""
    try:
        return getattr(pm.hook, name)(**kwargs)
    except VhflowError:
        raise
    except Exception as exc:
        raise PluginError(plugin_of_exception(pm, exc, name) or "?", name, exc) from exc


def plugin_of_exception(pm: pluggy.PluginManager, exc: BaseException, hook: str | None = None) -> str | None:
    """The plugin whose hook implementation raised `exc`: the outermost traceback frame that is
    one of the implementations' functions (its code object), else one in a plugin's module."""
    codes: dict[Any, str] = {}
    modules: dict[str, str] = {}
    callers = [getattr(pm.hook, hook)] if hook else [getattr(pm.hook, n) for n in dir(pm.hook) if not n.startswith("_")]
    for caller in callers:
        for impl in caller.get_hookimpls():
            codes[getattr(impl.function, "__code__", None)] = impl.plugin_name
            modules.setdefault(getattr(impl.function, "__module__", ""), impl.plugin_name)
    tb = exc.__traceback__
    by_module = None
    while tb is not None:
        if tb.tb_frame.f_code in codes:
            return codes[tb.tb_frame.f_code]
        by_module = by_module or modules.get(tb.tb_frame.f_globals.get("__name__", ""))
        tb = tb.tb_next
    return by_module


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
