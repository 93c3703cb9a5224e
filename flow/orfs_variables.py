"""ORFS variables accepted for compatibility with existing ORFS `config.mk` files.

Real designs come with ORFS settings the embedded engines have no use for (macro halos, router
knobs, ...). Rejecting them would make porting a design a chore; accepting them silently would
hide typos. So each one is declared here: the openroad backend exports it to `config.mk`, the
embedded backend ignores it and says so in the log and in `config.resolved.json`.
"""

from __future__ import annotations

from pathlib import Path

from flow.stage import Variable

_DOC = "ORFS variable: exported to config.mk by the openroad backend; not used by the embedded backend."

_ORFS_SCALARS = (
    "ABC_CLOCK_PERIOD_IN_PS", "CELL_PAD_IN_SITES_GLOBAL_PLACEMENT", "CELL_PAD_IN_SITES_DETAIL_PLACEMENT",
    "CTS_BUF_DISTANCE", "CTS_CLUSTER_SIZE", "CTS_CLUSTER_DIAMETER", "DESIGN_NICKNAME", "DETAILED_ROUTE_END_ITERATION",
    "EQUIVALENCE_CHECK", "GPL_ROUTABILITY_DRIVEN", "GPL_TIMING_DRIVEN", "HOLD_SLACK_MARGIN", "SETUP_SLACK_MARGIN",
    "IO_PLACER_H", "IO_PLACER_V", "MACRO_PLACE_HALO", "MACRO_PLACE_CHANNEL", "MAX_ROUTING_LAYER",
    "MIN_ROUTING_LAYER", "PLACE_PINS_ARGS", "PLACE_SITE", "REMOVE_ABC_BUFFERS", "ROUTING_LAYER_ADJUSTMENT",
    "SKIP_GATE_CLONING", "SKIP_INCREMENTAL_REPAIR", "SKIP_LAST_GASP", "SYNTH_HIERARCHICAL", "TNS_END_PERCENT",
    "REMOVE_CELLS_FOR_EQY", "MAX_UNGROUP_SIZE", "CTS_BUF_CELL", "GLOBAL_ROUTE_ARGS",
    "DETAILED_ROUTE_ARGS", "RTLMP_FLOW", "SYNTH_MEMORY_MAX_BITS",
    "RECOVER_POWER", "MAX_FANOUT", "FLOW_VARIANT", "USE_FILL",
)
_ORFS_FILES = (
    "ADDITIONAL_LEFS", "ADDITIONAL_LIBS", "ADDITIONAL_GDS", "FASTROUTE_TCL", "PDN_TCL", "IO_CONSTRAINTS",
    "MACRO_PLACEMENT", "MACRO_PLACEMENT_TCL",
)

ORFS_COMPAT_VARIABLES: tuple[Variable, ...] = tuple(
    Variable(name, str | int | float | bool | None, _DOC, None, source="orfs") for name in _ORFS_SCALARS
) + tuple(Variable(name, list[Path] | Path | None, _DOC, None, source="orfs") for name in _ORFS_FILES)
