"""HotSpot file formats: floorplan `.flp`, power trace `.ptrace`, `.config`, `.steady`/`.init`.

Follows HotSpot 6 (`flp.c`, `hotspot.c`, `util.c`, `temperature_*.c`): an `.flp` line is
`<unit> <width> <height> <left-x> <bottom-y> [<specific-heat> <resistivity>]` in metres; a
`.ptrace` has a header of unit names then one row of powers (W) per `sampling_intvl`; a `.config`
has `-<name> <value>` lines (the first occurrence of a name wins, as in HotSpot); a `.steady` (and
the `.init` file HotSpot reads back) is `<prefix><unit>\t<T K>` for every layer — no prefix for the
die, then `iface_`, `hsp_`, `hsink_` — followed by `inode_0` … `inode_11`. `#` starts a comment.

Where HotSpot's own readers differ from a plain reading, we follow HotSpot, since the point is
its numbers for the same files: unit names match case-insensitively (`get_blk_index` uses
`strcasecmp`); a `.flp` line `<unit> <unit> <number>` is wire-density information and skipped;
and the last line of a `.ptrace` or `.config` that does not end in a newline is ignored (HotSpot's
`fgets`/`feof` loops drop it), with a warning that names the file and line.

Every reader turns bad input (non-UTF-8 bytes, NaN or negative sizes, truncated rows, overlapping
units, unknown names) into one `FormatError(path, line, message)`, never another exception.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flow.errors import FormatError

log = logging.getLogger("vhflow.hotspot")

LAYER_PREFIXES = ("", "iface_", "hsp_", "hsink_")
N_INODES = 12
GAP_WARN_FRACTION = 1e-3  # uncovered share of the bounding box worth a warning
OVERLAP_REL_TOL = 1e-6  # overlap width, relative to the floorplan's size, below which it is rounding


@dataclass(frozen=True)
class Unit:
    name: str
    width: float
    height: float
    left: float
    bottom: float
    specific_heat: float | None = None
    resistivity: float | None = None

    @property
    def rect(self) -> tuple[float, float, float, float]:
        return (self.left, self.bottom, self.left + self.width, self.bottom + self.height)


@dataclass
class Floorplan:
    units: list[Unit]
    path: Path | None = None
    warnings: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [u.name for u in self.units]

    def bbox(self) -> tuple[float, float, float, float]:
        r = self.rects()
        return float(r[:, 0].min()), float(r[:, 1].min()), float(r[:, 2].max()), float(r[:, 3].max())

    def rects(self) -> np.ndarray:
        return np.array([u.rect for u in self.units], dtype=float)

    def rects_at_origin(self) -> np.ndarray:
        """Rectangles translated so the bounding box starts at (0, 0), as HotSpot's read_flp does."""
        r = self.rects()
        return r - np.array([r[:, 0].min(), r[:, 1].min(), r[:, 0].min(), r[:, 1].min()])


def _lines(path: Path, hotspot_last_line: bool = False) -> Iterator[tuple[int, list[str]]]:
    """(line number, tokens) of the non-empty, non-comment lines; bytes must be UTF-8 text.

    `hotspot_last_line`: drop a last line without a newline, as HotSpot's readers do (`fgets`
    returns it, `feof` is then true, the loop breaks before using it), and warn."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise FormatError(path, None, f"cannot read: {exc.strerror or exc}") from None
    raws = data.split(b"\n")
    if hotspot_last_line and raws[-1].strip() and not raws[-1].lstrip().startswith(b"#"):
        log.warning("%s:%d: the last line does not end with a newline: ignored, as HotSpot 6 ignores it "
                    "(end the file with a newline to use it)", path, len(raws))
        raws[-1] = b""
    for no, raw in enumerate(raws, start=1):  # lines as editors (and fgets) count them
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(path, no, f"not UTF-8 text (byte {exc.start + 1})") from None
        if "\x00" in text:
            raise FormatError(path, no, "NUL byte in a text file")
        line = text.split("#", 1)[0].strip()
        if line:
            yield no, line.split()


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _number(path: Path, no: int, token: str, what: str) -> float:
    try:
        v = float(token)
    except ValueError:
        raise FormatError(path, no, f"{what}: {token!r} is not a number") from None
    if not math.isfinite(v):
        raise FormatError(path, no, f"{what}: {token!r} is not a finite number")
    return v


def read_flp(path: Path | str) -> Floorplan:
    """Read a floorplan. Overlapping units are an error (HotSpot would count their area twice);
    gaps (uncovered dead space) are warned about with the covered share."""
    path = Path(path)
    units: list[Unit] = []
    line_of: dict[str, int] = {}
    for no, tok in _lines(path):
        if len(tok) == 3 and _is_number(tok[2]) and not _is_number(tok[1]):
            continue  # `<unit> <unit> <wire density>`: connectivity, which HotSpot skips too
        if len(tok) not in (5, 7):
            raise FormatError(path, no, f"expected '<name> <width> <height> <left-x> <bottom-y> [<c> <rho>]', "
                                        f"got {len(tok)} fields")
        name = tok[0]
        vals = [_number(path, no, t, f"unit {name}") for t in tok[1:]]
        if vals[0] <= 0 or vals[1] <= 0:
            raise FormatError(path, no, f"unit {name}: width and height must be positive")
        if len(vals) == 6 and (vals[4] < 0 or vals[5] < 0):  # used by HotSpot only with a 3-D .lcf
            raise FormatError(path, no, f"unit {name}: specific heat and resistivity must not be negative")
        if name.lower() in line_of:
            first = line_of[name.lower()]
            raise FormatError(path, no, f"unit {name} defined twice (first on line {first}; HotSpot matches "
                                        "names case-insensitively)")
        line_of[name.lower()] = no
        units.append(Unit(name, *vals[:4], *(vals[4:6] if len(vals) == 6 else (None, None))))
    if not units:
        raise FormatError(path, None, "floorplan has no units")
    r = np.array([u.rect for u in units])
    size = max(float(r[:, 2].max() - r[:, 0].min()), float(r[:, 3].max() - r[:, 1].min()))
    # overlaps thinner than this are the rounding of coordinates printed to 6-7 digits (a
    # neighbour's left-x against this unit's left-x + width), not two units on one spot
    tol = OVERLAP_REL_TOL * size
    for i in range(len(units)):
        ox = np.minimum(r[i, 2], r[i + 1:, 2]) - np.maximum(r[i, 0], r[i + 1:, 0])
        oy = np.minimum(r[i, 3], r[i + 1:, 3]) - np.maximum(r[i, 1], r[i + 1:, 1])
        hit = np.nonzero((ox > tol) & (oy > tol))[0]
        if len(hit):
            j = i + 1 + int(hit[0])
            a, b = units[i], units[j]
            raise FormatError(path, line_of[b.name.lower()], f"units {a.name} and {b.name} overlap "
                                                     f"({ox[hit[0]] * oy[hit[0]]:.3e} m²)")
    area = float(np.sum((r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])))
    bb = float((r[:, 2].max() - r[:, 0].min()) * (r[:, 3].max() - r[:, 1].min()))
    warnings = []
    if area < bb * (1 - GAP_WARN_FRACTION):
        warnings.append(f"units leave gaps: they cover {math.floor(area / bb * 1000) / 10:.1f}% of their "
                        "bounding box (HotSpot models uncovered area as unpowered die)")
    for w in warnings:
        log.warning("%s: %s", path, w)
    return Floorplan(units, path, tuple(warnings))


def write_flp(fp: Floorplan, path: Path | str) -> None:
    lines = ["# unit\twidth\theight\tleft-x\tbottom-y"]
    for u in fp.units:
        extra = f"\t{u.specific_heat:.6g}\t{u.resistivity:.6g}" if u.specific_heat is not None else ""
        lines.append(f"{u.name}\t{u.width:.9g}\t{u.height:.9g}\t{u.left:.9g}\t{u.bottom:.9g}{extra}")
    Path(path).write_text("\n".join(lines) + "\n")


def read_ptrace(path: Path | str, floorplan: Floorplan | None = None) -> tuple[list[str], np.ndarray]:
    """(unit names, powers (steps, units) W); columns are checked against the floorplan, whose
    spelling of each name is returned (HotSpot matches them case-insensitively)."""
    path = Path(path)
    rows = list(_lines(path, hotspot_last_line=True))
    if not rows:
        raise FormatError(path, None, "power trace is empty")
    header_no, names = rows[0]
    lower = [n.lower() for n in names]
    if len(set(lower)) != len(names):
        dup = next(n for n, lo in zip(names, lower, strict=True) if lower.count(lo) > 1)
        raise FormatError(path, header_no, f"unit {dup} appears twice in the header (names are case-insensitive)")
    if floorplan is not None:
        known = {n.lower(): n for n in floorplan.names}
        missing = [n for n in names if n.lower() not in known]
        absent = [n for n in floorplan.names if n.lower() not in set(lower)]
        if missing or absent:
            raise FormatError(path, header_no, "columns do not match the floorplan: "
                              + (f"unknown {', '.join(missing)}" if missing else "")
                              + ("; " if missing and absent else "")
                              + (f"missing {', '.join(absent)}" if absent else ""))
        names = [known[n.lower()] for n in names]
    data = np.empty((len(rows) - 1, len(names)))
    for k, (no, tok) in enumerate(rows[1:]):
        if len(tok) != len(names):
            raise FormatError(path, no, f"{len(tok)} values for {len(names)} units")
        for c, t in enumerate(tok):
            v = _number(path, no, t, f"power of unit {names[c]}")
            if v < 0:
                raise FormatError(path, no, f"negative power {t} (unit {names[c]})")
            data[k, c] = v
    if data.shape[0] == 0:
        raise FormatError(path, None, "power trace has a header but no rows")
    return names, data


def read_ptrace_header(path: Path | str) -> list[str]:
    """The unit names of a `.ptrace` as spelled there (HotSpot's `-o` trace repeats them)."""
    for _, tok in _lines(Path(path)):
        return tok
    raise FormatError(Path(path), None, "power trace is empty")


def write_ptrace(names: list[str], powers: np.ndarray, path: Path | str) -> None:
    lines = ["\t".join(names)] + ["\t".join(f"{v:.6g}" for v in row) for row in np.atleast_2d(powers)]
    Path(path).write_text("\n".join(lines) + "\n")


def read_config(path: Path | str) -> dict[str, float | str]:
    """HotSpot `-name value` lines (extra tokens ignored, first occurrence wins, as HotSpot's
    `read_str_pairs`); numeric values become floats, the rest (file names, modes) stay strings."""
    path = Path(path)
    out: dict[str, float | str] = {}
    for no, tok in _lines(path, hotspot_last_line=True):
        if len(tok) < 2 or not tok[0].startswith("-") or len(tok[0]) < 2:
            raise FormatError(path, no, "expected '-<name> <value>'")
        name = tok[0][1:]
        if name in out:
            continue
        try:
            v = float(tok[1])
        except ValueError:
            out[name] = tok[1]
            continue
        if not math.isfinite(v):
            raise FormatError(path, no, f"-{name}: {tok[1]!r} is not a finite number")
        out[name] = v
    return out


def write_steady(names: list[str], temps_k: np.ndarray, path: Path | str, prefix: str = "") -> None:
    """Block temperatures in HotSpot's `<name>\t<T K>` form (%.2f, as HotSpot writes)."""
    Path(path).write_text("".join(f"{prefix}{n}\t{t:.2f}\n" for n, t in zip(names, temps_k, strict=True)))


def write_temperature_file(names: list[str], layers_k: np.ndarray, inodes_k: np.ndarray, path: Path | str) -> None:
    """A full HotSpot `-steady_file`: every layer's block temperatures then inode_0..11 (K, %.2f),
    readable back by `hotspot -init_file` and by `read_temperature_file`."""
    lines = [f"{pre}{n}\t{t:.2f}\n" for pre, row in zip(LAYER_PREFIXES, layers_k, strict=True)
             for n, t in zip(names, row, strict=True)]
    lines += [f"inode_{i}\t{t:.2f}\n" for i, t in enumerate(inodes_k)]
    Path(path).write_text("".join(lines))


def read_temperature_file(path: Path | str, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A HotSpot `.steady`/`.init` file for the units `names`: (layers (4, units), inodes (12,)) K.

    Every layer of every unit and every inode must be there exactly once (HotSpot refuses a
    file with missing lines too)."""
    path = Path(path)
    index = {f"{pre}{n}".lower(): (li, ui) for li, pre in enumerate(LAYER_PREFIXES) for ui, n in enumerate(names)}
    index.update({f"inode_{i}": (4, i) for i in range(N_INODES)})  # names case-insensitive, as HotSpot's
    layers = np.full((4, len(names)), np.nan)
    inodes = np.full(N_INODES, np.nan)
    seen: dict[str, int] = {}
    for no, tok in _lines(path):
        if len(tok) != 2:
            raise FormatError(path, no, f"expected '<name> <temperature K>', got {len(tok)} fields")
        name = tok[0].lower()
        if name not in index:
            raise FormatError(path, no, f"{tok[0]!r} is not a unit of the floorplan (with a layer prefix "
                                        "iface_/hsp_/hsink_) nor inode_0..11")
        if name in seen:
            raise FormatError(path, no, f"{tok[0]} given twice (first on line {seen[name]})")
        seen[name] = no
        v = _number(path, no, tok[1], tok[0])
        if v <= 0:
            raise FormatError(path, no, f"{tok[0]}: {tok[1]} K is not a temperature")
        li, ui = index[name]
        if li == 4:
            inodes[ui] = v
        else:
            layers[li, ui] = v
    spelled = [f"{pre}{n}" for pre in LAYER_PREFIXES for n in names] + [f"inode_{i}" for i in range(N_INODES)]
    missing = [n for n in spelled if n.lower() not in seen]
    if missing:
        raise FormatError(path, None, f"truncated: {len(missing)} of {len(index)} temperatures missing "
                                      f"(first: {missing[0]})")
    return layers, inodes


def write_ttrace(names: list[str], temps_k: np.ndarray, path: Path | str) -> None:
    """A HotSpot transient trace (`-o`): header of unit names, one row per step, K with %.2f."""
    lines = ["\t".join(names)] + ["\t".join(f"{v:.2f}" for v in row) for row in np.atleast_2d(temps_k)]
    Path(path).write_text("\n".join(lines) + "\n")


def write_grid(temps: np.ndarray, path: Path | str) -> None:
    """A grid map as HotSpot's `-grid_steady_file`: `<index>\t<T K>` row-major from the top row."""
    flat = np.asarray(temps)[::-1].ravel()
    Path(path).write_text("".join(f"{i}\t{t:.2f}\n" for i, t in enumerate(flat)))
