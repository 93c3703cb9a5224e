"""The `openroad` backend's stage: ORFS-style scripts for floorplan → sign-off, run by OpenROAD.

With `--backend openroad` the flow keeps our synthesis and the stages that run before placement
(the embedded floorplan gives the core geometry FINE-VH's island fences are cut from), then this
stage renders `config.mk`, the SDC, UPF and one Tcl script per OpenROAD step
(`flow/backends/templates`), runs `openroad` on each with a timeout, and parses its reports into
the same metric keys the embedded flow writes. `--dry-run` stops after rendering: the run is then
`rendered`, never `completed`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from flow.stage import Stage, StageContext, StageResult, Variable
from flow.state import State


class OpenroadStage(Stage):
    id = "openroad"
    name = "OpenROAD: floorplan, PDN, place, CTS, route, sign-off"
    inputs = ("verilog", "sdc")
    outputs = ("openroad_manifest",)
    config_vars = (
        Variable("OPENROAD_TIMEOUT_S", float, "Wall-time limit of each OpenROAD script.", 3600.0, unit="s",
                 source="openroad"),
    )

    def run(self, state: State, ctx: StageContext) -> StageResult:
        from flow.backends import openroad

        fences = state.get("fences")
        islands = json.loads(Path(fences).read_text()) if fences is not None else None
        config: Any = ctx.config
        if islands is not None and ctx.config["DIE_AREA"] is None and "placement" in state:
            # island fences (and pre-placed cells) are cut from our floorplan: give OpenROAD the
            # same die and core rather than letting it size its own from the utilisation
            fp = np.load(state["placement"])
            config = {k: ctx.config[k] for k in ctx.config}
            config["DIE_AREA"] = [round(float(v) * 1e6, 4) for v in fp["die"]]
            config["CORE_AREA"] = [round(float(v) * 1e6, 4) for v in fp["core"]]
        files = openroad.render(config, ctx.platform, ctx.stage_dir, netlist=state["verilog"],
                                islands=islands, upf=state.get("upf"))
        scripts = [k for k in openroad.STAGES if k in files]
        views = {"openroad_manifest": files["manifest"]}
        if ctx.dry_run:
            ctx.log.info("dry run: rendered %s in %s", ", ".join(p.name for p in files.values()), ctx.stage_dir)
            return StageResult(views=views, metrics={"openroad__scripts__rendered": len(scripts)})
        openroad.run(files, run_dir=ctx.stage_dir, timeout_s=ctx.config["OPENROAD_TIMEOUT_S"], log=ctx.log.info)
        metrics = openroad.metrics(files, ctx.stage_dir)
        metrics["openroad__scripts__rendered"] = len(scripts)
        return StageResult(views=views, metrics=metrics)


def openroad_flow(stages: list[type[Stage]]) -> list[type[Stage]]:
    """The embedded stage list cut before placement, then the OpenROAD stage."""
    ids = [s.id for s in stages]
    cut = ids.index("place") if "place" in ids else len(stages)
    return [*stages[:cut], OpenroadStage]
