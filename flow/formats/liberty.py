"""Liberty reader (timing/power subset) into nested dicts in SI units.

Groups become {"type","args","attrs","groups"} dicts; `read_liberty` then keeps what STA, power
and synthesis need per cell — pins (direction, capacitances, function, clock), NLDM timing arcs
(delay/transition/constraint tables with timing_sense/timing_type), internal power tables, state
-dependent and cell leakage, ff/latch groups, area — and library units, nominal voltage.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from flow.errors import FormatError
from flow.util import gc_paused, read_text_without_block_comments

_TIME = {"1ns": 1e-9, "1ps": 1e-12, "10ps": 1e-11, "100ps": 1e-10, "1us": 1e-6}
_CAPU = {"ff": 1e-15, "pf": 1e-12, "nf": 1e-9}
_RESU = {"1ohm": 1.0, "10ohm": 10.0, "100ohm": 100.0, "1kohm": 1e3, "10kohm": 1e4, "100kohm": 1e5, "1mohm": 1e6}
_PWRU = {"1nw": 1e-9, "1pw": 1e-12, "1uw": 1e-6, "1mw": 1e-3, "1w": 1.0, "100nw": 1e-7, "10nw": 1e-8}
_VOLT = {"1v": 1.0, "1mv": 1e-3, "10mv": 1e-2, "100mv": 0.1}




# One match per *statement* (not per token): `}`, `name : value ;`, `name ( args ) {` or
# `name ( args ) ;`. The regex engine does the scanning in C; Python runs once per statement.
_STMT = re.compile(r"""
    \s*(?:
      (?P<close>\})
    | (?P<name>[A-Za-z_][\w.\[\]-]*)[ \t]*
      (?:
        :[ \t]*(?P<val>"[^"]*"|[^;"\n{}]*?)[ \t]*(?:;|(?=\n)|(?=\}))
      | \((?P<args>[^)]*)\)\s*(?P<open>\{)?[ \t]*;?
      )
    | ;
    )""", re.X)
_QUOTED = re.compile(r'"([^"]*)"')
_MIXED = re.compile(r'"([^"]*)"|([^,\s"]+)')


def _liberty_groups(path: Path) -> dict:
    """Parse Liberty into {"type","args","attrs":{name:[values]},"groups":[...]} dicts.

    Why our own parser: a statement-level regular expression makes the library-wide scan run
    in the regex engine, several times faster than token-by-token Python (benchmarks/
    bench_liberty.py compares it with the `liberty-parser` package on the same file)."""
    text = read_text_without_block_comments(path, "Liberty")
    root: dict = {"type": "", "args": [], "attrs": {}, "groups": []}
    stack = [root]
    top = root
    pos, n = 0, len(text)
    match = _STMT.match
    quoted = _QUOTED.findall

    def line_at(p: int) -> int:
        return text.count("\n", 0, p) + 1

    while True:
        m = match(text, pos)
        if m is None or m.end() == pos:
            rest = text[pos:].lstrip()
            if not rest:
                break
            p = n - len(rest)
            raise FormatError(path, line_at(p), f"unexpected Liberty text {rest[:30]!r}")
        pos = m.end()
        name = m.group("name")
        if name is None:
            if m.group("close"):
                if len(stack) == 1:
                    raise FormatError(path, line_at(m.start("close")), "unbalanced '}'")
                stack.pop()
                top = stack[-1]
            continue
        val = m.group("val")
        if val is not None:
            if val.startswith('"'):
                val = val[1:-1]
            attrs = top["attrs"]
            if name in attrs:
                attrs[name].append(val)
            else:
                attrs[name] = [val]
            continue
        raw = m.group("args")
        if '"' not in raw:
            args = [a.strip() for a in raw.split(",") if a.strip()]
        elif _QUOTED.sub("", raw).strip(" ,\t\r\n"):  # quoted and bare arguments mixed
            args = [a or b for a, b in _MIXED.findall(raw)]
        else:
            args = quoted(raw)
        if m.group("open"):
            g = {"type": name, "args": args, "attrs": {}, "groups": []}
            top["groups"].append(g)
            stack.append(g)
            top = g
        else:
            top["attrs"].setdefault(name, []).append(args)
    if len(stack) != 1:
        raise FormatError(path, line_at(n), f"unterminated group {stack[-1]['type']}({', '.join(stack[-1]['args'])}) "
                          "(truncated Liberty?)")
    libs = [g for g in root["groups"] if g["type"] == "library"]
    if not libs:
        raise FormatError(path, None, "no library group")
    return libs[0]


def _a(g: dict, name: str, default: Any = None) -> Any:
    v = g["attrs"].get(name)
    return v[-1] if v else default


def _floats(s: Any) -> np.ndarray:
    if isinstance(s, list):
        s = " ".join(s)
    try:
        return np.array(str(s).replace(",", " ").replace("\\", " ").split(), dtype=float)
    except ValueError:
        raise ValueError(f"not a list of numbers: {str(s)[:40]!r}") from None


def _scaled(v: Any, unit: float) -> float | None:
    """A numeric attribute in SI, or None when absent."""
    return None if v is None else float(v) * unit


@gc_paused
def read_liberty(path: str | Path, *, cache: bool = True) -> dict:
    """Liberty -> dict library in SI (time s, cap F, power W, energy J, area m^2).

    A value that is not a finite number (`6-nan`, `1e309`, stray bytes) is a FormatError naming
    the file and the line where the offending text first appears, never a bare ValueError.
    With `cache`, a file parsed before (same bytes, same reader) is loaded from the user cache
    (flow.formats.parsed_cache): ~0.05 s instead of ~0.5 s for a 7 MB library."""
    path = Path(path)
    if not cache:
        return _parse(path)
    from flow.formats import parsed_cache

    version = parsed_cache.source_version([__name__, "flow.util"])
    result = parsed_cache.cached_parse(path, "liberty", version, _parse)
    result["path"] = str(path)  # the same bytes may have been parsed under another name
    return result


def _parse(path: Path) -> dict:
    """The library dict of one Liberty file (no cache)."""
    lib = _liberty_groups(path)
    try:
        result = _library(path, lib)
    except FormatError as exc:
        if exc.line is not None:
            raise
        raise FormatError(path, _line_of(path, exc), exc.message) from None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise FormatError(path, _line_of(path, exc), f"bad Liberty value: {exc}") from None
    for key in ("nom_voltage", "time_unit", "cap_unit"):
        v = result.get(key)
        if isinstance(v, float) and not math.isfinite(v):
            raise FormatError(path, None, f"{key} is not a finite number ({v})")
    return result


def _line_of(path: Path, exc: Exception) -> int | None:
    """Line of the first occurrence of the quoted text an exception names (best effort)."""
    m = re.search(r"'([^']{1,80})'", str(exc))
    if m is None:
        return None
    try:  # the message shows the text as a Python repr: undo its escapes (\x01 -> the byte)
        needle = ast.literal_eval(f"'{m.group(1)}'")
    except (ValueError, SyntaxError):
        needle = m.group(1)
    text = read_text_without_block_comments(path, "Liberty")
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else None


def _library(path: Path, lib: dict) -> dict:
    """The parsed groups turned into the library dict `read_liberty` returns."""
    tu = _TIME.get(str(_a(lib, "time_unit", "1ns")).lower().replace(" ", ""), 1e-9)
    cl = lib["attrs"].get("capacitive_load_unit")
    cu = float(cl[-1][0]) * _CAPU.get(cl[-1][1].lower(), 1e-12) if cl else 1e-12
    pu = _PWRU.get(str(_a(lib, "leakage_power_unit", "1nW")).lower().replace(" ", ""), 1e-9)
    vu = _VOLT.get(str(_a(lib, "voltage_unit", "1V")).lower().replace(" ", ""), 1.0)
    eu = cu * vu * vu
    templates: dict[str, dict] = {}
    for g in lib["groups"]:
        if g["type"] in ("lu_table_template", "power_lut_template"):
            templates[g["args"][0]] = g
    nom_v = float(_a(lib, "nom_voltage", 0.0) or 0.0) * vu
    for vm in lib["attrs"].get("voltage_map", []):
        if isinstance(vm, list) and len(vm) == 2 and float(vm[1]) > 0:
            nom_v = float(vm[1]) * vu
            break
    scale_for = {"input_net_transition": tu, "input_transition_time": tu, "constrained_pin_transition": tu,
                 "related_pin_transition": tu, "total_output_net_capacitance": cu, "output_net_capacitance": cu}

    indices: dict[tuple, np.ndarray] = {}  # the same index strings recur in thousands of tables

    def index(text: Any, scale: float) -> np.ndarray:
        key = (text if isinstance(text, str) else tuple(text or ()), scale)
        got = indices.get(key)
        if got is None:
            got = indices[key] = (_floats(text) if text else np.zeros(1)) * scale
        return got

    def table(g: dict, vscale: float) -> dict:
        tmpl = templates.get(g["args"][0] if g["args"] else "", {"attrs": {}})
        v1 = _a(tmpl, "variable_1", "")
        v2 = _a(tmpl, "variable_2", "")
        i1 = _a(g, "index_1") or _a(tmpl, "index_1")
        i2 = _a(g, "index_2") or _a(tmpl, "index_2")
        vals = g["attrs"].get("values")
        if vals is None:
            raise FormatError(path, None, f"table {g['type']} without values")
        try:
            arr = _floats(vals[-1]) * vscale
            idx1 = index(i1, scale_for.get(v1, 1.0))
            idx2 = index(i2, scale_for.get(v2, 1.0))
        except ValueError as exc:
            raise FormatError(path, None, f"table {g['type']}: {exc}") from None
        if arr.size != idx1.size * idx2.size and arr.size != 1:
            raise FormatError(path, None, f"table {g['type']}: {arr.size} values for a {idx1.size}×{idx2.size} table")
        if arr.size == 1:
            idx1, idx2 = np.zeros(1), np.zeros(1)
        return {"values": arr.reshape(len(idx1), len(idx2)), "index_1": idx1, "index_2": idx2,
                "variable_1": v1, "variable_2": v2 if i2 else ""}

    cells: dict[str, dict] = {}
    for cg in lib["groups"]:
        if cg["type"] != "cell":
            continue
        cname = cg["args"][0]
        pins: dict[str, dict] = {}
        arcs: list[dict] = []
        ipw: list[dict] = []
        states: list[tuple[str | None, float]] = []
        ff = None
        pin_groups = []
        for g in cg["groups"]:
            if g["type"] == "pin":
                pin_groups += [(a, g) for a in g["args"]]
            elif g["type"] == "bus" or g["type"] == "bundle":
                pin_groups += [(p["args"][0], p) for p in g["groups"] if p["type"] == "pin"]
            elif g["type"] in ("ff", "latch"):
                ff = {"next_state": _a(g, "next_state") or _a(g, "data_in"), "clocked_on": _a(g, "clocked_on"),
                      "names": list(g["args"])}
            elif g["type"] == "leakage_power":
                states.append((_a(g, "when"), float(_a(g, "value", 0.0)) * pu))
        for pname, pg in pin_groups:
            c = float(_a(pg, "capacitance", 0.0) or 0.0) * cu
            pins[pname] = {"direction": _a(pg, "direction", ""), "capacitance": c,
                           "rise_capacitance": float(_a(pg, "rise_capacitance", c / cu)) * cu,
                           "fall_capacitance": float(_a(pg, "fall_capacitance", c / cu)) * cu,
                           "function": _a(pg, "function"), "is_clock": _a(pg, "clock", "false") == "true",
                           "three_state": _a(pg, "three_state"),  # high impedance while true (tristate output)
                           # integrated clock gate role (clock_gate_{clock,enable,test,out}_pin), None if none
                           "clock_gate": next((r for r in ("clock", "enable", "test", "out")
                                               if _a(pg, f"clock_gate_{r}_pin", "false") == "true"), None),
                           # design-rule limits (repair_design): None when the pin sets none
                           "max_transition": _scaled(_a(pg, "max_transition"), tu),
                           "max_capacitance": _scaled(_a(pg, "max_capacitance"), cu),
                           "max_fanout": _scaled(_a(pg, "max_fanout"), 1.0),
                           "fanout_load": _scaled(_a(pg, "fanout_load"), 1.0)}
            for g in pg["groups"]:
                if g["type"] == "timing":
                    tabs = {t["type"]: table(t, tu) for t in g["groups"] if t["type"] in
                            ("cell_rise", "cell_fall", "rise_transition", "fall_transition",
                             "rise_constraint", "fall_constraint")}
                    for rp in str(_a(g, "related_pin", "")).split():
                        arcs.append({"related_pin": rp, "pin": pname, "timing_sense": _a(g, "timing_sense", ""),
                                     "timing_type": _a(g, "timing_type", "combinational"), "tables": tabs})
                elif g["type"] == "internal_power":
                    tabs = {t["type"]: table(t, eu) for t in g["groups"] if t["type"] in ("rise_power", "fall_power")}
                    if "power" in {t["type"] for t in g["groups"]}:
                        t = table(next(t for t in g["groups"] if t["type"] == "power"), eu)
                        tabs = {"rise_power": t, "fall_power": t}
                    rels = str(_a(g, "related_pin", "") or "").split() or [None]
                    for rp in rels:
                        ipw.append({"pin": pname, "related_pin": rp, "when": _a(g, "when"), "tables": tabs})
        leak = _a(cg, "cell_leakage_power")
        cells[cname] = {"pins": pins, "timing_arcs": arcs, "internal_power": ipw, "leakage_states": states,
                        "leakage_power": float(leak) * pu if leak is not None else None,
                        "is_sequential": ff is not None, "ff": ff,
                        "area": float(_a(cg, "area", 0.0) or 0.0) * 1e-12,
                        "is_macro": _a(cg, "is_macro_cell", "false") == "true",
                        "is_pad": _a(cg, "pad_cell", "false") == "true"}
    return {"name": lib["args"][0] if lib["args"] else "", "cells": cells, "nom_voltage": nom_v, "path": str(path),
            "time_unit": tu, "cap_unit": cu, **_wire_loads(lib, cu, path),
            "default_max_transition": _scaled(_a(lib, "default_max_transition"), tu),
            "default_max_capacitance": _scaled(_a(lib, "default_max_capacitance"), cu),
            "default_max_fanout": _scaled(_a(lib, "default_max_fanout"), 1.0),
            "default_fanout_load": _scaled(_a(lib, "default_fanout_load"), 1.0),
            # waveform thresholds (fractions of the supply) and slew derate, OpenSTA's defaults
            "thresholds": {f"{k}_{rf}": float(_a(lib, f"{k}_pct_{rf}", dflt * 100)) / 100.0
                           for k, dflt in (("input_threshold", 0.5), ("output_threshold", 0.5),
                                           ("slew_lower_threshold", 0.2), ("slew_upper_threshold", 0.8))
                           for rf in ("rise", "fall")} | {"slew_derate": float(_a(lib, "slew_derate_from_library", 1.0))}}


def _wire_loads(lib: dict, cu: float, path: Path) -> dict:
    """`wire_load` tables (per unit length: capacitance F, resistance ohm; slope; fanout_length
    pairs), `default_wire_load` and the wire-load tree type of the default operating conditions
    (what OpenSTA uses to estimate nets when there is no SPEF)."""
    ru = _RESU.get(str(_a(lib, "pulling_resistance_unit", "1kohm")).lower().replace(" ", ""), 1e3)
    loads: dict[str, dict] = {}
    for g in lib["groups"]:
        if g["type"] != "wire_load" or not g["args"]:
            continue
        try:
            pairs = sorted((float(a[0]), float(a[1])) for a in g["attrs"].get("fanout_length", []))
            loads[g["args"][0]] = {"cap_per_length": float(_a(g, "capacitance", 0.0) or 0.0) * cu,
                                   "res_per_length": float(_a(g, "resistance", 0.0) or 0.0) * ru,
                                   "slope": float(_a(g, "slope", 0.0) or 0.0), "fanout_length": pairs}
        except (ValueError, IndexError, TypeError):
            raise FormatError(path, None, f"wire_load({g['args'][0]}): bad capacitance/resistance/slope/"
                              "fanout_length") from None
    conds = [g for g in lib["groups"] if g["type"] == "operating_conditions"]
    default_oc = _a(lib, "default_operating_conditions")
    oc = next((g for g in conds if g["args"] and g["args"][0] == default_oc), conds[0] if conds else None)
    return {"wire_loads": loads, "default_wire_load": _a(lib, "default_wire_load"),
            "wire_load_tree": str(_a(oc, "tree_type", "balanced_tree")) if oc else "balanced_tree"}


