"""LEF reader for what floorplanning and placement need (LEF/DEF 5.8 reference).

Keeps database units, SITE sizes, routing LAYERs (direction, pitch, width) and MACROs (class,
size, site, pin names and directions). Written by hand because no maintained Python LEF parser
is on PyPI; it reads the platform LEFs in milliseconds. Lengths are converted to metres.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flow.errors import FormatError
from flow.util import gc_paused, read_bytes_maybe_gzip

UM = 1e-6
_TOP_BLOCKS = frozenset({"UNITS", "PROPERTYDEFINITIONS", "SPACING", "BEGINEXT"})


@dataclass
class LefSite:
    name: str
    width: float
    height: float
    cls: str = ""


@dataclass
class LefLayer:
    name: str
    type: str = ""
    direction: str = ""
    pitch: float = 0.0
    width: float = 0.0


@dataclass
class LefMacro:
    name: str
    cls: str = ""
    width: float = 0.0
    height: float = 0.0
    site: str = ""
    pins: dict[str, str] = field(default_factory=dict)  # name -> direction
    line: int = 0


@dataclass
class Lef:
    sites: dict[str, LefSite] = field(default_factory=dict)
    layers: dict[str, LefLayer] = field(default_factory=dict)
    macros: dict[str, LefMacro] = field(default_factory=dict)
    dbu_per_micron: int = 1000

    def merge(self, other: Lef) -> Lef:
        self.sites.update(other.sites)
        self.layers.update(other.layers)
        self.macros.update(other.macros)
        return self


def _text(path: Path) -> str:
    return read_bytes_maybe_gzip(path, "LEF").decode("utf-8", "replace")


@gc_paused
def read_lef(paths: list[Path] | Path) -> Lef:
    """Read and merge LEF files (tech first, then cells)."""
    out = Lef()
    for p in [paths] if isinstance(paths, Path | str) else paths:
        out.merge(_read_one(Path(p)))
    return out


def _num(path: Path, no: int, tok: str, what: str) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise FormatError(path, no, f"{what}: expected a number, got {tok!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise FormatError(path, no, f"{what}: expected a finite number, got {tok!r}")
    return v


def _read_one(path: Path) -> Lef:
    lef = Lef()
    stack: list[tuple[str, str, int]] = []  # (kind, name, line)
    macro: LefMacro | None = None
    site: LefSite | None = None
    layer: LefLayer | None = None
    pin: str | None = None
    no = 0
    ended = False
    try:
        for no, raw in enumerate(_text(path).splitlines(), start=1):
            line = raw.split("#", 1)[0].strip().rstrip(";").strip()
            if not line:
                continue
            tok = line.split()
            key = tok[0].upper()
            if key == "END":
                if len(tok) == 1:
                    if stack and stack[-1][0] in ("PORT", "OBS", "UNITS", "PROPERTYDEFINITIONS"):
                        stack.pop()
                    continue
                name = tok[1]
                if name.upper() == "LIBRARY":
                    ended = True
                    break
                if stack and stack[-1][0] == name.upper() and stack[-1][1] == "":
                    stack.pop()  # END UNITS / END PROPERTYDEFINITIONS
                    continue
                if not stack or stack[-1][1] != name:
                    open_ = f"{stack[-1][0]} {stack[-1][1]} (line {stack[-1][2]})" if stack else "nothing"
                    raise FormatError(path, no, f"END {name} does not close {open_}")
                kind, _, _ = stack.pop()
                if kind == "MACRO":
                    macro = None
                elif kind == "PIN":
                    pin = None
                elif kind == "SITE":
                    site = None
                elif kind == "LAYER":
                    layer = None
                continue
            if key in ("PORT", "OBS") or (key in _TOP_BLOCKS and not stack):
                stack.append((key, "", no))
                continue
            if stack and stack[-1][0] in ("PORT", "OBS") or stack and stack[-1][0] in _TOP_BLOCKS - {"UNITS"}:
                continue
            if stack and stack[-1][0] == "UNITS":
                if key == "DATABASE" and len(tok) >= 3:
                    lef.dbu_per_micron = int(_num(path, no, tok[2], "DATABASE MICRONS"))
                continue
            if key == "MACRO" and not stack:
                if len(tok) < 2:
                    raise FormatError(path, no, "MACRO without a name")
                macro = LefMacro(tok[1], line=no)
                lef.macros[tok[1]] = macro
                stack.append(("MACRO", tok[1], no))
            elif key == "SITE" and not stack:
                site = LefSite(tok[1], 0.0, 0.0)
                lef.sites[tok[1]] = site
                stack.append(("SITE", tok[1], no))
            elif key == "LAYER" and not stack:
                layer = LefLayer(tok[1])
                lef.layers[tok[1]] = layer
                stack.append(("LAYER", tok[1], no))
            elif key == "VIA" and not stack or key == "VIARULE" and not stack or key == "NONDEFAULTRULE" and not stack:
                stack.append((key, tok[1] if len(tok) > 1 else "", no))
            elif key == "PIN" and macro is not None and stack and stack[-1][0] == "MACRO":
                pin = tok[1]
                macro.pins[pin] = "INPUT"
                stack.append(("PIN", tok[1], no))
            elif key == "LAYER" and stack and stack[-1][0] in ("VIA", "VIARULE", "NONDEFAULTRULE"):
                continue
            elif macro is not None and pin is None and stack and stack[-1][0] == "MACRO":
                if key == "CLASS":
                    macro.cls = " ".join(tok[1:])
                elif key == "SIZE":
                    if len(tok) != 4 or tok[2].upper() != "BY":
                        raise FormatError(path, no, f"MACRO {macro.name}: SIZE must be '<w> BY <h>'")
                    macro.width = _num(path, no, tok[1], "SIZE") * UM
                    macro.height = _num(path, no, tok[3], "SIZE") * UM
                elif key == "SITE":
                    macro.site = tok[1]
            elif pin is not None and macro is not None and key == "DIRECTION":
                macro.pins[pin] = tok[1].upper()
            elif site is not None:
                if key == "SIZE":
                    if len(tok) != 4:
                        raise FormatError(path, no, f"SITE {site.name}: SIZE must be '<w> BY <h>'")
                    site.width = _num(path, no, tok[1], "SIZE") * UM
                    site.height = _num(path, no, tok[3], "SIZE") * UM
                elif key == "CLASS":
                    site.cls = tok[1]
            elif layer is not None:
                if key == "TYPE":
                    layer.type = tok[1]
                elif key == "DIRECTION":
                    layer.direction = tok[1]
                elif key == "PITCH":
                    layer.pitch = _num(path, no, tok[1], "PITCH") * UM
                elif key == "WIDTH":
                    layer.width = _num(path, no, tok[1], "WIDTH") * UM
    except (IndexError, KeyError, ValueError, ZeroDivisionError, OverflowError) as exc:
        raise FormatError(path, no, f"malformed LEF statement ({type(exc).__name__}: {exc})") from None
    if stack and stack[-1][0] in ("MACRO", "SITE", "LAYER", "PIN"):
        kind, name, line = stack[-1]
        raise FormatError(path, line, f"{kind} {name} is never closed (truncated LEF?)")
    if not ended:
        raise FormatError(path, no or 1, "no END LIBRARY: the LEF file ends early (truncated?)")
    return lef
