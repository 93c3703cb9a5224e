"""Design-space sweeps: every point is an ordinary run directory; results in one table.

A sweep file (TOML) names a base design config, the parameters to vary and the metrics to
collect:

    base = "../designs/gcd/config.toml"     # relative to the sweep file
    mode = "grid"                           # grid (all combinations) | list (zip) | random
    samples = 8                             # random: how many points
    seed = 1                                # random: seed
    to_stage = "place"                      # optional: stop each run early
    metrics = ["detailedplace__hpwl", "finish__power__total"]
    pareto = ["detailedplace__hpwl", "max:finish__timing__setup__ws"]   # minimise, or max: to maximise
    [parameters]
    CORE_UTILIZATION = [30, 40, 50]         # grid/list: values; random: [min, max] (uniform)
    PLACE_DENSITY = [0.6, 0.7]

Points run on a local process pool or, unchanged, as Ray tasks (the engine ORFS AutoTuner uses),
locally (`ray.init(num_cpus=N)`) or on a cluster (`--address`). A failed point is recorded with
its error and does not stop the sweep; a re-run skips points whose run directory completed.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flow.errors import ConfigError, FormatError
from flow.metrics import orfs_name, to_orfs


@dataclass
class SweepSpec:
    path: Path
    base: Path
    mode: str
    parameters: dict[str, list[Any]]
    metrics: list[str]
    pareto: list[str]
    to_stage: str | None
    samples: int
    seed: int

    @property
    def name(self) -> str:
        return self.path.stem


def read_sweep(path: Path) -> SweepSpec:
    path = Path(path).resolve()
    try:
        doc = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: sweep file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sweep file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise FormatError(path, None, f"invalid TOML: byte {exc.start} is not UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise FormatError(path, int(m.group(1)) if m else None, f"invalid TOML: {exc}") from None
    unknown = set(doc) - {"base", "mode", "parameters", "metrics", "pareto", "to_stage", "samples", "seed"}
    if unknown:
        raise ConfigError(f"{path}: unknown sweep key(s) {', '.join(sorted(unknown))}")
    if "base" not in doc or not doc.get("parameters"):
        raise ConfigError(f"{path}: a sweep needs 'base' and a [parameters] table")
    mode = doc.get("mode", "grid")
    if mode not in ("grid", "list", "random"):
        raise ConfigError(f"{path}: mode {mode!r} must be grid, list or random")
    params = {k: v if isinstance(v, list) else [v] for k, v in doc["parameters"].items()}
    if mode == "list" and len({len(v) for v in params.values()}) != 1:
        raise ConfigError(f"{path}: mode = list needs parameter lists of equal length")
    if mode == "random" and any(len(v) != 2 for v in params.values()):
        raise ConfigError(f"{path}: mode = random needs [min, max] per parameter")
    base = (path.parent / doc["base"]).resolve()
    if not base.is_file():
        raise ConfigError(f"{path}: base config {base} not found")
    metrics = [orfs_name(m) for m in doc.get("metrics", [])]  # stage names accepted: metrics.json's are used
    pareto = [("max:" + orfs_name(o[4:])) if o.startswith("max:") else orfs_name(o) for o in doc.get("pareto", [])]
    return SweepSpec(path, base, mode, params, metrics, pareto,
                     doc.get("to_stage"), int(doc.get("samples", 8)), int(doc.get("seed", 0)))


def points(spec: SweepSpec) -> list[dict[str, Any]]:
    names = list(spec.parameters)
    if spec.mode == "grid":
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*spec.parameters.values())]
    if spec.mode == "list":
        return [dict(zip(names, combo, strict=True)) for combo in zip(*spec.parameters.values(), strict=True)]
    rng = random.Random(spec.seed)
    out = []
    for _ in range(spec.samples):
        p = {}
        for k, (lo, hi) in spec.parameters.items():
            p[k] = rng.randint(lo, hi) if isinstance(lo, int) and isinstance(hi, int) else round(rng.uniform(lo, hi), 6)
        out.append(p)
    return out


def point_tag(point: dict[str, Any]) -> str:
    """A stable, file-system-safe tag from the parameter values."""
    text = "_".join(f"{k}-{v}" for k, v in point.items())
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text)


def _override(k: str, v: Any) -> str:
    return f"{k}={json.dumps(v) if isinstance(v, str | list) else v}"


def shared_synthesis(base: Path, runs_dir: Path) -> str | None:
    """Synthesise the base config once for the whole sweep (None if that fails): points whose
    parameters synthesis does not read start from it instead of re-synthesising."""
    from flow.runner import prepare, run_flow

    try:
        first = prepare(base).stages[0].id
        return str(run_flow(base, tag="shared-synth", runs_dir=runs_dir, to_stage=first).run_dir)
    except Exception:  # each point then synthesises itself and reports its own error
        return None


def _start_from_seed(base: Path, overrides: list[str], runs_dir: Path, tag: str, seed: Path) -> str | None:
    """Copy the shared synthesis into a new point's run directory; the stage to resume from.
    The runner re-runs synthesis itself when the point changes a variable synthesis reads."""
    import shutil

    from flow.runner import prepare, run_directory

    setup = prepare(base, overrides)
    if len(setup.stages) < 2 or not (seed / "run.json").is_file():
        return None
    run_dir = run_directory(runs_dir, setup.config["DESIGN_NAME"], setup.platform.name, tag)
    if run_dir.exists():
        return None  # a previous attempt: start over as usual
    shutil.copytree(seed, run_dir, ignore=shutil.ignore_patterns("report.html", "*.lock", ".lock*"))
    return setup.stages[1].id


def run_point(base: str, runs_dir: str, tag: str, overrides: list[str], to_stage: str | None,
              seed: str | None = None) -> dict[str, Any]:
    """Run one point; never raises (a failure is a result). Importable by worker processes."""
    from flow.runner import run_flow

    try:
        from_stage = _start_from_seed(Path(base), overrides, Path(runs_dir), tag, Path(seed)) if seed else None
        res = run_flow(Path(base), tag=tag, overrides=overrides, runs_dir=Path(runs_dir), to_stage=to_stage,
                       from_stage=from_stage)
        return {"status": res.status, "run_dir": str(res.run_dir), "metrics": res.metrics, "error": None}
    except Exception as exc:  # the sweep goes on; the error is in the table
        return {"status": "failed", "run_dir": None, "metrics": {}, "error": f"{type(exc).__name__}: {exc}"}


def finished(run_dir: Path, to_stage: str | None) -> dict[str, Any] | None:
    try:
        info = json.loads((run_dir / "run.json").read_text())
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    want = "stopped" if to_stage else "completed"
    if info.get("status") in (want, "completed", "completed_with_violations") and (to_stage is None or info.get("stopped_after") == to_stage):
        return {"status": info["status"], "run_dir": str(run_dir), "metrics": metrics, "error": None, "skipped": True}
    return None


def run_sweep(spec: SweepSpec, out_dir: Path, executor: str = "local", jobs: int = 2, address: str | None = None,
              progress: Callable[[str, dict[str, Any]], None] | None = None):
    """Run the missing points and write `sweep.csv`, `pareto.png` and `report.html` in out_dir."""
    import pandas as pd

    out_dir = Path(out_dir)
    runs_dir = out_dir / "runs"
    design, platform = _design_and_platform(spec.base)
    pts = points(spec)
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for p in pts:
        tag = point_tag(p)
        done = finished(runs_dir / design / str(p.get("PLATFORM", platform)) / tag, spec.to_stage)
        if done is not None:
            results[tag] = done
            if progress:
                progress(tag, done)
        else:
            todo.append((tag, [_override(k, v) for k, v in p.items()]))
    seed = shared_synthesis(spec.base, out_dir / "shared") if len(todo) > 1 and spec.to_stage != "synth" else None
    args = [(str(spec.base), str(runs_dir), tag, ov, spec.to_stage, seed) for tag, ov in todo]
    if executor == "local":
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            for (tag, _), res in zip(todo, pool.map(run_point, *zip(*args, strict=True)) if args else [], strict=True):
                results[tag] = res
                if progress:
                    progress(tag, res)
    elif executor == "ray":
        import ray

        started = False
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=None if address else jobs, include_dashboard=False,
                     log_to_driver=False)
            started = True
        try:
            remote = ray.remote(num_cpus=1)(run_point)
            refs = {tag: remote.remote(*a) for (tag, _), a in zip(todo, args, strict=True)}
            for tag, ref in refs.items():
                results[tag] = ray.get(ref)
                if progress:
                    progress(tag, results[tag])
        finally:
            if started:
                ray.shutdown()
    else:
        raise ConfigError(f"unknown executor {executor!r} (local, ray)")
    rows = []
    for p in pts:
        tag = point_tag(p)
        r = results[tag]
        row = {"tag": tag, **p, "status": r["status"], "error": r.get("error"), "skipped": bool(r.get("skipped")),
               "run_dir": r.get("run_dir")}
        for m in spec.metrics or sorted(r["metrics"]):
            row[m] = to_orfs(r["metrics"]).get(m)  # metrics.json names and units
        rows.append(row)
    table = pd.DataFrame(rows)
    if spec.pareto:
        table["pareto"] = pareto_mask(table, spec.pareto)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "sweep.csv", index=False)
    _sweep_report(spec, table, out_dir)
    return table


def _design_and_platform(base: Path) -> tuple[str, str]:
    """The base config's DESIGN_NAME and PLATFORM: a point's run is `runs/<design>/<platform>/<tag>`."""
    from flow.config import load_toml

    data, _ = load_toml(base)
    return str(data.get("DESIGN_NAME", base.parent.name)), str(data.get("PLATFORM", ""))


def pareto_mask(table, objectives: list[str]) -> list[bool]:
    """Non-dominated rows (completed ones only); `max:key` maximises, plain keys minimise."""
    import numpy as np

    cols = [(o[4:], -1.0) if o.startswith("max:") else (o, 1.0) for o in objectives]
    ok = (table["status"].isin(["completed", "completed_with_violations", "stopped"])).to_numpy()
    vals = np.full((len(table), len(cols)), np.inf)
    for j, (c, sign) in enumerate(cols):
        if c in table:
            v = table[c].to_numpy(dtype=float)
            vals[:, j] = np.where(np.isfinite(v), v * sign, np.inf)
    mask = []
    for i in range(len(table)):
        if not ok[i] or not np.all(np.isfinite(vals[i])):
            mask.append(False)
            continue
        dominated = np.any(np.all(vals <= vals[i], axis=1) & np.any(vals < vals[i], axis=1) & ok)
        mask.append(not dominated)
    return mask


def _sweep_report(spec: SweepSpec, table, out_dir: Path) -> Path:
    from flow.report.sweep_report import write_sweep_report

    rows = table.astype(object).where(table.notna(), None).to_dict("records")
    fixed = {"tag", "status", "error", "skipped", "run_dir", "pareto", *spec.parameters}
    metrics = list(spec.metrics) or [c for c in table.columns if c not in fixed]
    return write_sweep_report(spec.name, spec.base, list(spec.parameters), metrics, spec.pareto, rows, out_dir)
