"""DEF writer (LEF/DEF 5.8): DIEAREA, ROW, COMPONENTS, PINS, REGIONS and GROUPS for fences.

Enough for KLayout and OpenROAD to read our floorplans and placements; nets are written by name
with their pin connections so a viewer can show them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _esc(name: str) -> str:
    return re.sub(r"([\s;])", r"\\\1", name)


def write_def(
    path: Path,
    design: str,
    dbu: int,
    die: Sequence[float],
    rows: Sequence[tuple[str, str, float, float, int, float]],  # name, site, x, y, nsites, step
    comps: Sequence[tuple[str, str]],  # instance, macro
    comp_xy: np.ndarray | None,  # (n, 2) lower-left in metres, None: UNPLACED
    pins: Sequence[tuple[str, str, float, float]],  # name, direction, x, y
    nets: Sequence[tuple[str, Sequence[tuple[str, str]]]] = (),  # name, [(inst or PIN, pin)]
    regions: Sequence[tuple[str, Sequence[Sequence[float]], Sequence[str]]] = (),  # name, rects, members
    pin_layer: str = "metal3",
) -> None:
    def u(v: float) -> int:
        return int(round(v * 1e6 * dbu))

    out = ["VERSION 5.8 ;", 'DIVIDERCHAR "/" ;', 'BUSBITCHARS "[]" ;', f"DESIGN {_esc(design)} ;",
           f"UNITS DISTANCE MICRONS {dbu} ;", "",
           f"DIEAREA ( {u(die[0])} {u(die[1])} ) ( {u(die[2])} {u(die[3])} ) ;", ""]
    for name, site, x, y, n, step in rows:
        out.append(f"ROW {name} {site} {u(x)} {u(y)} N DO {n} BY 1 STEP {u(step)} 0 ;")
    out.append("")
    if regions:
        out.append(f"REGIONS {len(regions)} ;")
        for name, rects, _ in regions:
            pts = " ".join(f"( {u(r[0])} {u(r[1])} ) ( {u(r[2])} {u(r[3])} )" for r in rects)
            out.append(f"- {_esc(name)} {pts} + TYPE FENCE ;")
        out += ["END REGIONS", ""]
    out.append(f"COMPONENTS {len(comps)} ;")
    for i, (inst, macro) in enumerate(comps):
        if comp_xy is None:
            out.append(f"- {_esc(inst)} {macro} + UNPLACED ;")
        else:
            out.append(f"- {_esc(inst)} {macro} + PLACED ( {u(comp_xy[i, 0])} {u(comp_xy[i, 1])} ) N ;")
    out += ["END COMPONENTS", "", f"PINS {len(pins)} ;"]
    for name, direction, x, y in pins:
        out.append(f"- {_esc(name)} + NET {_esc(name)} + DIRECTION {direction.upper()} + USE SIGNAL")
        out.append(f"  + LAYER {pin_layer} ( -70 -70 ) ( 70 70 ) + PLACED ( {u(x)} {u(y)} ) N ;")
    out += ["END PINS", ""]
    if nets:
        out.append(f"NETS {len(nets)} ;")
        for name, conns in nets:
            body = " ".join(f"( {'PIN' if i == 'PIN' else _esc(i)} {_esc(p)} )" for i, p in conns)
            out.append(f"- {_esc(name)} {body} ;")
        out += ["END NETS", ""]
    if regions:
        out.append(f"GROUPS {len(regions)} ;")
        for name, _, members in regions:
            out.append(f"- g_{_esc(name)} " + " ".join(_esc(m) for m in members) + f" + REGION {_esc(name)} ;")
        out += ["END GROUPS", ""]
    out.append("END DESIGN")
    Path(path).write_text("\n".join(out) + "\n")
