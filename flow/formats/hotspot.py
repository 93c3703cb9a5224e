"""HotSpot file formats: floorplan `.flp`, power trace `.ptrace`, `.config`, `.steady` output.

Follows HotSpot 6 (`flp.c`, `temperature.c`, `util.c` conventions): an `.flp` line is
`<unit> <width> <height> <left-x> <bottom-y> [<specific-heat> <resistivity>]` in metres; a
`.ptrace` has a header of unit names then one row of powers (W) per time step; a `.config` has
`-<name> <value>` lines; `.steady` is `<unit>\t<temperature K>` per line. `#` starts a comment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flow.errors import FormatError

log = logging.getLogger("vhflow.hotspot")


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
        r = np.array([u.rect for u in self.units])
        return float(r[:, 0].min()), float(r[:, 1].min()), float(r[:, 2].max()), float(r[:, 3].max())

    def rects(self) -> np.ndarray:
        return np.array([u.rect for u in self.units], dtype=float)


def _lines(path: Path):
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise FormatError(path, None, f"cannot read: {exc.strerror}") from None
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if line:
            yield no, line.split()


def read_flp(path: Path | str, tol: float = 1e-9) -> Floorplan:
    """Read a floorplan; overlapping units or gaps in the bounding box are warned about by name."""
    path = Path(path)
    units: list[Unit] = []
    seen: set[str] = set()
    for no, tok in _lines(path):
        if len(tok) not in (5, 7):
            raise FormatError(path, no, f"expected '<name> <width> <height> <left-x> <bottom-y> [<c> <rho>]', got {len(tok)} fields")
        try:
            vals = [float(t) for t in tok[1:]]
        except ValueError:
            raise FormatError(path, no, f"unit {tok[0]}: non-numeric field") from None
        if vals[0] <= 0 or vals[1] <= 0:
            raise FormatError(path, no, f"unit {tok[0]}: width and height must be positive")
        if len(vals) == 6 and (vals[4] <= 0 or vals[5] <= 0):
            raise FormatError(path, no, f"unit {tok[0]}: specific heat and resistivity must be positive")
        if tok[0] in seen:
            raise FormatError(path, no, f"unit {tok[0]} defined twice")
        seen.add(tok[0])
        units.append(Unit(tok[0], *vals[:4], *(vals[4:6] if len(vals) == 6 else (None, None))))
    if not units:
        raise FormatError(path, None, "floorplan has no units")
    warnings = _check_tiling(units, tol)
    for w in warnings:
        log.warning("%s: %s", path, w)
    return Floorplan(units, path, tuple(warnings))


def _check_tiling(units: list[Unit], tol: float) -> list[str]:
    out = []
    r = np.array([u.rect for u in units])
    for i in range(len(units)):
        ox = np.minimum(r[i, 2], r[i + 1:, 2]) - np.maximum(r[i, 0], r[i + 1:, 0])
        oy = np.minimum(r[i, 3], r[i + 1:, 3]) - np.maximum(r[i, 1], r[i + 1:, 1])
        for j in np.nonzero((ox > tol) & (oy > tol))[0]:
            out.append(f"units {units[i].name} and {units[i + 1 + j].name} overlap ({ox[j] * oy[j]:.3e} m²)")
    area = float(np.sum((r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])))
    bb = (r[:, 2].max() - r[:, 0].min()) * (r[:, 3].max() - r[:, 1].min())
    if not out and area < bb * (1 - 1e-6):
        out.append(f"units leave gaps: they cover {area / bb:.1%} of their bounding box")
    return out


def write_flp(fp: Floorplan, path: Path | str) -> None:
    lines = ["# unit\twidth\theight\tleft-x\tbottom-y"]
    for u in fp.units:
        extra = f"\t{u.specific_heat:.6g}\t{u.resistivity:.6g}" if u.specific_heat is not None else ""
        lines.append(f"{u.name}\t{u.width:.9g}\t{u.height:.9g}\t{u.left:.9g}\t{u.bottom:.9g}{extra}")
    Path(path).write_text("\n".join(lines) + "\n")


def read_ptrace(path: Path | str, floorplan: Floorplan | None = None) -> tuple[list[str], np.ndarray]:
    """(unit names, powers (steps, units) W); columns are checked against the floorplan."""
    path = Path(path)
    rows = list(_lines(path))
    if not rows:
        raise FormatError(path, None, "power trace is empty")
    header_no, names = rows[0]
    if len(set(names)) != len(names):
        raise FormatError(path, header_no, "duplicate unit names in the header")
    if floorplan is not None:
        missing = [n for n in names if n not in set(floorplan.names)]
        absent = [n for n in floorplan.names if n not in set(names)]
        if missing or absent:
            raise FormatError(path, header_no, "columns do not match the floorplan: "
                              + (f"unknown {', '.join(missing)}" if missing else "")
                              + ("; " if missing and absent else "")
                              + (f"missing {', '.join(absent)}" if absent else ""))
    data = np.empty((len(rows) - 1, len(names)))
    for k, (no, tok) in enumerate(rows[1:]):
        if len(tok) != len(names):
            raise FormatError(path, no, f"{len(tok)} values for {len(names)} units")
        try:
            data[k] = [float(t) for t in tok]
        except ValueError:
            raise FormatError(path, no, "non-numeric power") from None
        if np.any(data[k] < 0) or not np.all(np.isfinite(data[k])):
            bad = names[int(np.argmin(data[k]))]
            raise FormatError(path, no, f"negative or non-finite power (unit {bad})")
    if data.shape[0] == 0:
        raise FormatError(path, None, "power trace has a header but no rows")
    return names, data


def write_ptrace(names: list[str], powers: np.ndarray, path: Path | str) -> None:
    lines = ["\t".join(names)] + ["\t".join(f"{v:.6g}" for v in row) for row in np.atleast_2d(powers)]
    Path(path).write_text("\n".join(lines) + "\n")


def read_config(path: Path | str) -> dict[str, float]:
    """HotSpot `-name value` lines; non-numeric values (file names, modes) are kept as strings."""
    path = Path(path)
    out: dict[str, float] = {}
    for no, tok in _lines(path):
        if len(tok) != 2 or not tok[0].startswith("-"):
            raise FormatError(path, no, "expected '-<name> <value>'")
        try:
            out[tok[0][1:]] = float(tok[1])
        except ValueError:
            out[tok[0][1:]] = tok[1]  # type: ignore[assignment]
    return out


def write_steady(names: list[str], temps_k: np.ndarray, path: Path | str, prefix: str = "") -> None:
    Path(path).write_text("".join(f"{prefix}{n}\t{t:.2f}\n" for n, t in zip(names, temps_k, strict=True)))


def write_grid(temps: np.ndarray, path: Path | str) -> None:
    """A grid map as HotSpot's `-grid_steady_file`: `<index>\t<T K>` row-major from the top row."""
    flat = np.asarray(temps)[::-1].ravel()
    Path(path).write_text("".join(f"{i}\t{t:.2f}\n" for i, t in enumerate(flat)))
