"""What `vhflow platforms|plugins|variables --json` print, and `variables --stage` selection."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flow.errors import ConfigError


def platforms_json(extra: Iterable[Path] = ()) -> str:
    from flow.platform import load_platform, platform_config_files, platform_search_path

    out: dict[str, Any] = {"units": {"voltage_v": "V", "temperature_c": "°C", "width_um": "µm", "height_um": "µm"},
                           "search_path": [str(p) for p in platform_search_path()], "platforms": []}
    for name in platform_config_files(extra):
        plat = load_platform(name, extra)
        out["platforms"].append({
            "name": name, "description": plat.description, "root": str(plat.root) if plat.root else None,
            "complete": bool(plat.root) and not plat.missing_files(), "missing": list(plat.missing_files()),
            "config": str(plat.config_path), "default_corner": plat.default_corner,
            "corners": [{"name": c.name, "process": c.process, "voltage_v": c.voltage, "temperature_c": c.temperature,
                         "liberty": [str(p) for p in c.liberty], "missing": list(c.missing)}
                        for c in plat.corners.values()],
            "absent_corners": {k: list(v) for k, v in plat.absent_corners.items()},
            "site": {"name": plat.site.name, "width_um": round(plat.site.width * 1e6, 6),
                     "height_um": round(plat.site.height * 1e6, 6)},
            "tech_lef": str(plat.tech_lef) if plat.tech_lef else None,
            "cell_lefs": [str(p) for p in plat.cell_lefs],
        })
    return json.dumps(out, indent=2, ensure_ascii=False)


def plugins_json(pm: Any) -> str:
    from flow.plugin_manager import plugin_list
    from flow.runner import build_flow

    flow = build_flow(pm)
    return json.dumps({"plugins": [{"name": n, "from": o} for n, o in plugin_list(pm)],
                       "stages": [{"id": s.id, "name": getattr(s, "name", "") or s.id} for s in flow]}, indent=2, ensure_ascii=False)


def select_variables(pm: Any, stage: str | None) -> dict[str, Any]:
    """Every declared variable, or those stage `stage` reads; an unknown stage is bad input."""
    from flow.config import did_you_mean
    from flow.runner import all_variables, build_flow

    flow = build_flow(pm)
    variables = all_variables(pm, flow)
    if stage is None:
        return variables
    stages = {s.id: s for s in flow}
    if stage not in stages:
        raise ConfigError(f"--stage {stage!r}: no such stage{did_you_mean(stage, stages)} (stages: {', '.join(stages)})")
    names = {v.name for v in stages[stage].config_vars} | {n for n, v in variables.items() if v.source == stage}
    return {n: variables[n] for n in sorted(names) if n in variables}


def variables_json(variables: dict[str, Any]) -> str:
    from flow.config import _jsonable, _type_name

    return json.dumps({"variables": [
        {"name": n, "type": _type_name(v.type), "required": v.required,
         "default": None if v.required else _jsonable(v.default), "unit": v.unit, "declared_by": v.source, "doc": v.doc}
        for n, v in sorted(variables.items())]}, indent=2, default=str, ensure_ascii=False)
