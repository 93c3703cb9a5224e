"""Every vhflow hook specification, in one module (as pytest keeps its hookspecs).

Plugins implement these with `@hookimpl` (from `flow.plugin_manager` or `pluggy.HookimplMarker
("vhflow")`) and register through the entry-point group `vhflow.plugins`.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("vhflow")


@hookspec
def vhflow_add_stages(flow: Any) -> None:
    """Insert, replace or remove stages in `flow` (a `flow.stage.FlowSpec`).

    Called once per run after the core stages are listed. Stages that should only run when a
    design opts in override `Stage.enabled(config)`.
    """


@hookspec
def vhflow_config_variables() -> list[Any]:
    """Return `flow.stage.Variable`s this plugin adds (beyond those its stages declare)."""


@hookspec
def vhflow_pre_stage(stage: Any, state: Any, ctx: Any) -> None:
    """Called before a stage runs; may observe the State or write extra files in `ctx.stage_dir`."""


@hookspec
def vhflow_post_stage(stage: Any, state: Any, ctx: Any, result: Any) -> None:
    """Called after a stage returned `result` (a StageResult) and before it is marked done.

    Implementations may add views or metrics to `result`; raising fails the stage.
    """


@hookspec
def vhflow_metrics(state: Any, run_dir: Any) -> dict[str, Any]:
    """Return extra metrics (ORFS-style keys) computed from the final State of a run."""


@hookspec
def vhflow_report_sections(state: Any, run_dir: Any, config: Any) -> list[Any]:
    """Return `flow.report.sections.ReportSection`s to add to the run's HTML report."""


@hookspec
def vhflow_cli(app: Any) -> None:
    """Add sub-commands to the `vhflow` typer application `app`."""


@hookspec
def vhflow_platforms() -> list[Any]:
    """Return paths of platform TOML files (same schema as `pdk_configs/*.toml`)."""


@hookspec
def vhflow_activity_sources() -> dict[str, Any]:
    """Return {file suffix: reader} for extra activity formats.

    A reader is `reader(path, netlist, **options) -> flow.engines.activity.Activity`.
    """
