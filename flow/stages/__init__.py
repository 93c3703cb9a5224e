"""The core stages, in flow order. Plugins insert theirs through `vhflow_add_stages`."""

from __future__ import annotations

import importlib

from flow.stage import Stage

#: (module, class) of each core stage, in order.
CORE_STAGES: tuple[tuple[str, str], ...] = (
    ("flow.stages.synth", "SynthStage"),
    ("flow.stages.floorplan", "FloorplanStage"),
    ("flow.stages.place", "PlaceStage"),
    ("flow.stages.repair", "RepairDesignStage"),
    ("flow.stages.cts", "CtsStage"),
    ("flow.stages.repair", "RepairTimingStage"),
    ("flow.stages.route", "RouteStage"),
    ("flow.stages.signoff", "SignoffStage"),
)


def core_stages() -> list[type[Stage]]:
    """The core stage classes, imported on demand (keeps `vhflow --help` fast)."""

    return [getattr(importlib.import_module(mod), cls) for mod, cls in CORE_STAGES]
