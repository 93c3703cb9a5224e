"""Platforms: where a PDK's files are, its corners (PVT), site, layer RC and special cells.

A platform is described by a TOML in `pdk_configs/` (or one a plugin adds through
`vhflow_platforms`) naming files relative to the ORFS platform directory
(`flow/platforms/<name>/`). The directory is searched in `VHFLOW_PLATFORMS`, then
`$ORFS_ROOT/flow/platforms`, then `../shared/pdks` beside the checkout, so the same config
works on an ORFS install and on the shared data here. `.lib`/`.lef` may also be `.gz`.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flow.errors import ConfigError, PlatformError

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILTIN_PLATFORM_CONFIGS = REPO_ROOT / "pdk_configs"


@dataclass(frozen=True)
class Corner:
    """One Liberty corner: process, voltage (V) and temperature (°C) with its files."""

    name: str
    liberty: tuple[Path, ...]
    process: str
    voltage: float
    temperature: float
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Site:
    name: str
    width: float  # metres
    height: float  # metres


@dataclass(frozen=True)
class Layer:
    """A routing layer with unit-length parasitics in SI (ohm/m, F/m)."""

    name: str
    direction: str
    pitch: float  # metres
    r_per_m: float
    c_per_m: float


@dataclass
class Platform:
    """A resolved PDK: every path exists unless listed in `missing_files()`."""

    name: str
    root: Path | None
    config_path: Path
    description: str
    process_nm: float
    tech_lef: Path | None
    cell_lefs: tuple[Path, ...]
    corners: dict[str, Corner]
    default_corner: str
    site: Site
    layers: dict[str, Layer]
    signal_wire_layer: str
    clock_wire_layer: str
    power_net: str
    ground_net: str
    place_density: float
    cells: dict[str, Any]
    power_switch: dict[str, Any]
    level_shifter: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    #: corners the platform TOML lists whose Liberty this tree does not ship (ORFS nangate45 has
    #: only typical, sky130hd only tt_025C_1v80): name -> missing files. Sign-off uses the others.
    absent_corners: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _missing: tuple[str, ...] = ()
    _liberty_cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ---- queries -------------------------------------------------------------------------
    def corner(self, name: str | None = None) -> Corner:
        key = name or self.default_corner
        if key not in self.corners:
            if key in self.absent_corners:
                raise PlatformError(
                    f"platform {self.name}: corner {key!r} is not in this PDK tree ({self.root}: no "
                    f"{', '.join(self.absent_corners[key])}); corners present: {', '.join(self.corners)}"
                )
            raise ConfigError(
                f"platform {self.name}: unknown corner {key!r} (corners: {', '.join(self.corners)})"
            )
        return self.corners[key]

    def missing_files(self) -> tuple[str, ...]:
        return self._missing

    def require_files(self) -> None:
        """Raise one PlatformError naming what is missing, before any stage runs."""
        if self.root is None:
            raise PlatformError(
                f"platform {self.name}: PDK directory not found (searched {', '.join(map(str, platform_search_path()))}); "
                "set VHFLOW_PLATFORMS or ORFS_ROOT"
            )
        if self._missing:
            raise PlatformError(f"platform {self.name}: missing PDK file(s) under {self.root}: {', '.join(self._missing)}")

    def liberty(self, corner: str | None = None) -> dict[str, Any]:
        """The corner's Liberty (files merged) as the engines read it: a dict in SI units with
        `cells[name]` holding area, pins, timing and power tables. Parsed once per Platform."""
        c = self.corner(corner)
        if c.missing:
            raise PlatformError(f"platform {self.name}: corner {c.name}: missing {', '.join(c.missing)}")
        if c.name not in self._liberty_cache:
            from flow.formats.liberty import read_liberty

            libs = [read_liberty(p) for p in c.liberty]
            merged = dict(libs[0])
            merged["cells"] = {k: v for lib in libs for k, v in lib["cells"].items()}
            self._liberty_cache[c.name] = merged
        return self._liberty_cache[c.name]

    def layer(self, name: str) -> Layer:
        if name not in self.layers:
            raise ConfigError(f"platform {self.name}: unknown layer {name!r}")
        return self.layers[name]

    @property
    def signal_layer(self) -> Layer:
        return self.layer(self.signal_wire_layer)

    @property
    def clock_layer(self) -> Layer:
        return self.layer(self.clock_wire_layer)

    def is_dont_use(self, cell_name: str, extra_patterns: Iterable[str] = ()) -> bool:
        patterns = list(self.cells.get("dont_use", [])) + list(extra_patterns)
        return any(fnmatch.fnmatchcase(cell_name, p) for p in patterns)

    def require_voltages(self, count: int, feature: str) -> list[Corner]:
        """Corners at `count` distinct supply voltages for a multi-voltage feature, or one
        PlatformError saying what the feature needs and which corners this tree lacks."""
        by_v: dict[float, Corner] = {}
        for c in self.corners_by_voltage():
            by_v.setdefault(c.voltage, c)
        if len(by_v) >= count:
            return list(by_v.values())
        have = ", ".join(f"{c.name} ({c.voltage:g} V)" for c in self.corners.values()) or "none"
        absent = ", ".join(f"{k} (no {', '.join(v)})" for k, v in self.absent_corners.items())
        raise PlatformError(
            f"{feature} needs Liberty corners at {count} supply voltages; platform {self.name} in "
            f"{self.root} has {have}" + (f"; absent from this tree: {absent}" if absent else "")
        )

    def corners_by_voltage(self, process: str | None = None) -> list[Corner]:
        """Corners sorted by supply voltage, optionally of one process (for multi-voltage)."""
        cs = [c for c in self.corners.values() if process is None or c.process == process]
        return sorted(cs, key=lambda c: c.voltage)


def _default_corner(cfg: dict[str, Any], present: dict[str, Corner]) -> str:
    """The TOML's default corner, or, when this tree lacks it, the first corner present."""
    want = str(cfg.get("default_corner", next(iter(cfg["corners"]))))
    if want in present or not present:
        return want
    return next(iter(present))


# ---- discovery ---------------------------------------------------------------------------
def platform_search_path() -> list[Path]:
    """Directories that may hold ORFS-style `<platform>/` folders, in priority order."""
    paths: list[Path] = []
    env = os.environ.get("VHFLOW_PLATFORMS")
    if env:
        for p in (Path(p) for p in env.split(os.pathsep) if p):
            if not p.is_dir():
                raise PlatformError(f"VHFLOW_PLATFORMS names {p}, which is not a directory")
            paths.append(p)
    orfs = os.environ.get("ORFS_ROOT")
    if orfs:
        tree = Path(orfs) / "flow" / "platforms"
        if not tree.is_dir():
            raise PlatformError(f"ORFS_ROOT={orfs}: no {tree} (an ORFS checkout has flow/platforms/)")
        paths.append(tree)
    for base in (REPO_ROOT, Path.cwd()):
        cand = (base.parent / "shared" / "pdks").resolve()
        if cand not in paths:
            paths.append(cand)
    return paths


def _find_file(root: Path, rel: str) -> Path | None:
    p = root / rel
    if p.exists():
        return p
    gz = root / (rel + ".gz")
    if gz.exists():
        return gz
    if rel.endswith(".gz") and (root / rel[:-3]).exists():
        return root / rel[:-3]
    return None


def platform_config_files(extra: Iterable[Path] = ()) -> dict[str, Path]:
    """Platform name -> TOML path: built-ins first, then plugin-provided ones (which override)."""
    found: dict[str, Path] = {}
    for p in sorted(BUILTIN_PLATFORM_CONFIGS.glob("*.toml")):
        found[p.stem] = p
    for p in extra:
        found[Path(p).stem] = Path(p)
    return found


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        from flow.errors import FormatError

        line = getattr(exc, "lineno", None)
        raise FormatError(path, line, f"invalid TOML: {exc}") from None
    except OSError as exc:
        raise PlatformError(f"{path}: cannot read platform config: {exc.strerror}") from None


def load_platform(name: str, extra_configs: Iterable[Path] = ()) -> Platform:
    """Resolve a platform by name; files are located but not parsed."""
    configs = platform_config_files(extra_configs)
    if name not in configs:
        raise ConfigError(f"unknown platform {name!r} (known: {', '.join(sorted(configs))})")
    cfg_path = configs[name]
    cfg = _load_toml(cfg_path)
    root = None
    for base in platform_search_path():
        if (base / name).is_dir():
            root = base / name
            break
    missing: list[str] = []

    def locate(rel: str) -> Path | None:
        if root is None:
            return None
        p = _find_file(root, rel)
        if p is None:
            missing.append(rel)
        return p

    try:
        corners: dict[str, Corner] = {}
        absent: dict[str, tuple[str, ...]] = {}
        for cname, c in cfg["corners"].items():
            before = len(missing)
            libs = tuple(p for p in (locate(r) for r in c["liberty"]) if p is not None)
            corner = Corner(
                name=cname,
                liberty=libs,
                process=str(c.get("process", "typical")),
                voltage=float(c["voltage"]),
                temperature=float(c["temperature"]),
                missing=tuple(missing[before:]) if root is not None else tuple(c["liberty"]),
            )
            if root is not None and corner.missing:
                absent[cname] = corner.missing  # a tree with a subset of corners, as ORFS ships
                del missing[before:]
                continue
            corners[cname] = corner
        if root is not None and not corners:
            missing.extend(f for files in absent.values() for f in files)  # no Liberty at all
        layers = {
            lname: Layer(
                name=lname,
                direction=str(lay.get("direction", "horizontal")),
                pitch=float(lay.get("pitch_um", 0.0)) * 1e-6,
                r_per_m=float(lay["r_ohm_per_um"]) * 1e6,
                c_per_m=float(lay["c_ff_per_um"]) * 1e-15 * 1e6,
            )
            for lname, lay in cfg.get("layers", {}).items()
        }
        site = cfg["site"]
        tech = locate(cfg["tech_lef"])
        cell_lefs = tuple(p for p in (locate(r) for r in cfg.get("cell_lefs", [])) if p is not None)
        known = {
            "name", "description", "process_nm", "tech_lef", "cell_lefs", "default_corner", "corners",
            "site", "layers", "signal_wire_layer", "clock_wire_layer", "power_net", "ground_net",
            "place_density", "cells", "power_switch", "level_shifter",
        }
        plat = Platform(
            name=name,
            root=root,
            config_path=cfg_path,
            description=str(cfg.get("description", "")),
            process_nm=float(cfg.get("process_nm", 0)),
            tech_lef=tech,
            cell_lefs=cell_lefs,
            corners=corners,
            default_corner=_default_corner(cfg, corners),
            site=Site(str(site["name"]), float(site["width_um"]) * 1e-6, float(site["height_um"]) * 1e-6),
            layers=layers,
            signal_wire_layer=str(cfg["signal_wire_layer"]),
            clock_wire_layer=str(cfg["clock_wire_layer"]),
            power_net=str(cfg.get("power_net", "VDD")),
            ground_net=str(cfg.get("ground_net", "VSS")),
            place_density=float(cfg.get("place_density", 0.6)),
            cells=dict(cfg.get("cells", {})),
            power_switch=dict(cfg.get("power_switch", {})),
            level_shifter=dict(cfg.get("level_shifter", {})),
            extra={k: v for k, v in cfg.items() if k not in known},
            absent_corners=absent,
            _missing=tuple(missing),
        )
    except KeyError as exc:
        raise ConfigError(f"{cfg_path}: platform config lacks required key {exc.args[0]!r}") from None
    if corners and plat.default_corner not in corners:
        raise ConfigError(f"{cfg_path}: default_corner {plat.default_corner!r} is not a corner")
    for lname in (plat.signal_wire_layer, plat.clock_wire_layer):
        if lname not in layers:
            raise ConfigError(f"{cfg_path}: wire layer {lname!r} is not among [layers]")
    return plat
