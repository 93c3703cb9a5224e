"""`report_checks` text in OpenSTA 3.1's layout (`-fields {slew cap fanout}`, `-digits N`): the
paths of a `TimingResult` with OpenSTA's start/end descriptions, driver pins only (as OpenSTA
prints them without `-fields input_pins`), clock lines (`clk'` where a register or latch pin
sees the clock inverted), external delays, library check and slack; a path through a
borrowing latch from its D after the time given to the startpoint, and a latch setup path with
its Time Borrowing Information (tests/signoff/test_latch_borrowing.py). Times in the library's
time unit (ns), capacitance in its capacitance unit."""

from __future__ import annotations

from typing import Any

from flow.engines.sta import TimingPath, TimingResult


def _units(res: TimingResult) -> tuple[float, float]:
    lib = res.library
    get = (lambda k: lib.get(k)) if isinstance(lib, dict) else (lambda k: getattr(lib, k, None))
    return float(get("time_unit") or 1e-9), float(get("cap_unit") or 1e-15)


def _fanout(res: TimingResult, node: int) -> int:
    """Loads on the node's net (input pins and output ports), what OpenSTA's fanout field shows."""
    g = res.graph
    cache = getattr(res, "_fanout_by_net", None)
    if cache is None:
        import numpy as np

        is_ld = (g.pin_dir == 1) | (g.pin_dir == 3)
        nets = g.node_net[is_ld]
        cache = np.bincount(nets[nets >= 0], minlength=int(g.node_net.max()) + 1)
        res._fanout_by_net = cache  # type: ignore[attr-defined]
    net = int(g.node_net[node])
    return int(cache[net]) if net >= 0 else 0


def _clock(res: TimingResult, name: str | None) -> Any:
    tc = res.constraints
    return next((c for c in tc.clocks if c.name == name), None) if tc is not None and name else None


def _edge(clk: Any, time: float) -> str:
    """"rise" or "fall": which waveform edge of the clock a launch/capture time is (a falling
    launch, `-clock_fall` I/O delays, a falling capture print "(fall edge)" in OpenSTA)."""
    if clk is None or not clk.period:
        return "rise"
    k = (time - clk.waveform[1]) / clk.period
    return "fall" if abs(k - round(k)) < 1e-6 and clk.waveform[1] != clk.waveform[0] else "rise"


def _sensed(clk_name: str | None, sense: tuple[int, int] | None) -> str | None:
    """OpenSTA's clock name at a register pin: `clk'` when the pin sees the clock inverted."""
    return f"{clk_name}'" if clk_name and sense is not None and sense[0] != sense[1] else clk_name


def _reg_desc(latch: str | None, sense: tuple[int, int] | None) -> str:
    if latch:
        return f"{latch} level-sensitive latch"
    return "falling edge-triggered flip-flop" if sense is not None and sense[1] == 1 else \
        "rising edge-triggered flip-flop"


def format_path(res: TimingResult, p: TimingPath, digits: int = 2) -> str:
    tu, cu = _units(res)
    w = digits + 5
    blank = " " * w

    def t(x: float) -> str:
        txt = f"{x / tu:.{digits}f}"
        return f"{txt.lstrip('-') if float(txt) == 0.0 else txt:>{w}}"  # "-0.00" printed "0.00", as OpenSTA

    def start_desc(node_name: str, clk: str | None) -> str:
        if "/" not in node_name:
            return f"{node_name} (input port clocked by {clk})" if clk else f"{node_name} (input port)"
        inst = node_name.rsplit("/", 1)[0]
        return f"{inst} ({_reg_desc(p.start_latch, p.launch_sense)} clocked by {_sensed(clk, p.launch_sense)})"

    def end_desc(node_name: str, clk: str | None) -> str:
        if "/" not in node_name:
            return f"{node_name} (output port clocked by {clk})"
        inst = node_name.rsplit("/", 1)[0]
        return f"{inst} ({_reg_desc(p.latch, p.capture_sense)} clocked by {_sensed(clk, p.capture_sense)})"

    def clock_line(clk: Any, name: str | None, sense: tuple[int, int] | None, time: float) -> str:
        """`clock clk' (rise edge)`: the pin's edge; an ideal clock shows its slew."""
        edge = ("rise", "fall")[sense[1]] if sense is not None else _edge(clk, time)
        slew = None if clk is not None and clk.propagated else ((clk.transition or 0.0) if clk is not None else 0.0)
        return row(time, time, f"  clock {_sensed(name, sense)} ({edge} edge)", slew=slew)

    lc, cc = _clock(res, p.launch_clock), _clock(res, p.capture_clock)
    head = f"{'Fanout':>6} {'Cap':>{w}} {'Slew':>{w}} {'Delay':>{w}} {'Time':>{w}}   Description"
    dash = "-" * (len(head) + 25)
    fo_blank = " " * 6
    lines = [f"Startpoint: {start_desc(p.startpoint, p.launch_clock)}",
             f"Endpoint: {end_desc(p.endpoint, p.capture_clock)}",
             f"Path Group: {p.capture_clock or 'unconstrained'}", f"Path Type: {p.kind}", "", head, dash]

    def row(delay: float | None, time: float, desc: str, slew: float | None = None, cap: float | None = None,
            fanout: int | None = None) -> str:
        return (f"{fanout:>6d} " if fanout is not None else fo_blank + " ") + \
            (f"{cap / cu:{w}.{digits}f} " if cap is not None else blank + " ") + \
            (f"{slew / tu:{w}.{digits}f} " if slew is not None else blank + " ") + \
            (f"{t(delay)} " if delay is not None else blank + " ") + f"{t(time)} {desc}"

    ideal = "propagated" if (lc is not None and lc.propagated) else "ideal"
    first = p.stages[0] if p.stages else None
    if p.launch_clock:
        lines.append(clock_line(lc, p.launch_clock, p.launch_sense, p.launch_edge))
    prev = p.launch_edge
    if first is not None and "/" not in first.node and p.launch_clock:  # input port: external delay
        lat = (lc.source_latency + (0.0 if lc.propagated else lc.latency)) if lc is not None else 0.0
        lines.append(row(lat, p.launch_edge + lat, f"  clock network delay ({ideal})"))
        io = next((d for d in (res.constraints.input_delays if res.constraints else [])
                   if d.port == first.node and d.clock == p.launch_clock), None)
        ext = (io.max if p.kind == "max" else io.min) if io is not None else first.arrival - p.launch_edge - lat
        prev = p.launch_edge + lat + ext
        lines.append(row(ext, prev, f"{first.transition} input external delay"))
    elif first is not None and p.time_given is not None:  # from a borrowing latch's D
        enable = first.arrival - p.time_given
        lines.append(row(enable - p.launch_edge, enable, f"  clock network delay ({ideal})"))
        given = "time given to startpoint" if p.time_given >= 0 else "time borrowed from startpoint"
        lines.append(row(p.time_given, first.arrival, f"  {given}"))
        prev = first.arrival
    elif first is not None:
        lines.append(row(first.arrival - p.launch_edge, first.arrival, f"  clock network delay ({ideal})"))
        prev = first.arrival
    for k, s in enumerate(p.stages):
        is_last = k == len(p.stages) - 1
        is_driver = s.load is not None
        if k > 0 and not is_driver and not is_last:
            continue  # load pins are folded into the next driver's delay, as OpenSTA prints
        cell = f" ({s.cell})" if s.cell else (" (in)" if "/" not in s.node else " (out)")
        fo = None
        if is_driver and k > 0 or (k == 0 and "/" not in s.node):
            idx = _node_index(res, s.node)
            fo = _fanout(res, idx) if idx is not None else None
        lines.append(row(s.arrival - prev if (k > 0 or "/" not in s.node) else 0.0, s.arrival, f"{s.transition} {s.node}{cell}",
                         slew=s.slew, cap=s.load if (is_driver and (k > 0 or "/" not in s.node)) else None,
                         fanout=fo if (is_driver and (k > 0 or "/" not in s.node)) else None))
        prev = s.arrival
    lines.append(row(None, p.arrival, "  data arrival time"))
    lines.append("")
    sign = -1.0 if p.kind == "max" else 1.0
    if p.capture_clock:
        lines.append(clock_line(cc, p.capture_clock, p.capture_sense, p.capture_edge))
        cideal = "propagated" if (cc is not None and cc.propagated) else "ideal"
        lines.append(row(p.clock_arrival - p.capture_edge, p.clock_arrival, f"  clock network delay ({cideal})"))
        t_ = p.clock_arrival
        if p.uncertainty:
            t_ += sign * p.uncertainty
            lines.append(row(sign * p.uncertainty, t_, "  clock uncertainty"))
        lines.append(row(0.0, t_, "  clock reconvergence pessimism"))
        if "/" in p.endpoint:
            ck = _clock_pin(res, p.endpoint)
            if ck is not None:
                pin_tr = "v" if p.capture_sense is not None and p.capture_sense[1] == 1 else "^"
                lines.append(row(None, t_, f"{pin_tr} {ck[0]} ({ck[1]})"))
            what = "library setup time" if p.kind == "max" else "library hold time"
            if p.latch and p.kind == "max":
                what = "time borrowed from endpoint" if p.required - t_ >= 0 else "time given to endpoint"
        else:
            what = "output external delay"
        lines.append(row(p.required - t_, p.required, f"  {what}"))
    lines.append(row(None, p.required, "  data required time"))
    lines.append(dash)
    lines.append(row(None, p.required, "  data required time"))
    lines.append(row(None, -p.arrival, "  data arrival time"))
    lines.append(dash)
    lines.append(row(None, p.slack, f"  slack ({'MET' if p.slack >= 0 else 'VIOLATED'})"))
    if p.borrow is not None and p.kind == "max":
        lines += ["", *_borrowing(p, t, w)]
    lines.append("")
    lines.append("")
    return "\n".join(lines)


def _borrowing(p: TimingPath, t: Any, w: int) -> list[str]:
    """OpenSTA's "Time Borrowing Information" of a latch setup path (ReportPath::reportBorrowing)."""
    b = p.borrow or {}
    dash = "-" * (36 + 1 + w)

    def total(what: str, x: float, minus: bool = False) -> str:
        txt = t(-x) if minus else t(x)
        if minus and float(txt) == 0.0:
            txt = f"{'-' + txt.strip():>{w}}"  # a leading minus always, as OpenSTA
        return f"{what:<36} {txt}"

    out = ["Time Borrowing Information", dash]
    name = _sensed(p.capture_clock, p.capture_sense)
    if b.get("user"):
        out.append(total("user max time borrow", b["max_borrow"]))
    else:
        if b.get("propagated"):
            out.append(total(f"{name} nominal pulse width", b["width"]))
            if b["latency_diff"] != 0.0:
                out.append(total("clock latency difference", b["latency_diff"], minus=True))
        else:
            out.append(total(f"{name} pulse width", b["clock_width"]))
        out += [total("library setup time", b["margin"], minus=True), dash, total("max time borrow", b["max_borrow"])]
    if b["borrow"] > 0 and b["open_uncertainty"] != 0.0:
        out += [dash, total("actual time borrow", b["borrow"]), total("open edge uncertainty", b["open_uncertainty"]),
                dash, total("time given to startpoint", b["time_given"])]
    else:
        out.append(total("actual time borrow", b["borrow"]))
    out.append(dash)
    return out


def _clock_pin(res: TimingResult, endpoint: str) -> tuple[str, str] | None:
    """(clock pin name, cell) of the register whose check endpoint is `endpoint`."""
    d = _node_index(res, endpoint)
    g = res.graph
    for c in g.checks:
        if c[0] == d:
            inst = int(g.node_inst[c[1]])
            return g.names[c[1]], g.cells[int(g.inst_cell_idx[inst])].name
    return None


def _node_index(res: TimingResult, name: str) -> int | None:
    names = res.graph.names
    if hasattr(names, "index_of"):
        return names.index_of(name)
    try:
        return list(names).index(name)
    except ValueError:
        return None


def report_checks(res: TimingResult, count: int = 1, digits: int = 2) -> str:
    """`report_checks -path_delay max` then `min` with `-group_path_count count`: per path group
    (capture clock, in the order the clocks were defined) its `count` worst paths among those
    the analysis kept (`analyze(max_paths=...)`)."""
    order = [c.name for c in res.constraints.clocks] if res.constraints is not None else []
    out = []
    for paths in (res.setup_paths, res.hold_paths):
        groups = order + sorted({p.capture_clock or "" for p in paths} - set(order))
        for grp in groups:
            out += [format_path(res, p, digits) for p in [q for q in paths if (q.capture_clock or "") == grp][:count]]
    return "\n".join(out) if out else "No paths found.\n"
