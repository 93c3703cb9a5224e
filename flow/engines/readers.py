"""Engine-side readers: Liberty (timing/power subset), structural Verilog, SDC (through Tcl).

The engines prefer the shared readers in `flow.formats` (`liberty`, `verilog`, `sdc`) when they
are importable and fall back to these compact ones, which keep only what STA and power need:
Liberty groups become nested dicts in SI units (the shape `model.cell_model` reads), a
gate-level netlist becomes a `FlatDesign`, and SDC is *evaluated* by a real Tcl interpreter
(`tkinter.Tcl`, no display needed) whose SDC commands record into `TimingConstraints`, so
`set`, `expr`, `[all_inputs]`, `lsearch` etc. in ORFS constraint files just work.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from flow.engines.model import FlatDesign
from flow.errors import FormatError
from flow.util import read_bytes_maybe_gzip

_LIB_TOK = re.compile(r'"(?:[^"\\]|\\.)*"|[{}();:,]|[^\s{}();:,"]+')
_TIME = {"1ns": 1e-9, "1ps": 1e-12, "10ps": 1e-11, "100ps": 1e-10, "1us": 1e-6}
_CAPU = {"ff": 1e-15, "pf": 1e-12, "nf": 1e-9}
_PWRU = {"1nw": 1e-9, "1pw": 1e-12, "1uw": 1e-6, "1mw": 1e-3, "1w": 1.0, "100nw": 1e-7, "10nw": 1e-8}
_VOLT = {"1v": 1.0, "1mv": 1e-3, "10mv": 1e-2, "100mv": 0.1}


def _read_text(path: Path) -> str:
    text = read_bytes_maybe_gzip(path, "file").decode("utf-8", "replace")
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    return text.replace("\\\n", " \n")


def _liberty_groups(path: Path) -> dict:
    """Parse Liberty into {"type","args","attrs":{name:[values]},"groups":[...]} dicts."""
    text = _read_text(path)
    toks = _LIB_TOK.findall(text)
    root = {"type": "", "args": [], "attrs": {}, "groups": []}
    stack = [root]
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        if t == "}":
            if len(stack) == 1:
                raise FormatError(path, None, "unbalanced '}'")
            stack.pop()
            i += 1
            continue
        if t == ";":
            i += 1
            continue
        name = t
        if i + 1 >= n:
            break
        nxt = toks[i + 1]
        if nxt == ":":
            j = i + 2
            vals = []
            while j < n and toks[j] not in (";", "}") and not (j > i + 2 and toks[j + 1:j + 2] == [":"]):
                vals.append(toks[j].strip('"'))
                j += 1
            stack[-1]["attrs"].setdefault(name, []).append(" ".join(vals))
            i = j
        elif nxt == "(":
            j = i + 2
            args = []
            while j < n and toks[j] != ")":
                if toks[j] != ",":
                    args.append(toks[j].strip('"'))
                j += 1
            j += 1
            if j < n and toks[j] == "{":
                g = {"type": name, "args": args, "attrs": {}, "groups": []}
                stack[-1]["groups"].append(g)
                stack.append(g)
                j += 1
            else:
                stack[-1]["attrs"].setdefault(name, []).append(args)
            i = j
        else:
            raise FormatError(path, None, f"unexpected Liberty token {t!r} after {name!r}")
    if len(stack) != 1:
        raise FormatError(path, None, "unterminated group (truncated Liberty?)")
    libs = [g for g in root["groups"] if g["type"] == "library"]
    if not libs:
        raise FormatError(path, None, "no library group")
    return libs[0]


def _a(g: dict, name: str, default: Any = None) -> Any:
    v = g["attrs"].get(name)
    return v[-1] if v else default


def _floats(s: Any) -> list[float]:
    if isinstance(s, list):
        s = ",".join(s)
    return [float(x) for x in re.split(r"[,\s]+", str(s).strip()) if x]


def read_liberty_fallback(path: str | Path) -> dict:
    """Liberty -> dict library in SI (time s, cap F, power W, energy J, area m^2)."""
    path = Path(path)
    lib = _liberty_groups(path)
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

    def table(g: dict, vscale: float) -> dict:
        tmpl = templates.get(g["args"][0] if g["args"] else "", {"attrs": {}})
        v1 = _a(tmpl, "variable_1", "")
        v2 = _a(tmpl, "variable_2", "")
        i1 = _a(g, "index_1") or _a(tmpl, "index_1")
        i2 = _a(g, "index_2") or _a(tmpl, "index_2")
        vals = g["attrs"].get("values")
        if vals is None:
            raise FormatError(path, None, f"table {g['type']} without values")
        rows = [_floats(r) for r in (vals[-1] if isinstance(vals[-1], list) else [vals[-1]])]
        idx1 = np.asarray(_floats(i1) if i1 else [0.0]) * scale_for.get(v1, 1.0)
        idx2 = np.asarray(_floats(i2) if i2 else [0.0]) * scale_for.get(v2, 1.0)
        arr = np.asarray([x for r in rows for x in r], dtype=float) * vscale
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
                           "function": _a(pg, "function"), "is_clock": _a(pg, "clock", "false") == "true"}
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
            "time_unit": tu, "cap_unit": cu}


# ---- structural Verilog ---------------------------------------------------------------------
_ID = r"(?:\\\S+|[A-Za-z_][\w$]*)"
_VTOK = re.compile(r"\\\S+|[A-Za-z_][\w$]*|\d+'[bBhHdD][0-9a-fA-FxXzZ_]+|\d+|[()\[\]{}.,;:=#]")


def read_verilog_fallback(paths: list[Path], top: str | None = None) -> FlatDesign:
    """Flat gate-level netlist (one module instantiating library cells) -> FlatDesign."""
    text = ""
    for p in paths:
        text += re.sub(r"/\*.*?\*/", " ", re.sub(r"//[^\n]*", " ", _read_text(Path(p))), flags=re.S) + "\n"
    mods = re.findall(r"\bmodule\s+(" + _ID + r")(.*?)\bendmodule", text, flags=re.S)
    if not mods:
        raise FormatError(paths[0], None, "no module")
    names = [m[0] for m in mods]
    if top is None:
        top = names[-1]
    if top not in names:
        raise FormatError(paths[0], None, f"top module {top!r} not found (modules: {', '.join(names)})")
    body = dict(mods)[top]
    toks = _VTOK.findall(body)
    # net namespace with union-find for `assign a = b;`
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    widths: dict[str, tuple[int, int]] = {}
    port_dir: dict[str, str] = {}
    insts: list[tuple[str, str, list[tuple[str, list[str]]]]] = []
    i = 0

    def rng() -> tuple[int, int] | None:
        nonlocal i
        if i < len(toks) and toks[i] == "[":
            hi, lo = int(toks[i + 1]), int(toks[i + 3])
            i += 5
            return hi, lo
        return None

    def bits(name: str) -> list[str]:
        if name in widths:
            hi, lo = widths[name]
            step = -1 if hi >= lo else 1
            return [f"{name}[{k}]" for k in range(hi, lo + step, step)]
        return [name]

    def expr() -> list[str]:
        """A net expression: id, id[k], id[a:b], constant, or {concat}."""
        nonlocal i
        t = toks[i]
        if t == "{":
            i += 1
            out: list[str] = []
            while toks[i] != "}":
                if toks[i] == ",":
                    i += 1
                    continue
                out += expr()
            i += 1
            return out
        if "'" in t:
            i += 1
            w, v = t.split("'")
            base = v[0].lower()
            val = int(v[1:].replace("_", "").replace("x", "0").replace("z", "0"), {"b": 2, "h": 16, "d": 10}[base])
            return [f"1'b{(val >> k) & 1}" for k in range(int(w) - 1, -1, -1)]
        i += 1
        name = t[1:] if t.startswith("\\") else t
        if i < len(toks) and toks[i] == "[":
            a = int(toks[i + 1])
            if toks[i + 2] == ":":
                b = int(toks[i + 3])
                i += 5
                step = -1 if a >= b else 1
                return [f"{name}[{k}]" for k in range(a, b + step, step)]
            i += 3
            return [f"{name}[{a}]"]
        return bits(name)

    inst_re = re.compile(r"\s*(\\\S+|[A-Za-z_][\w$]*)\s+(?:#\s*\((?:[^()]|\([^()]*\))*\)\s*)?"
                         r"(\\\S+|[A-Za-z_][\w$]*)\s*\((.*)\)\s*$", re.S)
    conn_re = re.compile(r"\.\s*([\w$]+)\s*\(([^()]*)\)")
    decl_re = re.compile(r"\w+\s*(?:\[\s*(-?\d+)\s*:\s*(-?\d+)\s*\])?\s*(.*)", re.S)
    simple_re = re.compile(r"(?:\\(\S+)|([A-Za-z_][\w$]*))\s*(?:\[\s*(\d+)\s*\])?")

    def conn_bits(text: str) -> list[str]:
        """Bits of a connection expression: fast path for `net` / `net[k]`, tokens otherwise."""
        nonlocal toks, i
        if "{" not in text and "'" not in text and ":" not in text:
            if text.startswith("\\"):
                return bits(text[1:].strip())
            if "[" in text:
                return [text.replace(" ", "")]
            return bits(text) if text in widths else [text]
        m = simple_re.fullmatch(text)
        if m is not None:
            name = m.group(1) or m.group(2)
            if m.group(3) is not None:
                return [f"{name}[{m.group(3)}]"]
            return bits(name)
        if not text:
            return []
        toks, i = _VTOK.findall(text), 0
        return expr()

    for stmt in body.split(";"):
        st = stmt.strip()
        if not st or st.startswith("("):
            continue
        word = st.split(None, 1)[0]
        if word in ("input", "output", "inout", "wire", "reg", "supply0", "supply1", "tri"):
            dm = decl_re.match(st)
            r = (int(dm.group(1)), int(dm.group(2))) if dm.group(1) is not None else None
            for nm in dm.group(3).split(","):
                nm = nm.strip()
                if nm.startswith("\\"):
                    nm = nm[1:]
                if not nm:
                    continue
                if r is not None:
                    widths[nm] = r
                if word in ("input", "output", "inout"):
                    port_dir[nm] = word
        elif word == "assign":
            toks, i = _VTOK.findall(st[len("assign"):]), 0
            lhs = expr()
            i += 1  # '='
            rhs = expr()
            for a_, b_ in zip(lhs, rhs, strict=False):
                parent[find(a_)] = find(b_)
        else:
            m = inst_re.match(st)
            if m is None:
                raise FormatError(paths[0], None, f"cannot parse statement {st[:60]!r} in module {top}")
            cell, iname, conn_text = m.groups()
            iname = iname[1:] if iname.startswith("\\") else iname
            if conn_text.strip() and not conn_text.lstrip().startswith("."):
                raise FormatError(paths[0], None, f"instance {iname}: only named connections are supported")
            insts.append((cell, iname, [(pin, conn_bits(e.strip())) for pin, e in conn_re.findall(conn_text)]))
    net_id: dict[str, int] = {}
    net_names: list[str] = []

    def nid(b: str) -> int:
        r = find(b) if parent else b
        if r not in net_id:
            net_id[r] = len(net_names)
            net_names.append(r)
        return net_id[r]

    inst_names, inst_cell, starts, pin_inst, pin_name, pin_net = [], [], [0], [], [], []
    for cell, iname, conns in insts:
        k = len(inst_names)
        inst_names.append(iname)
        inst_cell.append(cell)
        for pin, bl in conns:
            if len(bl) == 1 and not bl[0].startswith("1'b"):
                pin_inst.append(k)
                pin_name.append(pin)
                pin_net.append(nid(bl[0]))
            elif len(bl) > 1:
                for j, b in enumerate(bl):
                    if not b.startswith("1'b"):
                        pin_inst.append(k)
                        pin_name.append(f"{pin}[{len(bl) - 1 - j}]")
                        pin_net.append(nid(b))
        starts.append(len(pin_name))
    port_names, pdirs, pnets = [], [], []
    for nm, d in port_dir.items():
        for b in bits(nm):
            port_names.append(b)
            pdirs.append(d)
            pnets.append(nid(b))
    return FlatDesign(inst_names, inst_cell, np.asarray(starts, dtype=np.int64), np.asarray(pin_inst, dtype=np.int64),
                      pin_name, np.asarray(pin_net, dtype=np.int64), net_names, port_names, pdirs,
                      np.asarray(pnets, dtype=np.int64))


# ---- SDC through a Tcl interpreter ----------------------------------------------------------
def read_sdc_fallback(path: Path, design: FlatDesign, time_unit: float = 1e-9, cap_unit: float = 1e-15):
    """Evaluate an SDC file with Tcl; SDC commands fill a `TimingConstraints` (SI units).

    Times in the file are in `time_unit` (the Liberty time unit, ns for our PDKs) and
    capacitances in `cap_unit` (fF), as OpenSTA interprets SDC against the library units.
    """
    import tkinter

    from flow.engines.sta import ClockDef, IODelay, TimingConstraints

    tc = TimingConstraints()
    tcl = tkinter.Tcl()
    ports_in = [p for p, d in zip(design.port_names, design.port_dir, strict=True) if d == "input"]
    ports_out = [p for p, d in zip(design.port_names, design.port_dir, strict=True) if d == "output"]
    all_ports = list(design.port_names)
    base_ports = {}
    for p in all_ports:
        base_ports.setdefault(p.split("[")[0], []).append(p)
    pins = set(design.node_names()[: len(design.pin_name)])

    def split(s: str) -> list[str]:
        return list(tcl.splitlist(s)) if s else []

    def err(msg: str) -> FormatError:
        return FormatError(path, None, msg)

    def match(pattern: str, names: list[str]) -> list[str]:
        import fnmatch

        return [n for n in names if fnmatch.fnmatchcase(n, pattern)]

    def get_ports(*args: str) -> str:
        pats = [a for a in args if not a.startswith("-")]
        out: list[str] = []
        for s in pats:
            for pat in split(s) or [s]:
                hit = base_ports.get(pat) or match(pat, all_ports) or match(pat.replace("\\", ""), all_ports)
                if not hit:
                    tc.warnings.append(f"get_ports {pat}: no match")
                out += hit
        return tuple(out)

    def get_pins(*args: str) -> str:
        out: list[str] = []
        for s in (a for a in args if not a.startswith("-")):
            for pat in split(s) or [s]:
                out += [p for p in match(pat, sorted(pins))]
        return tuple(out)

    def get_clocks(*args: str) -> str:
        out = []
        for s in (a for a in args if not a.startswith("-")):
            for pat in split(s) or [s]:
                out += match(pat, [c.name for c in tc.clocks])
        return tuple(out)

    def opts(args: tuple[str, ...], flags: set[str], valued: set[str]) -> tuple[dict[str, Any], list[str]]:
        o: dict[str, Any] = {}
        pos: list[str] = []
        k = 0
        while k < len(args):
            a = args[k]
            if a in flags:
                o[a] = True
            elif a in valued:
                o[a] = args[k + 1]
                k += 1
            elif a.startswith("-") and not re.fullmatch(r"-[\d.]+(e-?\d+)?", a):
                raise err(f"unsupported option {a}")
            else:
                pos.append(a)
            k += 1
        return o, pos

    def create_clock(*args: str) -> str:
        o, pos = opts(args, {"-add"}, {"-name", "-period", "-waveform", "-comment"})
        if "-period" not in o:
            raise err("create_clock needs -period")
        per = float(o["-period"]) * time_unit
        srcs = [s for p in pos for s in split(p)]
        name = o.get("-name") or (srcs[0] if srcs else "clk")
        wf = [float(x) * time_unit for x in split(o.get("-waveform", ""))] or [0.0, per / 2]
        tc.clocks.append(ClockDef(name, per, (wf[0], wf[1]), srcs))
        return name

    def clocks_of(s: str) -> list[ClockDef]:
        names = set(split(s))
        return [c for c in tc.clocks if c.name in names]

    def io_delay(kind: str, args: tuple[str, ...]) -> None:
        o, pos = opts(args, {"-max", "-min", "-clock_fall", "-add_delay", "-rise", "-fall", "-network_latency_included",
                             "-source_latency_included"}, {"-clock", "-reference_pin"})
        if len(pos) < 2:
            raise err(f"{kind} needs a delay and ports")
        val = float(pos[0]) * time_unit
        for p in (x for s in pos[1:] for x in split(s)):
            lst = tc.input_delays if kind == "set_input_delay" else tc.output_delays
            prev = next((d for d in lst if d.port == p and d.clock == o.get("-clock", "")), None)
            if prev is None:
                prev = IODelay(p, o.get("-clock", ""), bool(o.get("-clock_fall")), val, val)
                lst.append(prev)
            if o.get("-max") or not o.get("-min"):
                prev.max = val
            if o.get("-min") or not o.get("-max"):
                prev.min = val

    def set_clock_uncertainty(*args: str) -> None:
        o, pos = opts(args, {"-setup", "-hold"}, {"-from", "-to", "-rise_from", "-fall_from"})
        val = float(pos[0]) * time_unit
        for c in clocks_of(" ".join(pos[1:])) if len(pos) > 1 else tc.clocks:
            if o.get("-setup") or not o.get("-hold"):
                c.uncertainty_setup = val
            if o.get("-hold") or not o.get("-setup"):
                c.uncertainty_hold = val

    def set_load(*args: str) -> None:
        o, pos = opts(args, {"-pin_load", "-wire_load", "-max", "-min", "-subtract_pin_load"}, set())
        for p in (x for s in pos[1:] for x in split(s)):
            tc.port_load[p] = float(pos[0]) * cap_unit

    def set_input_transition(*args: str) -> None:
        o, pos = opts(args, {"-max", "-min", "-rise", "-fall"}, {"-clock"})
        for p in (x for s in pos[1:] for x in split(s)):
            tc.input_transition[p] = float(pos[0]) * time_unit

    def set_propagated_clock(*args: str) -> None:
        for c in clocks_of(" ".join(args)) or tc.clocks:
            c.propagated = True

    def set_clock_transition(*args: str) -> None:
        o, pos = opts(args, {"-rise", "-fall", "-max", "-min"}, set())
        for c in clocks_of(" ".join(pos[1:])):
            c.transition = float(pos[0]) * time_unit

    def set_clock_latency(*args: str) -> None:
        o, pos = opts(args, {"-source", "-rise", "-fall", "-max", "-min", "-early", "-late"}, {"-clock"})
        for c in clocks_of(" ".join(pos[1:])):
            if o.get("-source"):
                c.source_latency = float(pos[0]) * time_unit
            else:
                c.latency = float(pos[0]) * time_unit

    def set_false_path(*args: str) -> None:
        o, _ = opts(args, {"-setup", "-hold", "-rise", "-fall"}, {"-from", "-to", "-through"})
        fp: dict[str, Any] = {}
        for key in ("-from", "-to"):
            if key in o:
                items = split(o[key])
                clk = [c.name for c in tc.clocks if c.name in items]
                fp[key[1:] + "_clocks"] = clk
                fp[key[1:]] = [x for x in items if x not in clk]
        if "-through" in o:
            tc.warnings.append("set_false_path -through is not supported; ignored")
            return
        tc.false_paths.append(fp)

    def set_max_delay(*args: str) -> None:
        o, pos = opts(args, {"-ignore_clock_latency", "-rise", "-fall"}, {"-from", "-to", "-through"})
        if "-to" not in o:
            tc.warnings.append("set_max_delay without -to is not supported; ignored")
            return
        tc.max_delays.append({"to": split(o["-to"]), "value": float(pos[0]) * time_unit})

    def set_clock_groups(*args: str) -> None:
        groups = []
        k = 0
        while k < len(args):
            if args[k] == "-group":
                groups.append(split(args[k + 1]))
                k += 1
            k += 1
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                tc.async_groups += [(x, y) for x in groups[a] for y in groups[b]]

    def ignore(*args: str) -> str:
        return ""

    def warn_ignore(name: str):
        def f(*args: str) -> str:
            tc.warnings.append(f"SDC command {name} ignored by the embedded STA")
            return ""
        return f

    cmds = {
        "get_ports": get_ports, "get_pins": get_pins, "get_clocks": get_clocks, "get_nets": get_pins,
        "get_cells": get_pins, "all_inputs": lambda *a: tuple(ports_in),
        "all_outputs": lambda *a: tuple(ports_out),
        "all_clocks": lambda *a: tuple([c.name for c in tc.clocks]),
        "create_clock": create_clock,
        "set_input_delay": lambda *a: io_delay("set_input_delay", a),
        "set_output_delay": lambda *a: io_delay("set_output_delay", a),
        "set_clock_uncertainty": set_clock_uncertainty, "set_load": set_load,
        "set_input_transition": set_input_transition, "set_propagated_clock": set_propagated_clock,
        "set_clock_transition": set_clock_transition, "set_clock_latency": set_clock_latency,
        "set_false_path": set_false_path, "set_max_delay": set_max_delay, "set_clock_groups": set_clock_groups,
        "current_design": ignore, "set_units": ignore, "set_max_fanout": ignore, "set_max_transition": ignore,
        "set_max_capacitance": ignore, "set_wire_load_model": ignore, "set_wire_load_mode": ignore,
        "set_driving_cell": warn_ignore("set_driving_cell"), "set_min_delay": warn_ignore("set_min_delay"),
        "set_multicycle_path": warn_ignore("set_multicycle_path"),
        "set_timing_derate": warn_ignore("set_timing_derate"), "set_case_analysis": warn_ignore("set_case_analysis"),
        "set_disable_timing": warn_ignore("set_disable_timing"),
        "group_path": ignore, "set_dont_touch": ignore, "set_ideal_network": ignore,
    }
    for name, fn in cmds.items():
        tcl.createcommand(name, fn)
    # collections are plain Tcl lists here, so these helpers are list operations
    tcl.eval("proc remove_from_collection {a b} { set out {}; foreach x $a { if {[lsearch -exact $b $x] < 0} "
             "{ lappend out $x } }; return $out }")
    tcl.eval("proc get_property {obj prop} { return {} }")
    text = Path(path).read_text()
    try:
        tcl.eval(text)
    except tkinter.TclError as exc:
        info = str(tcl.eval("set errorInfo"))
        m = re.search(r'\(file "[^"]*" line (\d+)\)|line (\d+)\)', info)
        line = int(next(g for g in m.groups() if g)) if m else None
        raise FormatError(path, line, f"SDC error: {exc}") from None
    except FormatError as exc:
        raise FormatError(path, None, exc.message) from None
    return tc
