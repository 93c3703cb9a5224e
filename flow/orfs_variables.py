"""ORFS variables: every name of ORFS's `variables.yaml` is known to vhflow.

Real designs come with ORFS settings the embedded engines have no use for (macro halos, router
knobs, ...). Rejecting them would make porting a design a chore; accepting them silently would
hide typos. So each one is declared here: a stage or plugin that uses one declares it itself
(and owns it); the others are accepted, exported to `config.mk` by the openroad backend, and
named in one warning per run by the embedded backend, which ignores them. `config.mk` files in
ORFS Make syntax are read by `flow.formats.orfs_mk` and mapped onto the declared types here.
"""

from __future__ import annotations

import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flow.errors import ConfigError, FormatError
from flow.stage import Variable

_DOC = "ORFS variable: exported to config.mk by the openroad backend; not used by the embedded backend."

#: Every variable of ORFS `flow/scripts/variables.yaml` (249 names).
ORFS_VARIABLE_NAMES: tuple[str, ...] = (
    "ABC_AREA", "ABC_CLOCK_PERIOD_IN_PS", "ABC_DRIVER_CELL", "ABC_LOAD_IN_FF", "ABSTRACT_SOURCE",
    "ADDER_MAP_FILE", "ADDITIONAL_FILES", "ADDITIONAL_GDS", "ADDITIONAL_LEFS", "ADDITIONAL_LIBS",
    "ADDITIONAL_MEMORIES", "ADDITIONAL_SITES", "ASAP7_USE_VT", "AUTO_MEMORIES", "BALANCE_ROWS", "BLOCKS",
    "BUFFER_PORTS_ARGS", "CACHED_REPORTS", "CAP_MARGIN", "CDL_FILE", "CDL_FILES",
    "CELL_PAD_IN_SITES_DETAIL_PLACEMENT", "CELL_PAD_IN_SITES_GLOBAL_PLACEMENT", "CLKGATE_MAP_FILE",
    "CLUSTER_FLOPS", "CLUSTER_FLOPS_ARGS", "CORE_AREA", "CORE_ASPECT_RATIO", "CORE_MARGIN",
    "CORE_UTILIZATION", "CORNER", "CORNERS", "CTS_ARGS", "CTS_BUF_DISTANCE", "CTS_BUF_LIST",
    "CTS_CLUSTER_DIAMETER", "CTS_CLUSTER_SIZE", "CTS_LIB_NAME", "CTS_SNAPSHOT", "CTS_SNAPSHOTS",
    "DESIGN_NAME", "DESIGN_NICKNAME", "DETAILED_METRICS", "DETAILED_ROUTE_ARGS",
    "DETAILED_ROUTE_END_ITERATION", "DETAIL_PLACEMENT_ARGS", "DFF_LIB_FILE", "DFF_MAP_FILE", "DIE_AREA",
    "DISABLE_VIA_GEN", "DONT_BUFFER_PORTS", "DONT_USE_CELLS", "DPO_MAX_DISPLACEMENT",
    "EARLY_SIZING_CAP_RATIO", "ENABLE_DPO", "ENABLE_PLACE_REPAIR_TIMING", "ENABLE_RESISTANCE_AWARE",
    "FASTROUTE_TCL", "FILL_CELLS", "FILL_CONFIG", "FLOORPLAN_DEF", "FLOW_VARIANT", "FOOTPRINT",
    "FOOTPRINT_TCL", "GDS_ALLOW_EMPTY", "GDS_FILES", "GENERATE_ARTIFACTS_ON_FAILURE",
    "GLOBAL_PLACEMENT_ARGS", "GLOBAL_ROUTE_ARGS", "GLOBAL_ROUTE_USE_CUGR", "GND_NETS_VOLTAGES",
    "GPL_KEEP_OVERFLOW", "GPL_RANDOM_SEED", "GPL_ROUTABILITY_DRIVEN", "GPL_TIMING_DRIVEN", "GRT_SEED",
    "GUI_TIMING", "HOLD_SLACK_MARGIN", "INFER_CLKGATES", "IO_CONSTRAINTS", "IO_PLACER_H", "IO_PLACER_V",
    "IR_DROP_LAYER", "KEEP_VARS", "KLAYOUT_TECH_FILE", "LATCH_MAP_FILE", "LAYER_PARASITICS_FILE",
    "LEC_AUX_VERILOG_FILES", "LEC_CHECK", "LIB_FILES", "LIB_MODEL", "MACRO_BLOCKAGE_HALO",
    "MACRO_EXTENSION", "MACRO_PLACEMENT_TCL", "MACRO_PLACE_HALO", "MACRO_ROWS_HALO_X", "MACRO_ROWS_HALO_Y",
    "MACRO_WRAPPERS", "MAKE_TRACKS", "MATCH_CELL_FOOTPRINT", "MAX_PLACE_STEP_COEF",
    "MAX_REPAIR_ANTENNAS_ITER_DRT", "MAX_REPAIR_ANTENNAS_ITER_GRT", "MAX_ROUTING_LAYER",
    "MIN_BUF_CELL_AND_PORTS", "MIN_CLK_ROUTING_LAYER", "MIN_PLACE_STEP_COEF", "MIN_ROUTING_LAYER",
    "NEG_CLKGATE_AND_PORTS", "NUM_CORES", "OPENROAD_HIERARCHICAL", "OPT_POST_GRT_WNS", "OR_K", "OR_SEED",
    "PDN_TCL", "PLACE_DENSITY", "PLACE_DENSITY_LB_ADDON", "PLACE_PINS_ARGS", "PLACE_SITE", "PLATFORM",
    "PLATFORM_TCL", "POST_CTS_TCL", "POST_DENSITY_FILL_TCL", "POST_DETAIL_PLACE_TCL",
    "POST_DETAIL_ROUTE_TCL", "POST_FILLCELL_TCL", "POST_FINAL_REPORT_TCL", "POST_FLOORPLAN_TCL",
    "POST_GLOBAL_PLACE_SKIP_IO_TCL", "POST_GLOBAL_PLACE_TCL", "POST_GLOBAL_ROUTE_TCL",
    "POST_IO_PLACEMENT_TCL", "POST_MACRO_PLACE_TCL", "POST_PDN_TCL", "POST_RESIZE_TCL", "POST_SYNTH_TCL",
    "POST_TAPCELL_TCL", "POS_CLKGATE_AND_PORTS", "PRE_CTS_TCL", "PRE_DENSITY_FILL_TCL",
    "PRE_DETAIL_PLACE_TCL", "PRE_DETAIL_ROUTE_TCL", "PRE_FILLCELL_TCL", "PRE_FINAL_REPORT_TCL",
    "PRE_FLOORPLAN_TCL", "PRE_GLOBAL_PLACE_SKIP_IO_TCL", "PRE_GLOBAL_PLACE_TCL", "PRE_GLOBAL_ROUTE_TCL",
    "PRE_IO_PLACEMENT_TCL", "PRE_MACRO_PLACE_TCL", "PRE_PDN_TCL", "PRE_RESIZE_TCL", "PRE_SYNTH_TCL",
    "PRE_TAPCELL_TCL", "PROCESS", "PWR_NETS_VOLTAGES", "RCX_RULES", "RECOVER_POWER", "REMOVE_ABC_BUFFERS",
    "REMOVE_CELLS_FOR_LEC", "REMOVE_LIBS_FOR_LEC", "REPAIR_PDN_VIA_LAYER", "REPORT_CLOCK_SKEW",
    "ROUTING_LAYER_ADJUSTMENT", "RTLMP_AREA_WT", "RTLMP_ARGS", "RTLMP_BOUNDARY_WT", "RTLMP_FENCE_LX",
    "RTLMP_FENCE_LY", "RTLMP_FENCE_UX", "RTLMP_FENCE_UY", "RTLMP_MAX_INST", "RTLMP_MAX_LEVEL",
    "RTLMP_MAX_MACRO", "RTLMP_MIN_AR", "RTLMP_MIN_INST", "RTLMP_MIN_MACRO", "RTLMP_NOTCH_WT",
    "RTLMP_OUTLINE_WT", "RTLMP_RPT_DIR", "RTLMP_WIRELENGTH_WT", "RULES_JSON", "RUN_LOG_NAME_STEM",
    "RUN_SCRIPT", "SC_LEF", "SDC_FILE", "SDC_GUT", "SEAL_GDS", "SETUP_MOVE_SEQUENCE", "SETUP_SLACK_MARGIN",
    "SET_RC_TCL", "SKIP_ANTENNA_REPAIR", "SKIP_ANTENNA_REPAIR_POST_DRT", "SKIP_ANTENNA_REPAIR_PRE_GRT",
    "SKIP_BUFFER_REMOVAL", "SKIP_CRIT_VT_SWAP", "SKIP_CTS_REPAIR_TIMING", "SKIP_DETAILED_ROUTE",
    "SKIP_GATE_CLONING", "SKIP_INCREMENTAL_REPAIR", "SKIP_LAST_GASP", "SKIP_PIN_SWAP",
    "SKIP_REPAIR_TIE_FANOUT", "SKIP_REPORT_METRICS", "SKIP_VT_SWAP", "SLEW_MARGIN", "SWAP_ARITH_OPERATORS",
    "SYNTH_ARGS", "SYNTH_BLACKBOXES", "SYNTH_CANONICALIZE_TCL", "SYNTH_CHECKPOINT", "SYNTH_GUT",
    "SYNTH_HDL_FRONTEND", "SYNTH_HIERARCHICAL", "SYNTH_HIER_SEPARATOR", "SYNTH_INSBUF",
    "SYNTH_KEEP_MOCKED_MEMORIES", "SYNTH_KEEP_MODULES", "SYNTH_MEMORY_MAX_BITS", "SYNTH_MINIMUM_KEEP_SIZE",
    "SYNTH_MOCK_LARGE_MEMORIES", "SYNTH_NETLIST_FILES", "SYNTH_OPERATIONS_ARGS", "SYNTH_OPT_HIER",
    "SYNTH_REPEATABLE_BUILD", "SYNTH_RETIME_MODULES", "SYNTH_SKIP_KEEP", "SYNTH_SLANG_ARGS",
    "SYNTH_USE_SYN", "SYNTH_WRAPPED_ADDERS", "SYNTH_WRAPPED_MULTIPLIERS", "SYNTH_WRAPPED_OPERATORS",
    "TAPCELL_TCL", "TAP_CELL_NAME", "TECH_LEF", "TIEHI_CELL_AND_PORT", "TIELO_CELL_AND_PORT",
    "TIE_SEPARATION", "TNS_END_PERCENT", "UNSET_ABC9_BOX_CELLS", "USE_FILL", "VERILOG_DEFINES",
    "VERILOG_FILES", "VERILOG_INCLUDE_DIRS", "VERILOG_TOP_PARAMS", "VIA_IN_PIN_MAX_LAYER",
    "VIA_IN_PIN_MIN_LAYER", "WRITE_ODB_AND_SDC_EACH_STAGE", "YOSYS_FLAGS",
)

_ORFS_FILES = (
    "ADDITIONAL_LEFS", "ADDITIONAL_LIBS", "ADDITIONAL_GDS", "FASTROUTE_TCL", "PDN_TCL", "IO_CONSTRAINTS",
    "MACRO_PLACEMENT", "MACRO_PLACEMENT_TCL",
)
#: ORFS variables the embedded backend reads itself although no stage declares them.
_ORFS_MAPPED = {"DESIGN_NICKNAME": "names the design in ORFS paths"}

_SCALAR = str | int | float | bool | list[str] | None

ORFS_COMPAT_VARIABLES: tuple[Variable, ...] = tuple(
    Variable(name, list[Path] | Path | None if name in _ORFS_FILES else _SCALAR, _DOC, None, source="orfs")
    for name in dict.fromkeys((*ORFS_VARIABLE_NAMES, *_ORFS_FILES, "SYNTH_MEMORY_MAX_BITS", "USE_FILL"))
)


def ignored_variables(config: Any) -> list[str]:
    """`NAME (file:line)` of each ORFS variable the user set that no stage or plugin uses."""
    out = []
    for name, var in sorted(config.variables.items()):
        src = config.sources.get(name)
        if var.source == "orfs" and src not in (None, "default") and name not in _ORFS_MAPPED:
            out.append(f"{name} ({src})")
    return out


def ignored_warning(config: Any, backend: str) -> str | None:
    """The one warning a run gives about ORFS variables it accepts but does not use."""
    names = ignored_variables(config)
    if not names or backend == "openroad":
        return None
    return (f"{len(names)} ORFS variable(s) accepted but ignored by the embedded backend "
            f"(exported to config.mk by --backend openroad): {', '.join(names)}")


# ---- config.mk -> typed variables ------------------------------------------------------------
def _design_home(path: Path) -> Path | None:
    env = os.environ.get("DESIGN_HOME")
    if env:
        return Path(env)
    for parent in path.resolve().parents:
        if parent.name == "designs":
            return parent
    orfs = os.environ.get("ORFS_ROOT")
    if orfs and (Path(orfs) / "flow" / "designs").is_dir():
        return Path(orfs) / "flow" / "designs"
    return None


def _members(tp: Any) -> tuple[Any, ...]:
    """The alternatives of a union type, or the type itself."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def _is_list(tp: Any) -> bool:
    return any(typing.get_origin(a) is list for a in _members(tp))


def _is_dict(tp: Any) -> bool:
    return any(typing.get_origin(a) is dict for a in _members(tp))


def _has_path(tp: Any) -> bool:
    if tp is Path:
        return True
    return any(_has_path(a) for a in typing.get_args(tp))


def _scalar(word: str) -> Any:
    if re.fullmatch(r"[-+]?\d+", word):
        return int(word)
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", word):
        return float(word)
    return word


def load_config_mk(path: Path, variables: Mapping[str, Variable]) -> tuple[dict[str, Any], dict[str, int]]:
    """The variables an ORFS `config.mk` sets, typed as vhflow declares them, and their lines.

    Relative paths are taken as ORFS takes them (from the ORFS `flow/` directory, the parent of
    `DESIGN_HOME`) when they exist there, else from the config's directory. Variables the file
    sets without `export` that vhflow does not know are make helpers and are left out; exported
    unknown ones are errors, all reported at once."""
    from flow.config import did_you_mean
    from flow.formats.orfs_mk import read_config_mk
    from flow.platform import platform_search_path

    path = Path(path).resolve()
    design_home = _design_home(path)
    flow_home = design_home.parent if design_home is not None else None
    predefined = {"DESIGN_CONFIG": str(path)}
    if design_home is not None:
        predefined["DESIGN_HOME"] = str(design_home)
        predefined["FLOW_HOME"] = str(flow_home)
    reader_ref: dict[str, Any] = {}

    def platform_dir() -> str:
        name = reader_ref["r"].value("PLATFORM").strip() if "r" in reader_ref else ""
        for base in platform_search_path():
            if name and (base / name).is_dir():
                return str(base / name)
        raise FormatError(path, None, f"$(PLATFORM_DIR): platform {name or '(PLATFORM unset)'} not found in "
                          f"{', '.join(map(str, platform_search_path()))}")

    def unknown_home(name: str) -> Any:
        def fail() -> str:
            line = reader_ref["r"].line if "r" in reader_ref else None
            raise FormatError(path, line, f"$({name}) is not known: {path.name} is not inside an ORFS designs/ "
                              "folder; set DESIGN_HOME (or ORFS_ROOT)")
        return fail

    lazy = {"PLATFORM_DIR": platform_dir}
    if design_home is None:
        lazy |= {"DESIGN_HOME": unknown_home("DESIGN_HOME"), "FLOW_HOME": unknown_home("FLOW_HOME")}
    mk = read_config_mk(path, predefined=predefined, lazy=lazy, reader_hook=reader_ref,
                        base_dir=flow_home if flow_home is not None else path.parent)
    data: dict[str, Any] = {}
    unknown: list[str] = []
    for name, text in mk.values.items():
        line = mk.lines[name]
        var = variables.get(name)
        if var is None:
            if name in mk.exported:
                unknown.append(f"{path}:{line}: unknown configuration variable {name!r}{did_you_mean(name, variables)}")
            continue
        if text == "":
            continue  # make: empty is unset
        words = text.split()
        if _is_dict(var.type):
            if len(words) % 2:
                raise FormatError(path, line, f"{name}: expected NAME VALUE pairs, got {len(words)} words")
            value: Any = {k: _scalar(v) for k, v in zip(words[::2], words[1::2], strict=True)}
        elif var.type == _SCALAR:  # ORFS knobs we pass on: a number, a word or the text as written
            value = _scalar(text) if len(words) == 1 else text
        elif _is_list(var.type):
            value = [_path(w, path.parent, flow_home) if _has_path(var.type) else _scalar(w) for w in words]
        elif _has_path(var.type):
            value = _path(text, path.parent, flow_home)
        else:
            value = _scalar(text) if len(words) == 1 else text
        data[name] = value
    if unknown:
        raise ConfigError("; ".join(unknown))
    return data, dict(mk.lines)


def _path(word: str, config_dir: Path, flow_home: Path | None) -> str:
    p = Path(word)
    if p.is_absolute():
        return str(p)
    if flow_home is not None and (flow_home / p).exists() and not (config_dir / p).exists():
        return str((flow_home / p).resolve())
    return str((config_dir / p).resolve())
