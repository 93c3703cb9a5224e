"""DEF (LEF/DEF 5.8) writer and reader: DIEAREA, ROW, TRACKS, COMPONENTS, PINS, NETS, REGIONS
and GROUPS (fences).

The writer is enough for KLayout and OpenROAD to read our floorplans and placements; the reader
takes ours back and DEF from OpenROAD (orientations, FIXED/COVER, `+ SOURCE`, escaped names,
sections we do not need are skipped). Coordinates are metres on both sides.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flow.errors import FormatError
from flow.util import gc_paused


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
    tracks: Sequence[tuple[str, float, int, float, Sequence[str]]] = (),  # X|Y, start, count, step, layers
    fixed: Sequence[tuple[str, str, float, float]] = (),  # physical-only cells (taps): name, macro, x, y
) -> None:
    def u(v: float) -> int:
        return int(round(v * 1e6 * dbu))

    out = ["VERSION 5.8 ;", 'DIVIDERCHAR "/" ;', 'BUSBITCHARS "[]" ;', f"DESIGN {_esc(design)} ;",
           f"UNITS DISTANCE MICRONS {dbu} ;", "",
           f"DIEAREA ( {u(die[0])} {u(die[1])} ) ( {u(die[2])} {u(die[3])} ) ;", ""]
    for name, site, x, y, n, step in rows:
        out.append(f"ROW {name} {site} {u(x)} {u(y)} N DO {n} BY 1 STEP {u(step)} 0 ;")
    out.append("")
    for axis, start, count, step, layers in tracks:
        out.append(f"TRACKS {axis} {u(start)} DO {count} STEP {u(step)} LAYER {' '.join(layers)} ;")
    if tracks:
        out.append("")
    if regions:
        out.append(f"REGIONS {len(regions)} ;")
        for name, rects, _ in regions:
            pts = " ".join(f"( {u(r[0])} {u(r[1])} ) ( {u(r[2])} {u(r[3])} )" for r in rects)
            out.append(f"- {_esc(name)} {pts} + TYPE FENCE ;")
        out += ["END REGIONS", ""]
    out.append(f"COMPONENTS {len(comps) + len(fixed)} ;")
    for inst, macro, fx, fy in fixed:
        out.append(f"- {_esc(inst)} {macro} + FIXED ( {u(fx)} {u(fy)} ) N ;")
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


# ---- reader ---------------------------------------------------------------------------------
@dataclass
class DefComponent:
    name: str
    macro: str
    status: str  # PLACED, FIXED, COVER, UNPLACED
    x: float | None  # lower-left, metres
    y: float | None
    orient: str | None


@dataclass
class DefPin:
    name: str
    net: str
    direction: str | None
    layer: str | None
    x: float | None
    y: float | None


@dataclass
class DefDesign:
    """A DEF file in SI units (metres): what floorplan/placement round trips need."""

    design: str
    dbu: int
    die: tuple[float, float, float, float] | None = None
    rows: list[tuple[str, str, float, float, str, int, int, float, float]] = field(default_factory=list)
    tracks: list[tuple[str, float, int, float, list[str]]] = field(default_factory=list)  # dir, start, n, step, layers
    components: list[DefComponent] = field(default_factory=list)
    pins: list[DefPin] = field(default_factory=list)
    nets: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    regions: list[tuple[str, list[tuple[float, float, float, float]], str | None]] = field(default_factory=list)
    groups: list[tuple[str, list[str], str | None]] = field(default_factory=list)  # name, members, region


_DEF_TOK = re.compile(r"(?:\\.|[^\s\\;])+|;")


def _def_statements(text: str, path: Path) -> list[tuple[int, list[str]]]:
    """Statements (tokens up to `;`) with the line each starts on; `#` comments dropped."""
    out: list[tuple[int, list[str]]] = []
    cur: list[str] = []
    start = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0] if "#" in raw and '"' not in raw else raw
        for tok in _tokens_def(line):
            if start is None:
                start = lineno
            if tok == ";":
                out.append((start, cur))
                cur, start = [], None
            else:
                cur.append(tok)
        # section keywords without ';' (END COMPONENTS, END DESIGN)
        if cur and cur[0] == "END" and len(cur) >= 2:
            out.append((start or lineno, cur))
            cur, start = [], None
    if cur:
        raise FormatError(path, start, f"statement {' '.join(cur[:4])} ... has no ';' (truncated DEF?)")
    return out


_UNESC = re.compile(r"\\(.)")


def _tokens_def(line: str) -> list[str]:
    """Whitespace-separated tokens and `;`; backslash escapes (`\\[`, `\\;`) are resolved."""
    return [_UNESC.sub(r"\1", t) if "\\" in t else t for t in _DEF_TOK.findall(line)]


@gc_paused
def read_def(path: str | Path) -> DefDesign:
    """DIEAREA, ROW, TRACKS, COMPONENTS (status, location, orientation), PINS (net, direction,
    layer, placement), NETS (connections), REGIONS and GROUPS; other sections are skipped."""
    from flow.util import read_bytes_maybe_gzip

    path = Path(path)
    text = read_bytes_maybe_gzip(path, "DEF").decode("utf-8", "replace")
    stmts = _def_statements(text, path)
    d = DefDesign(design="", dbu=1000)
    section = None

    def num(tok: str, line: int) -> float:
        try:
            v = float(tok)
        except ValueError:
            raise FormatError(path, line, f"expected a number, got {tok!r}") from None
        if v != v or v in (float("inf"), float("-inf")):
            raise FormatError(path, line, f"expected a finite number, got {tok!r}")
        return v

    def m(v: float) -> float:
        return v / d.dbu * 1e-6

    def points(toks: list[str], line: int) -> list[tuple[float, float]]:
        pts, k = [], 0
        while k < len(toks):
            if toks[k] == "(":
                pts.append((m(num(toks[k + 1], line)), m(num(toks[k + 2], line))))
                k += 4
            else:
                k += 1
        return pts

    def plus_fields(toks: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        key = None
        for t in toks:
            if t == "+":
                key = None
                continue
            if key is None:
                key = t
                out.setdefault(key, [])
            else:
                out[key].append(t)
        return out

    line = 1
    ended = False
    try:
        for line, toks in stmts:
            head = toks[0]
            if head == "END":
                if len(toks) > 1 and toks[1] == "DESIGN":
                    ended = True
                    break
                section = None
                continue
            if section is None:
                if head == "DESIGN":
                    d.design = toks[1]
                elif head == "UNITS":
                    d.dbu = int(num(toks[-1], line))
                    if d.dbu <= 0:
                        raise FormatError(path, line, f"UNITS DISTANCE MICRONS must be > 0, got {toks[-1]}")
                elif head == "DIEAREA":
                    pts = points(toks[1:], line)
                    if len(pts) < 2:
                        raise FormatError(path, line, "DIEAREA needs two points")
                    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                    d.die = (min(xs), min(ys), max(xs), max(ys))
                elif head == "ROW":
                    # ROW name site x y orient DO nx BY ny STEP sx sy
                    if len(toks) < 6:
                        raise FormatError(path, line, "bad ROW")
                    nx = int(num(toks[7], line)) if len(toks) > 9 and toks[6] == "DO" else 1
                    ny = int(num(toks[9], line)) if len(toks) > 9 and toks[8] == "BY" else 1
                    sx = m(num(toks[11], line)) if len(toks) > 12 and toks[10] == "STEP" else 0.0
                    sy = m(num(toks[12], line)) if len(toks) > 12 and toks[10] == "STEP" else 0.0
                    d.rows.append((toks[1], toks[2], m(num(toks[3], line)), m(num(toks[4], line)), toks[5], nx, ny, sx, sy))
                elif head == "TRACKS":
                    # TRACKS X start DO n STEP s LAYER l ...
                    if len(toks) < 7 or toks[3] != "DO" or toks[5] != "STEP":
                        raise FormatError(path, line, "bad TRACKS")
                    layers = toks[toks.index("LAYER") + 1:] if "LAYER" in toks else []
                    d.tracks.append((toks[1], m(num(toks[2], line)), int(num(toks[4], line)), m(num(toks[6], line)), layers))
                elif head in ("COMPONENTS", "PINS", "NETS", "REGIONS", "GROUPS", "SPECIALNETS", "VIAS", "BLOCKAGES",
                              "FILLS", "NONDEFAULTRULES", "PROPERTYDEFINITIONS", "SCANCHAINS", "STYLES", "GCELLGRID"):
                    section = head
                continue
            if head != "-":
                raise FormatError(path, line, f"expected '- name' in {section}, got {head!r}")
            if "-" in toks[2:]:
                raise FormatError(path, line, f"{section} {toks[1]}: no ';' before the next '- ...'")
            name = toks[1]
            if section == "COMPONENTS":
                f = plus_fields(toks[3:])
                status = next((s for s in ("PLACED", "FIXED", "COVER", "UNPLACED") if s in f), "UNPLACED")
                x = y = orient = None
                if status != "UNPLACED":
                    v = f[status]
                    if len(v) < 5 or v[0] != "(":
                        raise FormatError(path, line, f"component {name}: bad {status} location")
                    x, y, orient = m(num(v[1], line)), m(num(v[2], line)), v[4]
                d.components.append(DefComponent(name, toks[2], status, x, y, orient))
            elif section == "PINS":
                f = plus_fields(toks[2:])
                layer = f["LAYER"][0] if "LAYER" in f else None
                loc = next((f[s] for s in ("PLACED", "FIXED", "COVER") if s in f), None)
                x = m(num(loc[1], line)) if loc else None
                y = m(num(loc[2], line)) if loc else None
                d.pins.append(DefPin(name, (f.get("NET") or [name])[0], (f.get("DIRECTION") or [None])[0], layer, x, y))
            elif section == "NETS":
                conns, k = [], 2
                while k < len(toks) and toks[k] != "+":
                    if toks[k] == "(":
                        conns.append((toks[k + 1], toks[k + 2]))
                        k += 4
                    else:
                        k += 1
                d.nets.append((name, conns))
            elif section == "REGIONS":
                pts = points(toks[2:], line)
                rects = [(pts[k][0], pts[k][1], pts[k + 1][0], pts[k + 1][1]) for k in range(0, len(pts) - 1, 2)]
                f = plus_fields(toks[2:])
                d.regions.append((name, rects, (f.get("TYPE") or [None])[0]))
            elif section == "GROUPS":
                members = []
                k = 2
                while k < len(toks) and toks[k] != "+":
                    members.append(toks[k])
                    k += 1
                f = plus_fields(toks[k:])
                d.groups.append((name, members, (f.get("REGION") or [None])[0]))
    except (IndexError, KeyError, ValueError, ZeroDivisionError, OverflowError) as exc:
        raise FormatError(path, line, f"malformed DEF statement ({type(exc).__name__}: {exc})") from None
    if not d.design:
        raise FormatError(path, 1, "no DESIGN statement: not a DEF file")
    if not ended:
        raise FormatError(path, line, "no END DESIGN: the DEF file ends early (truncated?)")
    return d
