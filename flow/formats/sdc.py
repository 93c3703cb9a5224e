"""SDC reader: the constraint file is *evaluated* by Tcl (`tkinter.Tcl`, no display needed), so
`set`, `expr`, `[all_inputs]`, `lsearch`, `foreach` in ORFS constraint files just work, but in a
*safe* child interpreter (`interp create -safe`) that holds only the SDC commands we implement
and a few list/string/control commands: an SDC is data a user got from someone else, so it must
not run `exec`, `open`, `file`, `source` or `socket`. Each top-level command has a time budget
(`interp limit`), and where `fork` exists the evaluation runs in a child process with a memory
cap and a watchdog, so neither `while {1} {}` nor a bignum or a 2 GB string in C can hang or
kill the flow. SDC commands record into `TimingConstraints` (SI units); commands the embedded
STA does not model are refused (FormatError naming file:line: a constraint that changes timing
must not be dropped quietly; `strict=False` turns these into warnings for readers that only want the
clocks), unknown non-SDC commands become warnings naming file:line.
"""

from __future__ import annotations

import bisect
import math
import re
import secrets
from pathlib import Path
from typing import Any

from flow.engines.model import FlatDesign
from flow.errors import FormatError

#: Tcl commands an SDC may use besides the SDC commands (no I/O, no interpreters, no procs).
TCL_COMMANDS = frozenset({
    "expr", "set", "foreach", "if", "for", "while", "list", "lindex", "llength", "lappend", "concat",
    "join", "split", "string", "format", "incr", "lsearch", "lrange", "lsort", "break", "continue",
})
#: Commands that reach outside the interpreter: an SDC naming one is rejected, not ignored.
FORBIDDEN_COMMANDS = frozenset({
    "exec", "open", "file", "source", "socket", "load", "unload", "interp", "cd", "pwd", "glob", "exit",
    "fconfigure", "encoding", "close", "gets", "read", "chan", "after", "vwait", "update",
})
#: SDC and OpenSTA commands that change timing and the embedded STA does not implement: refused
#: (strict) rather than read as unknown commands
TIMING_COMMANDS = frozenset({
    "create_generated_clock", "set_clock_sense", "set_sense", "set_data_check", "set_clock_gating_check",
    "set_ideal_latency", "set_ideal_transition", "set_resistance", "set_annotated_delay",
    "set_annotated_check", "set_drive", "set_fanout_load", "set_port_fanout_number", "set_operating_conditions",
    "set_logic_zero", "set_logic_one", "set_logic_dc", "set_min_pulse_width", "set_assigned_delay",
    "set_assigned_check", "set_assigned_transition", "set_wire_load_selection_group", "set_clock_exclusivity",
})
#: seconds one top-level SDC command may run (Tcl `interp limit ... time`)
COMMAND_TIME_LIMIT_S = 2.0
#: an SDC larger than this is not a constraint file (and would not fit the time budget)
MAX_SDC_BYTES = 64 << 20


def read_sdc(path: Path, design: FlatDesign, time_unit: float = 1e-9, cap_unit: float = 1e-15, *,
             strict: bool = True):
    """Evaluate an SDC file in a safe Tcl interpreter; SDC commands fill a `TimingConstraints`.

    Times in the file are in `time_unit` (the Liberty time unit, ns for our PDKs) and
    capacitances in `cap_unit` (fF), as OpenSTA interprets SDC against the library units.
    Raises FormatError(path, line, ...) for every problem, never another exception; with
    `strict` (the default) also for constraints the embedded STA would time differently from
    OpenSTA (multicycle paths, derates, generated clocks, -through, ...), else they are warnings.
    """
    import flow.engines.sta  # noqa: F401 - imported before the fork: the child starts at once, the parent unpickles
    from flow.util import read_text_file, run_isolated

    text = read_text_file(path, "SDC", max_bytes=MAX_SDC_BYTES)
    return run_isolated(_evaluate, (Path(path), text, design, time_unit, cap_unit, strict), what=f"SDC {path}",
                        path=Path(path), timeout_s=COMMAND_TIME_LIMIT_S + 3.0)


def _commands(text: str, complete) -> list[tuple[int, str]]:
    """Top-level commands of a Tcl script with their first line (so errors name the file line)."""
    out: list[tuple[int, str]] = []
    chunk: list[str] = []
    start = 1
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not chunk:
            start = lineno
        chunk.append(line)
        joined = "\n".join(chunk)
        if complete(joined + "\n"):
            if joined.strip():
                out.append((start, joined))
            chunk = []
    if chunk and "\n".join(chunk).strip():
        out.append((start, "\n".join(chunk)))  # unbalanced: Tcl reports it with this line
    return out


def _evaluate(path: Path, text: str, design: FlatDesign, time_unit: float, cap_unit: float, strict: bool = True,
              progress=None):
    """The SDC's commands evaluated one by one in a safe child interpreter of a fresh Tcl."""
    import time
    import tkinter

    from flow.engines.sta import ClockDef, IODelay, TimingConstraints

    tc = TimingConstraints()
    tcl = tkinter.Tcl()
    token = secrets.token_hex(8)
    info_cmd, catch_cmd = f"__vh_info_{token}", f"__vh_catch_{token}"
    tcl.eval("interp create -safe sdc")
    chunk_line = [1]  # file line of the top-level command being evaluated
    ports_in = [p for p, d in zip(design.port_names, design.port_dir, strict=True) if d == "input"]
    ports_out = [p for p, d in zip(design.port_names, design.port_dir, strict=True) if d == "output"]
    all_ports = list(design.port_names)
    base_ports = {}
    for p in all_ports:
        base_ports.setdefault(p.split("[")[0], []).append(p)
    pin_cache: list[list[str]] = []

    def all_pins() -> list[str]:
        """Sorted `inst/pin` names, built on the first get_pins (most SDCs never ask)."""
        if not pin_cache:
            pin_cache.append(sorted(f"{design.inst_names[i]}/{pn}"
                                    for i, pn in zip(design.pin_inst.tolist(), design.pin_name, strict=True)))
        return pin_cache[0]

    def line_now() -> int | None:
        """Line of the SDC command being evaluated (Tcl's frame of the calling command)."""
        try:
            frame = tcl.call("interp", "eval", "sdc", f"{info_cmd} frame -1")
            return chunk_line[0] + int(tcl.call("dict", "get", frame, "line")) - 1
        except (tkinter.TclError, ValueError):
            return chunk_line[0]

    def where() -> str:
        line = line_now()
        return f"{path}:{line}" if line is not None else str(path)

    def warn(msg: str) -> None:
        tc.warnings.append(f"{where()}: {msg}")

    def split(s: str) -> list[str]:
        return list(tcl.splitlist(s)) if s else []

    # Tcl passes the result of `[get_cells l3]` on as a plain list of names, where OpenSTA passes
    # an object of a type; the kind of each get_* command's latest result is kept here, so that a
    # command taking several kinds (set_max_time_borrow) reads `[get_cells clk]` as the instance
    # even when a clock has that name. A bare name falls back to OpenSTA's lookup order.
    kinds: dict[tuple[str, ...], str] = {}

    def typed(names: tuple[str, ...], kind: str) -> tuple[str, ...]:
        kinds[names] = kind
        return names

    def err(msg: str) -> FormatError:
        return FormatError(path, line_now(), msg)

    def refuse(msg: str, detail: str = "") -> None:
        """A constraint the embedded STA cannot time as OpenSTA does: an error (strict), else a
        warning, never dropped without a word."""
        if strict:
            raise err(f"{msg} is not supported by the embedded STA" + (f" ({detail})" if detail else ""))
        warn(f"{msg} is not modelled by the embedded STA; ignored")

    def number(s: str, what: str, *, positive: bool = False, nonnegative: bool = False) -> float:
        """A finite number from the SDC (a period of 0 or a negative load is an error)."""
        try:
            v = float(s)
        except (TypeError, ValueError):
            raise err(f"{what}: expected a number, got {s!r}") from None
        if not math.isfinite(v):
            raise err(f"{what}: {s!r} is not a finite number")
        if positive and v <= 0:
            raise err(f"{what} must be > 0, got {s}")
        if nonnegative and v < 0:
            raise err(f"{what} must be >= 0, got {s}")
        return v

    def match(pattern: str, names: list[str]) -> list[str]:
        """OpenSTA's object-name patterns: `*` and `?` are wildcards, everything else (the
        brackets of bus bits `d[0]` included) is literal."""
        if "*" not in pattern and "?" not in pattern:
            return [n for n in names if n == pattern]
        rx = re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."))
        return [n for n in names if rx.fullmatch(n)]

    def get_ports(*args: str) -> str:
        pats = [a for a in args if not a.startswith("-")]
        out: list[str] = []
        for s in pats:
            for pat in split(s) or [s]:
                hit = base_ports.get(pat) or match(pat, all_ports) or match(pat.replace("\\", ""), all_ports)
                if not hit:
                    warn(f"get_ports {pat}: no match")
                out += hit
        return tuple(out)

    def get_pins(*args: str) -> str:
        out: list[str] = []
        for s in (a for a in args if not a.startswith("-")):
            for pat in split(s) or [s]:
                if "*" not in pat and "?" not in pat:
                    names = all_pins()
                    k = bisect.bisect_left(names, pat)
                    out += [pat] if k < len(names) and names[k] == pat else []
                else:
                    out += match(pat, all_pins())
        return tuple(out)

    def get_cells(*args: str) -> str:
        out: list[str] = []
        for s in (a for a in args if not a.startswith("-")):
            for pat in split(s) or [s]:
                hit = match(pat, design.inst_names)
                if not hit:
                    warn(f"get_cells {pat}: no match")
                out += hit
        return typed(tuple(out), "inst")

    def all_inputs(*args: str) -> str:
        if "-no_clocks" in args:  # inputs that are not clock sources
            srcs = {s for c in tc.clocks for s in c.sources}
            return tuple(p for p in ports_in if p not in srcs)
        return tuple(ports_in)

    def get_clocks(*args: str) -> str:
        out = []
        for s in (a for a in args if not a.startswith("-")):
            for pat in split(s) or [s]:
                out += match(pat, [c.name for c in tc.clocks])
        return typed(tuple(out), "clock")

    def opts(args: tuple[str, ...], flags: set[str], valued: set[str]) -> tuple[dict[str, Any], list[str]]:
        o: dict[str, Any] = {}
        pos: list[str] = []
        k = 0
        while k < len(args):
            a = args[k]
            if a in flags:
                o[a] = True
            elif a in valued:
                if k + 1 >= len(args):
                    raise err(f"option {a} needs a value")
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
        per = number(o["-period"], "create_clock -period", positive=True) * time_unit
        srcs = [s for p in pos for s in split(p)]
        name = o.get("-name") or (srcs[0] if srcs else "clk")
        wf = [number(x, "create_clock -waveform") * time_unit for x in split(o.get("-waveform", ""))] or [0.0, per / 2]
        if len(wf) < 2:
            raise err("create_clock -waveform needs a rise and a fall edge")
        if len(wf) > 2:
            refuse("create_clock -waveform with more than one rise and fall edge")
        if o.get("-add") and any(set(srcs) & set(c.sources) for c in tc.clocks):
            refuse("create_clock -add (several clocks on one source)")
        # as OpenSTA: a clock of the same name is redefined in place (its latency, uncertainty,
        # transition stay), and it takes its sources from clocks defined on them before (a clock
        # left without sources is removed)
        kept = []
        for c in tc.clocks:
            if c.name != name and c.sources and set(c.sources) & set(srcs):
                c.sources = [x for x in c.sources if x not in srcs]
                if not c.sources:
                    continue
            kept.append(c)
        tc.clocks[:] = kept
        same = [c for c in tc.clocks if c.name == name]
        if same:
            same[0].period, same[0].waveform, same[0].sources = per, (wf[0], wf[1]), srcs
        else:
            tc.clocks.append(ClockDef(name, per, (wf[0], wf[1]), srcs))
        return name

    def clocks_of(s: str, what: str = "") -> list[ClockDef]:
        """The clocks named in `s`; with `what`, other objects (pins, ports) are refused: a
        latency or transition on a pin would be dropped."""
        names = split(s)
        known = {c.name for c in tc.clocks}
        if what and any(x not in known for x in names):
            refuse(f"{what} on pins or ports (not clocks: {', '.join(x for x in names if x not in known)[:200]})")
        return [c for c in tc.clocks if c.name in set(names)]

    # kind -> port -> (clock, clock edge) -> IODelay; the lists are built from it at the end
    io_index: dict[str, dict[str, dict[tuple[str, bool], IODelay]]] = {"set_input_delay": {}, "set_output_delay": {}}

    def io_delay(kind: str, args: tuple[str, ...]) -> None:
        """OpenSTA's semantics: one delay per (port, clock, clock edge); without -add_delay the
        port's delays on other clocks or edges are removed, with it the values merge (the larger
        max, the smaller min)."""
        o, pos = opts(args, {"-max", "-min", "-clock_fall", "-add_delay", "-rise", "-fall", "-network_latency_included",
                             "-source_latency_included"}, {"-clock", "-reference_pin"})
        if len(pos) < 2:
            raise err(f"{kind} needs a delay and ports")
        val = number(pos[0], kind) * time_unit
        for opt in ("-rise", "-fall", "-reference_pin", "-network_latency_included", "-source_latency_included"):
            if opt in o:
                refuse(f"{kind} {opt}")
                return
        if "-clock" in o and o["-clock"] not in {c.name for c in tc.clocks}:
            raise err(f"{kind} -clock {o['-clock']}: no such clock")
        key = (o.get("-clock", ""), bool(o.get("-clock_fall")))
        add = bool(o.get("-add_delay"))
        both = not o.get("-max") and not o.get("-min")
        per_port = io_index[kind]
        for p in (x for s in pos[1:] for x in split(s)):
            delays = per_port.setdefault(p, {})
            prev = delays.get(key)
            if not add:
                delays.clear()
            if prev is None:
                prev = IODelay(p, key[0], key[1], val, val)
            elif add:
                if o.get("-max") or both:
                    prev.max = max(prev.max, val)
                if o.get("-min") or both:
                    prev.min = min(prev.min, val)
            else:
                if o.get("-max") or both:
                    prev.max = val
                if o.get("-min") or both:
                    prev.min = val
            delays[key] = prev

    def set_clock_uncertainty(*args: str) -> None:
        o, pos = opts(args, {"-setup", "-hold"}, {"-from", "-to", "-rise_from", "-fall_from", "-rise_to", "-fall_to"})
        if not pos:
            raise err("set_clock_uncertainty needs a value")
        val = number(pos[0], "set_clock_uncertainty", nonnegative=True) * time_unit
        if any(k in o for k in ("-from", "-to", "-rise_from", "-fall_from", "-rise_to", "-fall_to")):
            refuse("set_clock_uncertainty between clocks (-from/-to)")
            return
        if len(pos) < 2:
            raise err("set_clock_uncertainty needs clocks (OpenSTA: 'missing objects')")
        for c in clocks_of(" ".join(pos[1:]), "set_clock_uncertainty"):
            if o.get("-setup") or not o.get("-hold"):
                c.uncertainty_setup = val
            if o.get("-hold") or not o.get("-setup"):
                c.uncertainty_hold = val

    # (command, object) -> {(rise|fall, max|min): value}: one value per transition and min/max,
    # as OpenSTA keeps them; the embedded STA has one, so values that end up different are refused
    split_vals: dict[tuple[str, str], dict[tuple[str, str], Any]] = {}
    split_line: dict[tuple[str, str], int | None] = {}

    def one_value(what: str, obj: str, o: dict[str, Any], value: Any, default: Any, apply) -> None:
        """Record `value` for the transitions / min-max the options select and apply it; the
        object is remembered when its values differ (refused at the end unless made equal)."""
        rfs = [r for r in ("rise", "fall") if o.get(f"-{r}")] or ["rise", "fall"]
        mms = ([m for m, flags in (("max", ("-max", "-late")), ("min", ("-min", "-early"))) if any(o.get(f) for f in flags)]
               or ["max", "min"])
        vals = split_vals.setdefault((what, obj), {(r, m): default for r in ("rise", "fall") for m in ("max", "min")})
        for r in rfs:
            for m in mms:
                vals[(r, m)] = value
        apply(value)
        if len(set(vals.values())) > 1:
            split_line[(what, obj)] = line_now()
        else:
            split_line.pop((what, obj), None)

    def set_load(*args: str) -> None:
        o, pos = opts(args, {"-pin_load", "-wire_load", "-max", "-min", "-subtract_pin_load"}, set())
        if not pos:
            raise err("set_load needs a value")
        value = number(pos[0], "set_load", nonnegative=True) * cap_unit
        if o.get("-subtract_pin_load"):
            refuse("set_load -subtract_pin_load")
            return
        for p in (x for s in pos[1:] for x in split(s)):
            one_value("set_load", p, o, value, 0.0, lambda v, p=p: tc.port_load.__setitem__(p, v))

    def set_input_transition(*args: str) -> None:
        o, pos = opts(args, {"-max", "-min", "-rise", "-fall"}, {"-clock"})
        if not pos:
            raise err("set_input_transition needs a value")
        value = number(pos[0], "set_input_transition", nonnegative=True) * time_unit
        if "-clock" in o:
            refuse("set_input_transition -clock")
            return
        for p in (x for s in pos[1:] for x in split(s)):
            one_value("set_input_transition", p, o, value, 0.0, lambda v, p=p: tc.input_transition.__setitem__(p, v))

    def set_propagated_clock(*args: str) -> None:
        for c in clocks_of(" ".join(args)) or tc.clocks:
            c.propagated = True

    def set_clock_transition(*args: str) -> None:
        o, pos = opts(args, {"-rise", "-fall", "-max", "-min"}, set())
        if len(pos) < 2:
            raise err("set_clock_transition needs a value and clocks")
        value = number(pos[0], "set_clock_transition", nonnegative=True) * time_unit
        for c in clocks_of(" ".join(pos[1:]), "set_clock_transition"):
            one_value("set_clock_transition", c.name, o, value, None, lambda v, c=c: setattr(c, "transition", v))

    def set_clock_latency(*args: str) -> None:
        o, pos = opts(args, {"-source", "-rise", "-fall", "-max", "-min", "-early", "-late"}, {"-clock"})
        if len(pos) < 2:
            raise err("set_clock_latency needs a value and clocks")
        if "-clock" in o:
            refuse("set_clock_latency -clock (latency of one clock at a pin)")
            return
        if not o.get("-source") and (o.get("-early") or o.get("-late")):
            raise err("set_clock_latency -early/-late need -source")
        value = number(pos[0], "set_clock_latency") * time_unit
        attr = "source_latency" if o.get("-source") else "latency"
        for c in clocks_of(" ".join(pos[1:]), "set_clock_latency"):
            one_value(f"set_clock_latency {attr}", c.name, o, value, 0.0, lambda v, c=c: setattr(c, attr, v))

    def set_false_path(*args: str) -> None:
        o, _ = opts(args, {"-setup", "-hold", "-rise", "-fall"}, {"-from", "-to", "-through"})
        for opt in ("-through", "-setup", "-hold", "-rise", "-fall"):
            if opt in o:
                refuse(f"set_false_path {opt}")
                return
        fp: dict[str, Any] = {}
        for key in ("-from", "-to"):
            if key in o:
                items = split(o[key])
                clk = [c.name for c in tc.clocks if c.name in items]
                fp[key[1:] + "_clocks"] = clk
                fp[key[1:]] = [x for x in items if x not in clk]
        if (fp.get("from_clocks") and fp.get("to")) or (fp.get("from") and fp.get("to_clocks")):
            refuse("set_false_path between a clock and pins")
            return
        tc.false_paths.append(fp)

    def set_multicycle_path(*args: str) -> None:
        """`set_multicycle_path N [-setup|-hold] [-start|-end] [-from clocks] [-to clocks]`: the
        clock-to-clock and design-wide forms (flow.engines.cycle_accounting applies them); pins,
        ports, instances and -through are refused."""
        o, pos = opts(args, {"-setup", "-hold", "-start", "-end", "-rise", "-fall", "-reset_path"},
                      {"-from", "-to", "-through", "-rise_from", "-fall_from", "-rise_to", "-fall_to", "-comment"})
        for opt in ("-through", "-rise", "-fall", "-reset_path", "-rise_from", "-fall_from", "-rise_to", "-fall_to"):
            if opt in o:
                refuse(f"set_multicycle_path {opt}")
                return
        if len(pos) != 1:
            raise err("set_multicycle_path needs one path multiplier")
        mult = number(pos[0], "set_multicycle_path multiplier")
        if mult != int(mult) or mult < 0:
            raise err(f"set_multicycle_path multiplier must be a non-negative integer, got {pos[0]}")
        if o.get("-start") and o.get("-end"):
            raise err("set_multicycle_path: -start and -end are exclusive")
        if "-from" not in o and "-to" not in o:  # OpenSTA keeps it but no path lookup finds it
            warn("set_multicycle_path without -from/-to applies to no path (as in OpenSTA 3.1); ignored")
            return
        mcp: dict[str, Any] = {"mult": int(mult)}
        setup, hold = bool(o.get("-setup")), bool(o.get("-hold"))
        mcp["minmax"] = "max" if setup and not hold else "min" if hold and not setup else "all"
        mcp["end"] = bool(o.get("-end")) or (not o.get("-start") and mcp["minmax"] != "min")
        known = {c.name for c in tc.clocks}
        for key in ("-from", "-to"):
            if key in o:
                items = split(o[key])
                if not items or any(x not in known for x in items):
                    refuse("set_multicycle_path", f"{key} names pins, ports or instances; only clocks are")
                    return
                mcp[key[1:] + "_clocks"] = items
            else:
                mcp[key[1:] + "_clocks"] = None
        tc.multicycle_paths.append(mcp)

    def set_case_analysis(*args: str) -> None:
        """`set_case_analysis 0|1|rising|falling objects` (flow.engines.case_analysis times it)."""
        _, pos = opts(args, set(), set())
        vals = {"0": "0", "1": "1", "zero": "0", "one": "1", "rise": "rising", "rising": "rising",
                "fall": "falling", "falling": "falling"}
        if len(pos) < 2 or pos[0].lower() not in vals:
            raise err("set_case_analysis needs a value (0, 1, rising, falling) and pins or ports")
        for obj in pos[1:]:
            for nm in split(obj):
                tc.case_analysis[nm] = vals[pos[0].lower()]

    def set_max_delay(*args: str) -> None:
        o, pos = opts(args, {"-ignore_clock_latency", "-rise", "-fall"}, {"-from", "-to", "-through"})
        for opt in ("-from", "-through", "-rise", "-fall", "-ignore_clock_latency"):
            if opt in o:
                refuse(f"set_max_delay {opt}")
                return
        if "-to" not in o:
            refuse("set_max_delay without -to")
            return
        if not pos:
            raise err("set_max_delay needs a value")
        tc.max_delays.append({"to": split(o["-to"]), "value": number(pos[0], "set_max_delay") * time_unit})

    def set_max_time_borrow(*args: str) -> None:
        """`set_max_time_borrow limit objects`: objects are clocks, instances or pins, a bare name
        looked up in that order (OpenSTA's parse_clk_inst_pin_arg); the limit replaces the
        latch's pulse width - setup, it is not capped by it (Latches::latchBorrowInfo)."""
        _, pos = opts(args, set(), set())
        if len(pos) != 2:
            raise err("set_max_time_borrow needs a limit and objects")
        limit = number(pos[0], "set_max_time_borrow limit", nonnegative=True) * time_unit
        clocks = {c.name for c in tc.clocks}
        insts: set[str] = set()
        objs = split(pos[1])
        given = kinds.get(tuple(objs))  # the objects of a get_clocks/get_cells/get_pins
        for obj in objs:
            if given:
                kind = given
            elif obj in clocks:
                kind = "clock"
            else:
                if not insts:
                    insts.update(design.inst_names)
                if obj in insts:
                    kind = "inst"
                elif get_pins(obj):
                    kind = "pin"
                else:
                    warn(f"set_max_time_borrow {obj}: no clock, instance or pin of that name; ignored")
                    continue
            tc.max_time_borrow.setdefault(kind, {})[obj] = limit

    def set_wire_load_model(*args: str) -> None:
        o, _ = opts(args, {"-min", "-max"}, {"-name", "-library"})
        if "-name" not in o:
            raise err("set_wire_load_model needs -name")
        tc.wire_load_model = o["-name"]

    def set_clock_groups(*args: str) -> None:
        groups = []
        k = 0
        while k < len(args):
            if args[k] == "-group" and k + 1 < len(args):
                groups.append(split(args[k + 1]))
                k += 1
            k += 1
        if len(groups) == 1:  # as OpenSTA: one group is asynchronous to every other clock
            groups.append([c.name for c in tc.clocks if c.name not in groups[0]])
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                tc.async_groups += [(x, y) for x in groups[a] for y in groups[b]]

    def set_driving_cell(*args: str) -> None:
        o, pos = opts(args, {"-rise", "-fall", "-min", "-max", "-dont_scale", "-no_design_rule"},
                      {"-lib_cell", "-cell", "-library", "-pin", "-from_pin", "-input_transition_rise",
                       "-input_transition_fall", "-multiply_by"})
        cell = o.get("-lib_cell") or o.get("-cell")
        if not cell or not pos:
            raise FormatError(path, line_now(), "set_driving_cell needs -lib_cell CELL and ports")
        for opt in ("-rise", "-fall", "-min", "-max", "-multiply_by"):
            if opt in o:
                refuse(f"set_driving_cell {opt}")
                return
        slews = {number(o.get(k, 0.0), f"set_driving_cell {k}", nonnegative=True) * time_unit
                 for k in ("-input_transition_rise", "-input_transition_fall")}
        if len(slews) > 1:
            refuse("set_driving_cell with different -input_transition_rise and -input_transition_fall")
            return
        slew = slews.pop()
        for port in split(pos[0]):
            tc.driving_cells[port] = (cell, o.get("-pin"), o.get("-from_pin"), slew)

    def ignore(*args: str) -> str:
        return ""

    def drv_limit(kind: str, unit: float):
        """set_max_transition / _capacitance / _fanout on the design ([current_design]) or ports."""
        def f(*args: str) -> str:
            o, pos = opts(args, {"-clock_path", "-data_path", "-rise", "-fall"}, set())
            if not pos:
                raise err(f"set_max_{kind} needs a value")
            if o.get("-clock_path") or o.get("-data_path"):
                warn(f"set_max_{kind} on clocks is not modelled; ignored")
                return ""
            for obj in [x for s in pos[1:] for x in split(s)] or [""]:
                getattr(tc, f"max_{kind}")[obj] = number(pos[0], f"set_max_{kind}", nonnegative=True) * unit
            return ""
        return f

    def warn_ignore(name: str):
        def f(*args: str) -> str:
            warn(f"{name} is not modelled by the embedded STA; ignored")
            return ""
        return f

    def refused(name: str):
        def f(*args: str) -> str:
            refuse(name)
            return ""
        return f

    def unknown(name: str = "", *args: str) -> str:
        if name in TIMING_COMMANDS:
            refuse(name)
        else:
            warn(f"unknown SDC command {name!r}; ignored")
        return ""

    cmds = {
        "get_ports": get_ports, "get_pins": lambda *a: typed(get_pins(*a), "pin"), "get_clocks": get_clocks,
        "get_nets": get_pins, "get_cells": get_cells, "all_inputs": all_inputs,
        "all_outputs": lambda *a: tuple(ports_out),
        "all_clocks": lambda *a: typed(tuple([c.name for c in tc.clocks]), "clock"),
        "create_clock": create_clock,
        "set_input_delay": lambda *a: io_delay("set_input_delay", a),
        "set_output_delay": lambda *a: io_delay("set_output_delay", a),
        "set_clock_uncertainty": set_clock_uncertainty, "set_load": set_load,
        "set_input_transition": set_input_transition, "set_propagated_clock": set_propagated_clock,
        "set_clock_transition": set_clock_transition, "set_clock_latency": set_clock_latency,
        "set_false_path": set_false_path, "set_max_delay": set_max_delay, "set_clock_groups": set_clock_groups,
        "current_design": ignore, "set_units": ignore, "set_max_fanout": drv_limit("fanout", 1.0),
        "set_max_transition": drv_limit("transition", time_unit),
        "set_max_capacitance": drv_limit("capacitance", cap_unit), "set_wire_load_model": set_wire_load_model,
        "set_wire_load_mode": ignore,  # a flat netlist: top, enclosed and segmented are the same
        "set_driving_cell": set_driving_cell, "set_min_delay": refused("set_min_delay"),
        "set_multicycle_path": set_multicycle_path, "set_max_time_borrow": set_max_time_borrow,
        "set_timing_derate": refused("set_timing_derate"), "set_case_analysis": set_case_analysis,
        "set_disable_timing": refused("set_disable_timing"),
        "group_path": ignore, "set_dont_touch": ignore, "set_ideal_network": ignore,
    }
    cmds["unknown"] = unknown
    cmds["puts"] = warn_ignore("puts")
    pending: list[tuple[int | None, Exception]] = []  # errors raised inside our commands

    def guard(fn):
        def call(*args: str):
            try:
                return fn(*args)
            except Exception as exc:
                pending.append((line_now(), exc))
                raise
        return call

    def forbidden(name: str):
        def f(*args: str) -> str:
            raise err(f"{name} is not allowed in an SDC (constraints may not reach files, processes or sockets)")
        return f

    for name in FORBIDDEN_COMMANDS:
        cmds.setdefault(name, forbidden(name))
    for name, fn in cmds.items():
        tcl.createcommand(f"vh_sdc_{name}", guard(fn))
    # Keep only the whitelisted Tcl commands in the child; `info` and `catch` survive under names
    # the SDC cannot guess, for line numbers and error options.
    tcl.call("interp", "eval", "sdc", f"rename info {info_cmd}; rename catch {catch_cmd}")
    # collections are plain Tcl lists here, so these helpers are list operations
    tcl.call("interp", "eval", "sdc",
             "proc remove_from_collection {a b} { set out {}; foreach x $a { if {[lsearch -exact $b $x] < 0} "
             "{ lappend out $x } }; set out }\n"
             "proc delete_from_list {a b} { remove_from_collection $a $b }\n"
             "proc get_property {obj prop} { list }")
    keep = TCL_COMMANDS | {info_cmd, catch_cmd, "remove_from_collection", "delete_from_list", "get_property"}
    tcl.call("interp", "eval", "sdc", f"foreach c [{info_cmd} commands] {{ if {{$c ni {{{' '.join(sorted(keep))}}} "
             "&& $c ne {rename}} { rename $c {} } }; rename rename {}")
    for name in cmds:
        tcl.call("interp", "alias", "sdc", name, "", f"vh_sdc_{name}")

    for start, command in _commands(text, lambda s: tcl.call("info", "complete", s) in (1, "1", True)):
        chunk_line[0] = start
        if progress is not None:
            progress(start)
        deadline = time.time() + COMMAND_TIME_LIMIT_S
        tcl.call("interp", "limit", "sdc", "time", "-seconds", int(deadline),
                 "-milliseconds", int(deadline % 1 * 1000))
        try:
            failed = tcl.call("interp", "eval", "sdc", ["::" + catch_cmd, command, "__vh_msg", "__vh_opts"])
        except tkinter.TclError as exc:  # a limit cannot be caught inside the limited interpreter
            if "limit exceeded" in str(exc):
                raise FormatError(path, start, f"SDC command did not finish in {COMMAND_TIME_LIMIT_S:g} s "
                                  "(endless loop?)") from None
            raise FormatError(path, start, f"SDC error: {' '.join(str(exc).split())}") from None
        if str(failed) != "0":
            if pending:
                line, exc = pending[0]
                raise FormatError(path, line, getattr(exc, "message", None) or str(exc)) from None
            try:
                opts_ = tcl.call("interp", "eval", "sdc", ["set", "__vh_opts"])
                line = start + int(tcl.call("dict", "get", opts_, "-errorline")) - 1
            except (tkinter.TclError, ValueError):
                line = start
            msg = " ".join(str(tcl.call("interp", "eval", "sdc", ["set", "__vh_msg"])).split())
            raise FormatError(path, line, f"SDC error: {msg}")
    tc.input_delays = [x for delays in io_index["set_input_delay"].values() for x in delays.values()]
    tc.output_delays = [x for delays in io_index["set_output_delay"].values() for x in delays.values()]
    for (what, obj), line in split_line.items():
        msg = f"{what} of {obj}: different rise/fall or min/max values"
        if strict:
            raise FormatError(path, line, f"{msg} are not supported by the embedded STA")
        tc.warnings.append(f"{path}:{line}: {msg}; the last one is used")
    return tc
