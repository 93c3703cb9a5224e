"""The openroad backend: ORFS `config.mk` and per-stage OpenROAD Tcl from jinja2 templates, a
subprocess runner for `openroad`, and (in `openroad_reports`) parsers for what it prints.

Why render rather than drive ORFS's Makefile: the flow's config, platform and FINE-VH islands
are already resolved here, so each stage script states exactly which files and numbers it uses
and can be checked command by command without the binary (tests evaluate the Tcl with stub
commands). `config.mk` is still written so the same design runs under ORFS (`make DESIGN_CONFIG=`).

Stages hand over through OpenDB files (`write_db` / `read_db`); Liberty and SDC are not kept in
an .odb, so every stage after the floorplan reads them again (as ORFS's `load.tcl` does).

Voltage islands: their regions are created in `floorplan.tcl` (`create_voltage_domain`, or the
UPF's `set_domain_area` via `read_upf`) because `initialize_floorplan` cuts rows around them and
`pdngen` needs them; `place.tcl` puts each island's instances in its group (fence) before
global placement, and `pdn.tcl` gives each island its own voltage domain and grid.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flow.errors import ConfigError, FormatError, PlatformError, StageError, ToolError, VhflowError
from flow.platform import Platform

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: stage scripts in flow order (each reads the previous stage's .odb)
STAGES = ("floorplan", "pdn", "place", "cts", "route", "signoff")
MANIFEST = "openroad.json"


# ---- Tcl / make quoting ----------------------------------------------------------------------
_TCL_BARE = re.compile(r"[A-Za-z0-9_./+\-=:@%,*]+")
_TCL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def tcl_word(value: Any, what: str = "value") -> str:
    """One Tcl word that evaluates to exactly `value`: the only quoting of OpenROAD Tcl.

    Bare when it is made of safe characters, else every other character backslash-escaped
    (control characters as `\\uXXXX`): unlike bracing, this cannot be ended early by a brace,
    a backslash or a newline in the value, and it means the same inside a braced list. NUL
    cannot reach OpenROAD's C strings, so it is refused (ConfigError naming `what`)."""
    s = str(value)
    if _TCL_BARE.fullmatch(s):
        return s
    if not s:
        return "{}"
    if "\0" in s:
        raise ConfigError(f"{what} = {s!r}: a NUL character cannot be written into an OpenROAD script")
    out = []
    for ch in s:
        if ch.isalnum() and ch.isascii() or ch in "_./+-=:@%,*":
            out.append(ch)
        elif ch in _TCL_ESCAPES:
            out.append(_TCL_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        elif ord(ch) < 0x80:
            out.append("\\" + ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else ch)
    return "".join(out)


def tcl_list(values: Sequence[Any]) -> str:
    """A braced Tcl list of words."""
    return "{" + " ".join(tcl_word(v) for v in values) + "}"


def num(v: float, digits: int = 4) -> str:
    """A number as Tcl/make reads it: fixed point, trailing zeros dropped (no 1e-05 surprises)."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if not math.isfinite(v):
        raise ConfigError(f"non-finite number {v!r} in an OpenROAD script")
    s = f"{v:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if s in {"-0", ""} else s


def sci(v: float) -> str:
    return f"{v:.6g}"


def rc_value(v: float) -> str:
    """A `set_layer_rc` number: 7 significant digits, as many as ORFS's setRC.tcl writes."""
    return f"{v:.7g}"


def via_resistances(platform: Any) -> dict[str, float]:
    """Via name -> resistance per cut (ohm) from the platform TOML's `[via_rc]` (ORFS setRC.tcl's
    `set_layer_rc -via`); empty when the platform lists none (nangate45's setRC has none)."""
    vias = platform.extra.get("via_rc") or {}
    if not isinstance(vias, dict):
        raise ConfigError(f"{platform.config_path}: [via_rc] must be a table of via name = ohm")
    out = {}
    for name, r in vias.items():
        if isinstance(r, bool) or not isinstance(r, int | float) or not math.isfinite(r) or r < 0:
            raise ConfigError(f"{platform.config_path}: [via_rc] {name} = {r!r} is not a resistance (ohm)")
        out[str(name)] = float(r)
    return out


def _make_value(v: Any, name: str = "value") -> str:
    """A config value as ORFS's make reads it: the only quoting of `config.mk`. Lists are
    space-separated, `$` and `#` escaped; a line break, NUL or backslash (which make reads as a
    line continuation or an escape) cannot be written and is a ConfigError naming the variable."""
    if isinstance(v, bool):
        s = "1" if v else "0"
    elif isinstance(v, dict):
        s = " ".join(f"{_make_value(k, name)} {_make_value(x, name)}" for k, x in v.items())
        return s
    elif isinstance(v, list | tuple):
        return " ".join(_make_value(x, name) for x in v)
    elif isinstance(v, float):
        s = num(v, 6)
    else:
        s = str(v)
    for bad, why in (("\n", "spans lines"), ("\r", "spans lines"), ("\0", "holds a NUL"),
                     ("\\", "holds a backslash (a make escape)")):
        if bad in s:
            raise ConfigError(f"{name} = {s!r} {why}; config.mk cannot hold it")
    return s.replace("$", "$$").replace("#", "\\#")


# ---- platform knowledge ORFS keeps in its platform scripts -----------------------------------------
@dataclass(frozen=True)
class Stripe:
    layer: str
    width: float
    pitch: float | None = None
    offset: float | None = None
    followpins: bool = False


@dataclass(frozen=True)
class PdnStrategy:
    """Global connections and the standard-cell grid of a platform (ORFS `pdn.tcl`)."""

    power_pins: tuple[str, ...]  # regexes; the first is the primary (-power) pin
    ground_pins: tuple[str, ...]
    stripes: tuple[Stripe, ...]
    connects: tuple[tuple[str, str], ...]


#: from ORFS flow/platforms/<name>/pdn.tcl (grid_strategy-M1-M4-M7 and the sky130hd default)
PDN_STRATEGIES: dict[str, PdnStrategy] = {
    "nangate45": PdnStrategy(
        power_pins=("^VDD$", "^VDDPE$", "^VDDCE$"), ground_pins=("^VSS$", "^VSSE$"),
        stripes=(Stripe("metal1", 0.17, followpins=True), Stripe("metal4", 0.48, 56.0, 2.0),
                 Stripe("metal7", 1.40, 40.0, 2.0)),
        connects=(("metal1", "metal4"), ("metal4", "metal7")),
    ),
    "sky130hd": PdnStrategy(
        power_pins=("^VPWR$", "^VPB$"), ground_pins=("^VGND$", "^VNB$"),
        stripes=(Stripe("met1", 0.48, 5.44, 0.0, followpins=True), Stripe("met4", 1.6, 27.14, 13.57),
                 Stripe("met5", 1.6, 27.2, 13.6)),
        connects=(("met1", "met4"), ("met4", "met5")),
    ),
}


def pdn_strategy(platform: Platform) -> PdnStrategy:
    """The platform's grid: a `[pdn]` table in its TOML wins, then the ORFS one above, else a
    generic grid (follow-pins on the lowest layer, straps on the signal and clock layers)."""
    spec = platform.extra.get("pdn")
    if isinstance(spec, Mapping):
        try:
            return PdnStrategy(
                power_pins=tuple(spec.get("power_pins", [f"^{platform.power_net}$"])),
                ground_pins=tuple(spec.get("ground_pins", [f"^{platform.ground_net}$"])),
                stripes=tuple(Stripe(str(s["layer"]), float(s["width"]), s.get("pitch"), s.get("offset"),
                                     bool(s.get("followpins", False))) for s in spec["stripes"]),
                connects=tuple((str(a), str(b)) for a, b in spec["connects"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{platform.config_path}: [pdn] table is malformed ({exc})") from None
    if platform.name in PDN_STRATEGIES:
        return PDN_STRATEGIES[platform.name]
    names = list(platform.layers)
    if not names:
        raise PlatformError(f"platform {platform.name}: no layers to build a power grid on")
    rh = platform.site.height * 1e6
    low = names[0]
    vert = [n for n in names[1:] if platform.layers[n].direction == "vertical"]
    horiz = [n for n in names[1:] if platform.layers[n].direction == "horizontal"]
    straps = [n for n in (vert[len(vert) // 2] if vert else None, horiz[-1] if horiz else None) if n]
    stripes = [Stripe(low, round(0.12 * rh, 3), followpins=True)]
    stripes += [Stripe(n, round(0.35 * rh, 3), round(20 * rh, 3), round(rh, 3)) for n in straps]
    chain = [low, *straps]
    return PdnStrategy((f"^{platform.power_net}$",), (f"^{platform.ground_net}$",), tuple(stripes),
                       tuple(zip(chain, chain[1:], strict=False)))


def liberty_units(path: Path) -> dict[str, float]:
    """Time (s), capacitance (F) and resistance (Ω) units of a Liberty file's header — the units
    OpenSTA's commands (`set_layer_rc`, report values) use after the first `read_liberty`."""
    try:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as fh:
            head = fh.read(200_000).decode("latin-1")
    except OSError as exc:
        raise FormatError(path, None, f"cannot read Liberty header: {exc}") from None
    scale = {"": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15, "k": 1e3, "M": 1e6}
    out = {"time_s": 1e-9, "cap_f": 1e-12, "res_ohm": 1e3}
    m = re.search(r'time_unit\s*:\s*"?\s*([\d.]+)\s*([munpf]?)s', head)
    if m:
        out["time_s"] = float(m.group(1)) * scale[m.group(2)]
    m = re.search(r"capacitive_load_unit\s*\(\s*([\d.]+)\s*,\s*([munpf]?)f\s*\)", head, re.I)
    if m:
        out["cap_f"] = float(m.group(1)) * scale[m.group(2).lower()]
    m = re.search(r'pulling_resistance_unit\s*:\s*"?\s*([\d.]+)\s*([kmM]?)ohm', head)
    if m:
        out["res_ohm"] = float(m.group(1)) * scale[m.group(2)]
    return out


# ---- render -------------------------------------------------------------------------------
def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False,
    )
    env.filters["tcl"] = tcl_word
    env.filters["tcl_list"] = tcl_list
    env.filters["num"] = num
    return env


def _um(v_m: float) -> float:
    return round(float(v_m) * 1e6, 4)


def _plain_lef(src: Path, out_dir: Path) -> Path:
    """A gzip LEF unpacked beside the scripts: not every OpenROAD build reads .lef.gz."""
    if not str(src).endswith(".gz"):
        return src
    dst = out_dir / "platform" / Path(src).name[:-3]
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists() or dst.stat().st_mtime < Path(src).stat().st_mtime:
        with gzip.open(src, "rb") as fin, open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return dst


def _normalise_sdc(src: Path, dst: Path, design: str) -> None:
    """The design SDC as OpenROAD reads it: LF line ends, a header naming the source, a final
    newline (a missing one silently drops the last command in some readers)."""
    try:
        text = Path(src).read_text()
    except OSError as exc:
        raise ConfigError(f"SDC_FILE {src}: cannot read ({exc.strerror})") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n") + "\n"
    dst.write_text(_env().get_template("constraint.sdc.j2").render(design=design, source=str(src), text=text))


def _openroad_upf(src: Path, dst: Path) -> Path:
    """A copy of the UPF that OpenROAD's `read_upf` accepts (`flow.formats.upf.to_openroad`):
    only its commands and options; supply ports/nets (pdngen's job), `-include_scope` and our
    two-rail `set_domain_voltage -rails` extension are left out, each named in a comment."""
    from flow.formats.upf import read_upf, to_openroad, write_upf

    upf, notes = to_openroad(read_upf(src))
    header = "\n".join([f"read_upf copy of {src} written by vhflow (OpenROAD read_upf commands only)",
                         *(f"left out: {n}" for n in notes)])
    write_upf(upf, dst, header=header)
    return dst


def _upf_info(upf: Path) -> dict[str, Any]:
    """Domains, their primary/secondary supplies and switch controls from our UPF (FINE-VH writes
    PD_TOP plus PD_<island> with header switches from VDDH and VDDL)."""
    from flow.formats.upf import read_upf

    u = read_upf(upf)
    doms: dict[str, dict[str, Any]] = {d: {"inputs": [], "control": None, "power": None} for d in u.domains()}
    for c in u.of("create_power_domain"):
        doms.setdefault(str(c.positional()[0]), {"inputs": [], "control": None, "power": None})
    for c in u.of("set_domain_supply_net"):
        d = str(c.positional()[0])
        if d in doms:
            doms[d]["power"] = c.option("-primary_power_net")
    for c in u.of("create_power_switch"):
        d = c.option("-domain")
        if d not in doms:
            continue
        inp = c.option("-input_supply_port")
        ctl = c.option("-control_port")
        if isinstance(inp, list) and len(inp) >= 2 and inp[1] not in doms[d]["inputs"]:
            doms[d]["inputs"].append(str(inp[1]))
        if isinstance(ctl, list) and len(ctl) >= 2 and doms[d]["control"] is None:
            doms[d]["control"] = str(ctl[1])
    top = next((d for d, c in ((c.positional()[0], c) for c in u.of("create_power_domain"))
                if "-include_scope" in c.args or "." in (c.option("-elements") or [])), None)
    return {"domains": doms, "top": top}


def _islands(islands: Mapping[str, Any] | None, upf: Path | None, core_power: str) -> tuple[list[dict], str]:
    """Per island: region/domain name, rectangle in µm, instances and nets; and the core net."""
    if not islands:
        return [], core_power
    regions = islands.get("regions") if isinstance(islands, Mapping) else None
    if not isinstance(regions, list) or not regions:
        raise ConfigError("islands: expected {'regions': [{'name', 'rects', 'instances'}, ...]}")
    info = _upf_info(upf) if upf is not None else None
    if info and info["top"] and info["domains"][info["top"]]["power"]:
        core_power = str(info["domains"][info["top"]]["power"])
    out: list[dict] = []
    seen: set[str] = set()
    for r in regions:
        try:
            name = str(r["name"])
            rects = [[float(v) for v in rect] for rect in r["rects"]]
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"islands: region {r!r} lacks a name or numeric rects") from None
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in seen:
            raise ConfigError(f"islands: region name {name!r} is not a unique identifier")
        seen.add(name)
        if len(rects) != 1 or len(rects[0]) != 4:
            raise ConfigError(f"islands: region {name} must have exactly one rect [x0, y0, x1, y1] "
                              "(OpenROAD voltage domains are rectangles)")
        x0, y0, x1, y1 = rects[0]
        if not (x1 > x0 and y1 > y0 and x0 >= 0 and y0 >= 0):
            raise ConfigError(f"islands: region {name} rect {rects[0]} is empty or not inside the positive quadrant")
        domain, dom = name, None
        if info is not None:
            for cand in (f"PD_{name}", name):
                if cand in info["domains"]:
                    domain, dom = cand, info["domains"][cand]
                    break
        inputs = list(dom["inputs"]) if dom else []
        out.append({
            "name": name,
            "region": domain,  # the UPF names regions after their power domain
            "create": info is None or dom is None,  # read_upf creates those it defines
            "exclusive": bool(r.get("exclusive", True)),
            "rect_um": [_um(v) for v in rects[0]],
            "area": tcl_list([num(_um(v)) for v in rects[0]]),
            "instances": [str(i) for i in r.get("instances", [])],
            "power": inputs[0] if inputs else core_power,
            "secondary": inputs[1:],
            "net": str(dom["power"]) if dom and dom["power"] else f"VDD_{name}",
            "control": str(dom["control"]) if dom and dom["control"] else f"hop_{name}",
            "grid": f"grid_{name}",
        })
    return out, core_power


def _fixed_insts(islands: Mapping[str, Any] | None) -> str | None:
    """Tcl list `name x_um y_um ...` of cells a plugin pre-placed (islands' `fixed`, metres)."""
    fixed = (islands or {}).get("fixed") or []
    try:
        words = [w for f in fixed for w in (str(f["name"]), num(float(f["x"]) * 1e6), num(float(f["y"]) * 1e6))]
    except (KeyError, TypeError, ValueError):
        raise ConfigError("islands: 'fixed' entries need name, x and y (m)") from None
    return tcl_list(words) if words else None


def _cfg_dict(config: Mapping[str, Any]) -> dict[str, Any]:
    # ResolvedConfig raises ConfigError (not KeyError) for unknown keys, so `.get` would not work
    return {k: config[k] for k in config}


def render(
    config: Mapping[str, Any],
    platform: Platform,
    out_dir: Path,
    *,
    netlist: Path | None = None,
    islands: dict | None = None,
    upf: Path | None = None,
) -> dict[str, Path]:
    """Write config.mk, constraint.sdc, one Tcl per stage and `openroad.json` into out_dir.

    Returns name -> path: "config", "sdc", "manifest" and each of STAGES (the Tcl scripts, in
    flow order, which `run` executes). `netlist` is the gate-level Verilog OpenROAD reads; without
    it VERILOG_FILES are read as they are (they must then be gate-level already).

    Choices worth knowing: sign-off runs at SIGNOFF_CORNERS (default: every platform corner, as
    the embedded sign-off does), the stage corner first; `detailed_route` is rendered only when
    DETAILED_ROUTE_END_ITERATION is set (sign-off parasitics come from the global-route guides,
    as no RCX rules ship with the platforms); a power-switch grid needs `power_switch.cell` in the
    platform, else each island is a domain on its own rail `VDD_<island>`.
    """
    cfg = _cfg_dict(config)
    platform.require_files()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for key in ("DESIGN_NAME", "SDC_FILE", "VERILOG_FILES"):
        if not cfg.get(key):
            raise ConfigError(f"the openroad backend needs {key}")
    design = str(cfg["DESIGN_NAME"])
    corner = platform.corner(cfg.get("CORNER"))
    signoff_corners = [platform.corner(c) for c in (cfg.get("SIGNOFF_CORNERS") or list(platform.corners))]
    if corner.name in {c.name for c in signoff_corners}:  # the stage corner first: it is the default one
        signoff_corners.sort(key=lambda c: c.name != corner.name)
    units = liberty_units(corner.liberty[0])

    sdc_out = out_dir / "constraint.sdc"
    _normalise_sdc(Path(cfg["SDC_FILE"]), sdc_out, design)
    period = cfg.get("CLOCK_PERIOD")
    if period is None:
        try:
            from flow.config import clock_period_from_sdc

            period = clock_period_from_sdc(Path(cfg["SDC_FILE"]))
        except (VhflowError, ValueError):
            period = None

    if netlist is not None and not Path(netlist).exists():
        raise ConfigError(f"netlist {netlist} does not exist")
    verilog = [Path(netlist).resolve()] if netlist is not None else [Path(p) for p in cfg["VERILOG_FILES"]]
    die, core_a = cfg.get("DIE_AREA"), cfg.get("CORE_AREA")
    if (die is None) != (core_a is None) or (die is not None and (len(die) != 4 or len(core_a) != 4)):
        raise ConfigError("DIE_AREA and CORE_AREA must both be given as 4 numbers (µm)")
    util = float(cfg.get("CORE_UTILIZATION", 40.0))
    if die is None and not 0 < util <= 100:
        raise ConfigError(f"CORE_UTILIZATION = {util}: must be in (0, 100] %")
    density = cfg.get("PLACE_DENSITY")
    density = float(platform.place_density if density is None else density)
    if not 0 < density <= 1:
        raise ConfigError(f"PLACE_DENSITY = {density}: must be in (0, 1]")

    ex = platform.extra
    io_h = str(cfg.get("IO_PLACER_H") or ex.get("io_layer_horizontal") or platform.signal_wire_layer)
    io_v = str(cfg.get("IO_PLACER_V") or ex.get("io_layer_vertical") or next(
        (n for n, lay in platform.layers.items() if lay.direction == "vertical"), platform.signal_wire_layer))
    names = list(platform.layers)
    min_layer = str(cfg.get("MIN_ROUTING_LAYER") or ex.get("min_routing_layer") or names[0])
    max_layer = str(cfg.get("MAX_ROUTING_LAYER") or ex.get("max_routing_layer") or names[-1])
    for lname in (io_h, io_v, min_layer, max_layer):
        if lname not in platform.layers:
            raise ConfigError(f"layer {lname!r} is not a layer of platform {platform.name} ({', '.join(names)})")

    cells = platform.cells
    dont_use = sorted(set(cells.get("dont_use", [])) | set(cfg.get("DONT_USE_CELLS") or []))
    pdn = pdn_strategy(platform)
    isl, core_power = _islands(islands, upf, "VDD")
    sw = platform.power_switch
    switch = None
    if isl and sw.get("cell"):
        switch = {
            "name": str(sw["cell"]), "control": str(sw.get("control_pin", "SLEEP")),
            "ack": sw.get("acknowledge_pin"), "switched": str(sw.get("switched_power_pin", platform.power_net)),
            "power": str(sw.get("power_pin", "VDDG")), "ground": str(sw.get("ground_pin", platform.ground_net)),
        }
        for i in isl:
            i["switched"] = i["net"]
    else:
        for i in isl:  # no switch cell: the island's own rail is its domain's power net
            i["switched"] = None
            i["power"] = i["net"]
            i["secondary"] = []

    global_conn = []
    for k, pin in enumerate(pdn.power_pins):
        global_conn.append({"net": core_power, "pin": tcl_word(pin), "kind": "power" if k == 0 else "", "region": None})
    for k, pin in enumerate(pdn.ground_pins):
        global_conn.append({"net": "VSS", "pin": tcl_word(pin), "kind": "ground" if k == 0 else "", "region": None})
    for i in isl:
        for k, pin in enumerate(pdn.power_pins):
            global_conn.append({"net": i["net"], "pin": tcl_word(pin), "kind": "power" if k == 0 else "",
                                "region": i["region"]})
    if switch:
        for net in dict.fromkeys(i["power"] for i in isl):
            global_conn.append({"net": net, "pin": tcl_word(f"^{switch['power']}$"), "kind": "power", "region": None})

    res_u, cap_u = units["res_ohm"], units["cap_f"]
    layer_rc = [{"name": lay.name, "r": rc_value(lay.r_per_m * 1e-6 / res_u), "c": rc_value(lay.c_per_m * 1e-6 / cap_u)}
                for lay in platform.layers.values()]
    via_rc = [{"name": str(v), "r": rc_value(float(r) / res_u)} for v, r in via_resistances(platform).items()]
    tapcell = cells.get("tapcell") or None
    tie = [(cells[c], cells[c + "_port"]) for c in ("tie_lo", "tie_hi") if cells.get(c) and cells.get(c + "_port")]
    activity = cfg.get("ACTIVITY")
    ctx: dict[str, Any] = {
        "design": design, "platform": platform.name, "out_dir": str(out_dir),
        "tech_lef": str(_plain_lef(platform.tech_lef, out_dir)) if platform.tech_lef else None,
        "cell_lefs": [str(_plain_lef(p, out_dir)) for p in platform.cell_lefs],
        "liberty": [str(p) for p in corner.liberty],
        "signoff_corners": [{"name": c.name, "liberty": [str(p) for p in c.liberty]} for c in signoff_corners],
        "verilog": [str(p) for p in verilog], "sdc": str(sdc_out),
        "upf": str(_openroad_upf(Path(upf), out_dir / f"{design}.openroad.upf")) if upf else None,
        "floorplan_def": str(cfg["FLOORPLAN_DEF"]) if cfg.get("FLOORPLAN_DEF") and die is None else None,
        "die_area": tcl_list([num(float(v)) for v in die]) if die is not None else None,
        "core_area": tcl_list([num(float(v)) for v in core_a]) if core_a is not None else None,
        "utilization": num(util), "aspect_ratio": num(float(cfg.get("CORE_ASPECT_RATIO", 1.0))),
        "core_margin": num(float(cfg.get("CORE_MARGIN", 2.0))), "site": platform.site.name,
        "tapcell": tapcell, "tap_distance": num(float(cells.get("tapcell_distance_um", 20.0))),
        "endcap": cells.get("endcap") or None,
        "io_h": io_h, "io_v": io_v, "min_layer": min_layer, "max_layer": max_layer,
        "layer_adjustment": num(float(cfg.get("ROUTING_LAYER_ADJUSTMENT") or 0.5)),
        "layer_rc": layer_rc, "via_rc": via_rc, "signal_layer": platform.signal_wire_layer, "clock_layer": platform.clock_wire_layer,
        "dont_use": tcl_list(dont_use) if dont_use else None,
        "density": num(density), "lb_addon": (num(float(cfg["PLACE_DENSITY_LB_ADDON"]))
                                              if cfg.get("PLACE_DENSITY_LB_ADDON") is not None else None),
        "gpl_pad": cfg.get("CELL_PAD_IN_SITES_GLOBAL_PLACEMENT"),
        "dpl_pad": cfg.get("CELL_PAD_IN_SITES_DETAIL_PLACEMENT"),
        "routability": bool(cfg.get("GPL_ROUTABILITY_DRIVEN")), "timing_driven": bool(cfg.get("GPL_TIMING_DRIVEN")),
        "tie": tie, "cts_buffer": cells.get("cts_buffer") or cells.get("min_buffer"),
        "cts_cluster_size": cfg.get("CTS_CLUSTER_SIZE"), "cts_cluster_diameter": cfg.get("CTS_CLUSTER_DIAMETER"),
        "cts_buf_distance": cfg.get("CTS_BUF_DISTANCE"), "hold_margin": cfg.get("HOLD_SLACK_MARGIN"),
        "setup_margin": cfg.get("SETUP_SLACK_MARGIN"), "tns_end_percent": cfg.get("TNS_END_PERCENT"),
        # ORFS passes SETUP_MOVE_SEQUENCE to repair_timing -sequence as it is
        "setup_sequence": str(cfg["SETUP_MOVE_SEQUENCE"]).strip() if cfg.get("SETUP_MOVE_SEQUENCE") else None,
        "slew_margin": cfg.get("SLEW_MARGIN"), "cap_margin": cfg.get("CAP_MARGIN"),
        "rcx_rules": str(platform.root / "rcx_patterns.rules") if (platform.root / "rcx_patterns.rules").is_file() else None,
        "final_spef": str(out_dir / f"{design}.spef"),
        "detailed_route": bool(cfg.get("DETAILED_ROUTE_END_ITERATION")),
        "droute_end_iter": cfg.get("DETAILED_ROUTE_END_ITERATION"),
        "fillers": tcl_list(cells["fillers"]) if cells.get("fillers") else None,
        "core_power": core_power, "ground": "VSS", "global_connections": global_conn,
        "stripes": pdn.stripes, "connects": pdn.connects, "islands": isl, "switch": switch,
        "fixed_insts": _fixed_insts(islands),
        "propagated": cfg.get("CLOCK_PROPAGATED"),
        "activity": str(activity) if activity else None, "activity_scope": cfg.get("ACTIVITY_SCOPE"),
        "activity_kind": ("saif" if activity and ".saif" in str(activity).lower() else "vcd"),
        "input_activity": num(float(cfg.get("INPUT_ACTIVITY", 0.1))),
        "db": {s: str(out_dir / f"{s}.odb") for s in STAGES},
        "guide": str(out_dir / "route.guide"), "drc": str(out_dir / "route.drc.rpt"),
        "final_def": str(out_dir / f"{design}.def"), "final_v": str(out_dir / f"{design}.v"),
    }
    files: dict[str, Path] = {"sdc": sdc_out}
    if upf:
        files["upf"] = Path(ctx["upf"])
    env = _env()
    files["config"] = out_dir / "config.mk"
    files["config"].write_text(env.get_template("config.mk.j2").render(
        **ctx, make=_config_mk_vars(cfg, platform, sdc_out, density, period, dont_use)))
    for stage in STAGES:
        prev = STAGES[STAGES.index(stage) - 1] if stage != "floorplan" else None
        text = env.get_template(f"{stage}.tcl.j2").render(**ctx, stage=stage, prev_db=ctx["db"].get(prev or ""),
                                                          out_db=ctx["db"][stage])
        path = out_dir / f"{stage}.tcl"
        path.write_text(text)
        files[stage] = path
    manifest = {
        "backend": "openroad", "design": design, "platform": platform.name, "corner": corner.name,
        "signoff_corners": [c.name for c in signoff_corners], "stages": list(STAGES),
        "units": units, "islands": [i["name"] for i in isl], "upf": ctx["upf"],
        "files": {k: str(v) for k, v in files.items()},
    }
    files["manifest"] = out_dir / MANIFEST
    files["manifest"].write_text(json.dumps(manifest, indent=2) + "\n")
    return files


def _config_mk_vars(cfg: dict[str, Any], platform: Platform, sdc: Path, density: float, period: float | None,
                    dont_use: list[str]) -> list[tuple[str, str]]:
    """(name, value) of every ORFS variable this design sets, in ORFS's usual order."""
    from flow.orfs_variables import ORFS_COMPAT_VARIABLES

    out: list[tuple[str, Any]] = [
        ("DESIGN_NAME", cfg["DESIGN_NAME"]), ("PLATFORM", platform.name),
        ("VERILOG_FILES", [str(p) for p in cfg["VERILOG_FILES"]]), ("SDC_FILE", str(sdc)),
    ]
    if cfg.get("VERILOG_INCLUDE_DIRS"):
        out.append(("VERILOG_INCLUDE_DIRS", [str(p) for p in cfg["VERILOG_INCLUDE_DIRS"]]))
    if cfg.get("VERILOG_TOP_PARAMS"):
        out.append(("VERILOG_TOP_PARAMS", dict(cfg["VERILOG_TOP_PARAMS"])))
    if cfg.get("VERILOG_DEFINES"):
        out.append(("VERILOG_DEFINES", [f"-D{k}={v}" for k, v in cfg["VERILOG_DEFINES"].items()]))
    if cfg.get("FLOORPLAN_DEF") is not None:  # ORFS takes the floorplan from it instead
        out.append(("FLOORPLAN_DEF", str(cfg["FLOORPLAN_DEF"])))
    elif cfg.get("DIE_AREA") is not None:
        out += [("DIE_AREA", [num(float(v)) for v in cfg["DIE_AREA"]]),
                ("CORE_AREA", [num(float(v)) for v in cfg["CORE_AREA"]])]
    else:
        out += [("CORE_UTILIZATION", num(float(cfg.get("CORE_UTILIZATION", 40.0)))),
                ("CORE_ASPECT_RATIO", num(float(cfg.get("CORE_ASPECT_RATIO", 1.0)))),
                ("CORE_MARGIN", num(float(cfg.get("CORE_MARGIN", 2.0))))]
    if cfg.get("PLACE_DENSITY_LB_ADDON") is not None:  # ORFS uses it instead of PLACE_DENSITY
        out.append(("PLACE_DENSITY_LB_ADDON", num(float(cfg["PLACE_DENSITY_LB_ADDON"]))))
    else:
        out.append(("PLACE_DENSITY", num(density)))
    if period is not None:
        out.append(("CLOCK_PERIOD", num(float(period))))
        if cfg.get("ABC_CLOCK_PERIOD_IN_PS") is None:
            out.append(("ABC_CLOCK_PERIOD_IN_PS", num(float(period) * 1000.0, 1)))
    if cfg.get("CORNER"):
        out.append(("CORNER", cfg["CORNER"]))
    if cfg.get("DONT_USE_CELLS"):
        out.append(("DONT_USE_CELLS", dont_use))
    # what the floorplan source and density choice above replace is not exported (ORFS would use it)
    replaced = {"FLOORPLAN_DEF", "DIE_AREA", "CORE_AREA", "CORE_UTILIZATION", "CORE_ASPECT_RATIO", "CORE_MARGIN",
                "PLACE_DENSITY", "PLACE_DENSITY_LB_ADDON"}
    for var in ORFS_COMPAT_VARIABLES:
        v = cfg.get(var.name)
        if v is not None and var.name not in {k for k, _ in out} and var.name not in replaced:
            out.append((var.name, [str(p) for p in v] if isinstance(v, list) else str(v) if isinstance(v, Path) else v))
    return [(k, _make_value(v, k)) for k, v in out]


# ---- run ---------------------------------------------------------------------------------
def find_openroad() -> Path | None:
    """`$OPENROAD_EXE` when set (it must exist), else `openroad` on PATH, else None."""
    env = os.environ.get("OPENROAD_EXE")
    if env:
        p = Path(env)
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise ToolError(f"OPENROAD_EXE={env} is not an executable file")
        return p
    found = shutil.which("openroad")
    return Path(found) if found else None


def load_manifest(out_dir: Path) -> dict[str, Any]:
    """What `render` recorded (units, stages, corners) for parsing the run's reports."""
    path = Path(out_dir) / MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise FormatError(path, None, f"cannot read the openroad render manifest: {exc}") from None


def _kill(proc: subprocess.Popen) -> None:
    """End the stage's process group (openroad may spawn helpers); it is ours, started with
    start_new_session, so only it is signalled."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _pump(stream: Any, lines: queue.Queue[str | None]) -> None:
    """Reader thread: the pipe's lines, then None at end of output (lets the caller time out)."""
    for ln in stream:
        lines.put(ln.rstrip("\n"))
    lines.put(None)


_ERROR_LINE = re.compile(r"^\[ERROR [A-Z]+-\d+\]|^Error:")


def run(scripts: Mapping[str, Path], run_dir: Path, timeout_s: float, log: Callable[[str], None]) -> None:
    """Run `openroad -exit -no_init -metrics <stage>.metrics.json <stage>.tcl` for each Tcl
    script in order, in run_dir, streaming every output line to `log` and `<stage>.log`.

    Entries that are not `.tcl` (render's config/sdc/manifest) are skipped, so render's result
    can be passed as is. A non-zero exit, a timeout (per script) or an error line stops the run
    with StageError naming the script and its last lines; no later script runs.
    """
    exe = find_openroad()
    if exe is None:
        raise ToolError("openroad not found: put it on PATH or set OPENROAD_EXE (or use --dry-run)")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, script in scripts.items():
        if Path(script).suffix == ".tcl":
            _run_one(exe, name, Path(script), run_dir, timeout_s, log)


def _run_one(exe: Path, name: str, script: Path, run_dir: Path, timeout_s: float, log: Callable[[str], None]) -> None:
    if not script.exists():
        raise StageError(f"openroad script {script} does not exist")
    log_path = run_dir / f"{name}.log"
    cmd = [str(exe), "-exit", "-no_init", "-metrics", str(run_dir / f"{name}.metrics.json"), str(script.resolve())]
    tail: deque[str] = deque(maxlen=20)
    first_error: str | None = None
    lines: queue.Queue[str | None] = queue.Queue()
    start = time.monotonic()
    with open(log_path, "w") as fh:
        fh.write(f"# {' '.join(cmd)}\n")
        fh.flush()
        try:
            proc = subprocess.Popen(cmd, cwd=run_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, text=True, errors="replace", bufsize=1,
                                    start_new_session=True)
        except OSError as exc:
            raise ToolError(f"cannot start {exe}: {exc.strerror}") from None
        reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
        reader.start()
        while True:
            left = timeout_s - (time.monotonic() - start)
            if left <= 0:
                _kill(proc)
                reader.join(timeout=5)
                fh.write(f"# vhflow: killed after {timeout_s:g} s\n")
                raise StageError(f"openroad {script.name} timed out after {timeout_s:g} s (log: {log_path}); "
                                 "last lines:\n" + "\n".join(tail))
            try:
                ln = lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if ln is None:
                break
            tail.append(ln)
            if first_error is None and _ERROR_LINE.match(ln):
                first_error = ln
            fh.write(ln + "\n")
            fh.flush()
            log(ln)
        rc = proc.wait()
        reader.join(timeout=5)
    if rc != 0 or first_error is not None:
        # the first line is what the CLI prints: it carries OpenROAD's own first error message
        why = f"exit status {rc}" if rc != 0 else "error reported"
        first = f": {first_error.strip()}" if first_error is not None else ""
        detail = "\n".join(tail)
        if first_error is not None and first_error not in tail:
            detail = first_error + "\n...\n" + detail
        raise StageError(f"openroad {script.name} failed ({why}){first} (log: {log_path}); last lines:\n{detail}")


def metrics(files: Mapping[str, Path], run_dir: Path) -> dict[str, Any]:
    """Metrics of a finished run: the stage logs and metrics files in run_dir, read with the
    units `render` recorded (Liberty time unit) — what the runner merges into State."""
    from flow.backends.openroad_reports import collect_metrics

    man = load_manifest(Path(files["manifest"]).parent)
    return collect_metrics(Path(run_dir), man["stages"], time_unit_s=float(man["units"]["time_s"]))
