"""Latch time borrowing against `sta` 3.1 on sky130hd `dlxtp` latches between flops (issue #15).

One netlist: r1 -> 6 buffers -> l1 (enabled by the inverted clock: opens at P/2, closes at P)
-> buffer -> r2; the same data into l2 (enabled by the clock: opens at 0) -> l3 (inverted clock)
-> r3, and l2 -> r4. The clock period picks the regime: at 4 ns l1's data arrives before it
opens (slack to the opening edge) and l2 borrows (slack 0); at 1.6 ns l2's data comes past its
borrow limit (pulse width - setup: violated) and l3 borrows from a borrowing latch; at 1 ns the
data borrowed through l1 (into the falling-edge cycle of the enable) makes r2 fail. Every
endpoint's setup and hold slack is compared with `report_checks -format end`, with the clock
ideal and propagated (the inverter then delays the enables of l1 and l3).
"""

from __future__ import annotations

import math
import re

import pytest

from flow.engines import sta
from tests.signoff.opensta import run_sta
from tests.signoff.test_sta_opensta3 import _lib

_P = "sky130_fd_sc_hd__"
N_BUF = 6


def _netlist() -> str:
    chain = [f"  {_P}buf_1 b0 (.A(q1), .X(c1));"]
    chain += [f"  {_P}buf_1 b{i} (.A(c{i}), .X(c{i + 1}));" for i in range(1, N_BUF)]
    wires = ", ".join(["q1", "clkn", "ql1", "d2", "ql2", "ql3"] + [f"c{i}" for i in range(1, N_BUF + 1)])
    return "\n".join([
        "module top(clk, a, y1, y2, y3);", "  input clk, a;", "  output y1, y2, y3;", f"  wire {wires};",
        f"  {_P}dfxtp_1 r1 (.CLK(clk), .D(a), .Q(q1));", *chain,
        f"  {_P}clkinv_1 ci (.A(clk), .Y(clkn));",
        f"  {_P}dlxtp_1 l1 (.D(c{N_BUF}), .GATE(clkn), .Q(ql1));",
        f"  {_P}buf_1 u1 (.A(ql1), .X(d2));",
        f"  {_P}dfxtp_1 r2 (.CLK(clk), .D(d2), .Q(y1));",
        f"  {_P}dlxtp_1 l2 (.D(c{N_BUF}), .GATE(clk), .Q(ql2));",
        f"  {_P}dlxtp_1 l3 (.D(ql2), .GATE(clkn), .Q(ql3));",
        f"  {_P}dfxtp_1 r3 (.CLK(clk), .D(ql3), .Q(y2));",
        f"  {_P}dfxtp_1 r4 (.CLK(clk), .D(ql2), .Q(y3));",
        "endmodule", ""])


def _end_table(text: str, kind: str) -> dict[str, float]:
    """Endpoint -> slack (ns) of one `report_checks -path_delay {kind} -format end` report."""
    part = text.split(f"{'max_delay/setup' if kind == 'max' else 'min_delay/hold'} group")[1]
    part = re.split(r"\n(?:max_delay/setup|min_delay/hold) group|\nworst slack", part)[0]
    return {m.group(1): float(m.group(2)) for m in
            re.finditer(r"^(\S+) \(\S+\)\s+\S+\s+\S+\s+(\S+) \((?:MET|VIOLATED)\)", part, re.M)}


def _write_sdc(d, period: float, propagated: bool, lines: str = "") -> None:
    """top.sdc of the latch cases: the clock, 50 ps uncertainty, a 0.1 ns input delay on a."""
    (d / "top.sdc").write_text(f"create_clock [get_ports clk] -name clk -period {period}\n"
                               "set_clock_uncertainty 0.05 [all_clocks]\n"
                               "set_input_delay 0.1 -clock clk [get_ports a]\n"
                               + ("set_propagated_clock [all_clocks]\n" if propagated else "")
                               + (lines + "\n" if lines else ""))


def _match_endpoints(t, stdout: str, expected) -> dict[str, dict[str, float]]:
    """Our setup/hold slack per endpoint equals `sta` 3.1's `-format end` tables within 1 fs;
    `expected`: their endpoints (a set) or how many there are. Returns ours, kind -> ep -> s."""
    ours = {"max": dict(zip(t.endpoint_names, t.setup_slack.tolist(), strict=True)),
            "min": dict(zip(t.endpoint_names, t.hold_slack.tolist(), strict=True))}
    for kind in ("max", "min"):
        theirs = _end_table(stdout, kind)
        assert (set(theirs) == expected) if isinstance(expected, set) else (len(theirs) == expected), theirs
        for ep, slack in theirs.items():
            assert ours[kind][ep] == pytest.approx(slack * 1e-9, abs=1e-12), (kind, ep, ours[kind][ep], slack)
    return ours


# per period: endpoint -> sign of its setup slack (+1 met with margin, 0 borrowing, -1 violated)
def _both(d, lib, extra: str = ""):
    """top.v / top.sdc in `d` timed by us and by `sta` 3.1 (every endpoint's max and min slack as
    `-format end` tables, then `extra`): (TimingResult, StaRun)."""
    library = sta.load_liberty(lib)
    design = sta.load_design([d / "top.v"], "top")
    t = sta.analyze(design, library, sta.load_constraints(d / "top.sdc", design, library))
    ref = run_sta(f"read_liberty {lib}\nread_verilog {d / 'top.v'}\nlink_design top\nread_sdc {d / 'top.sdc'}\n"
                  "report_checks -path_delay max -group_path_count 20 -format end -digits 6\n"
                  f"report_checks -path_delay min -group_path_count 20 -format end -digits 6\n{extra}", d)
    return t, ref


REGIMES = {4.0: {"l1/D": 1, "l2/D": 0}, 1.6: {"l2/D": -1, "l3/D": 0}, 1.0: {"l1/D": 0, "r2/D": -1}}


@pytest.mark.parametrize("propagated", [False, True])
@pytest.mark.parametrize("period", sorted(REGIMES))
def test_latch_slacks_match_opensta(tmp_path, sky130hd, period, propagated):
    lib = _lib(sky130hd, "tt_025C_1v80", tmp_path)
    (tmp_path / "top.v").write_text(_netlist())
    _write_sdc(tmp_path, period, propagated)
    t, ref = _both(tmp_path, lib, "report_worst_slack -max -digits 6\n")
    ours = _match_endpoints(t, ref.stdout, {f"{x}/D" for x in ("r1", "r2", "r3", "r4", "l1", "l2", "l3")})
    assert abs(t.setup_wns - ref.value("worst slack max") * 1e-9) < 5e-12
    for ep, sign in REGIMES[period].items():  # the regimes the periods are chosen for
        assert (ours["max"][ep] > 1e-12) - (ours["max"][ep] < -1e-12) == sign, (ep, ours["max"][ep])


def test_latch_closed_by_constant_passes_nothing(tmp_path, sky130hd):
    """An enable held closed by `set_case_analysis` stops data at the latch: `sta` 3.1 has no path
    to the flop behind it (and none to the latch D, whose enable carries no clock)."""
    lib = _lib(sky130hd, "tt_025C_1v80", tmp_path)
    (tmp_path / "top.v").write_text("\n".join([
        "module top(clk, a, en, y);", "  input clk, a, en;", "  output y;", "  wire q1, c1, ql;",
        f"  {_P}dfxtp_1 r1 (.CLK(clk), .D(a), .Q(q1));", f"  {_P}buf_1 b0 (.A(q1), .X(c1));",
        f"  {_P}dlxtp_1 l1 (.D(c1), .GATE(en), .Q(ql));", f"  {_P}dfxtp_1 r2 (.CLK(clk), .D(ql), .Q(y));",
        "endmodule", ""]))
    (tmp_path / "top.sdc").write_text("create_clock [get_ports clk] -name clk -period 1.0\n"
                                      "set_input_delay 0.1 -clock clk [get_ports a]\n"
                                      "set_case_analysis 0 [get_ports en]\n")
    t, ref = _both(tmp_path, lib)
    ours = dict(zip(t.endpoint_names, t.setup_slack.tolist(), strict=True))
    for kind in ("max", "min"):
        assert set(_end_table(ref.stdout, kind)) == {"r1/D"}
    assert ours["r1/D"] == pytest.approx(_end_table(ref.stdout, "max")["r1/D"] * 1e-9, abs=1e-12)
    assert ours["r2/D"] == math.inf and ours["l1/D"] == math.inf


# (period, set_max_time_borrow lines, endpoint -> sign of its setup slack under the limit)
LIMITS = {
    "clock-below": (4.0, "set_max_time_borrow 0.1 [get_clocks clk]", {"l2/D": -1}),
    "pin-above-width": (1.6, "set_max_time_borrow 5.0 [get_pins l2/D]", {"l2/D": 0, "l3/D": 0}),
    "instance": (1.6, "set_max_time_borrow 0.05 [get_cells l3]", {"l2/D": -1, "l3/D": -1}),
    "enable-pin": (1.0, "set_max_time_borrow 0.02 [get_pins l1/GATE]", {"l1/D": -1}),
    "pin-over-clock": (1.0, "set_max_time_borrow 0.3 [get_clocks clk]\nset_max_time_borrow 0.01 l1/D",
                       {"l1/D": -1, "l3/D": 0}),
}


@pytest.mark.parametrize("propagated", [False, True])
@pytest.mark.parametrize("case", sorted(LIMITS))
def test_max_time_borrow_matches_opensta(tmp_path, sky130hd, case, propagated):
    """`set_max_time_borrow` on a clock, a D pin, an enable pin, an instance (a pin's limit wins
    over the clock's): the limit replaces pulse width - setup, above it too (sta 3.1's
    latchBorrowInfo), so l2 at 1.6 ns borrows 5 ns' worth instead of violating."""
    period, lines, signs = LIMITS[case]
    lib = _lib(sky130hd, "tt_025C_1v80", tmp_path)
    (tmp_path / "top.v").write_text(_netlist())
    _write_sdc(tmp_path, period, propagated, lines)
    t, ref = _both(tmp_path, lib)
    ours = _match_endpoints(t, ref.stdout, 7)
    for ep, sign in signs.items():  # the limit changes the regime it is chosen for
        assert (ours["max"][ep] > 1e-12) - (ours["max"][ep] < -1e-12) == sign, (ep, ours["max"][ep])


@pytest.mark.parametrize("getter", ["get_cells", "get_clocks"])
def test_max_time_borrow_object_type_beats_name(tmp_path, sky130hd, getter):
    """A clock named like a latch instance (l3): `[get_cells l3]` limits that latch alone and
    `[get_clocks l3]` every latch the clock enables, as in sta 3.1, where the object's type, not
    its name, decides; a bare `l3` would be the clock (OpenSTA's lookup order)."""
    lib = _lib(sky130hd, "tt_025C_1v80", tmp_path)
    (tmp_path / "top.v").write_text(_netlist())
    (tmp_path / "top.sdc").write_text("create_clock [get_ports clk] -name l3 -period 1.6\n"
                                      "set_clock_uncertainty 0.05 [all_clocks]\n"
                                      "set_input_delay 0.1 -clock l3 [get_ports a]\n"
                                      f"set_max_time_borrow 0.05 [{getter} l3]\n")
    design = sta.load_design([tmp_path / "top.v"], "top")
    tc = sta.load_constraints(tmp_path / "top.sdc", design)
    assert tc.max_time_borrow == {"inst" if getter == "get_cells" else "clock": {"l3": pytest.approx(0.05e-9)}}
    t, ref = _both(tmp_path, lib)
    ours = _match_endpoints(t, ref.stdout, 7)
    # the instance limit makes l3 violate; the clock-wide one cuts l2's borrowing instead (l2
    # violates by > 0.5 ns, and l3, fed earlier, meets)
    slack = ours["max"]
    assert (slack["l3/D"] < -0.1e-9, slack["l2/D"] < -0.5e-9) == ((True, False) if getter == "get_cells"
                                                                  else (False, True)), slack


def test_max_time_borrow_objects(tmp_path):
    """The SDC reader sorts a limit's objects as OpenSTA (clock, then instance, then pin) and
    refuses a negative limit."""
    from flow.errors import FormatError

    (tmp_path / "top.v").write_text(_netlist())
    design = sta.load_design([tmp_path / "top.v"], "top")
    (tmp_path / "a.sdc").write_text("create_clock [get_ports clk] -name clk -period 2\n"
                                    "set_max_time_borrow 0.25 {clk l1 l2/D}\nset_max_time_borrow 0.5 [get_cells l3]\n")
    tc = sta.load_constraints(tmp_path / "a.sdc", design)
    assert tc.max_time_borrow == {"clock": {"clk": 0.25e-9}, "inst": {"l1": 0.25e-9, "l3": 0.5e-9},
                                  "pin": {"l2/D": 0.25e-9}}
    (tmp_path / "b.sdc").write_text("create_clock [get_ports clk] -name clk -period 2\nset_max_time_borrow -1 clk\n")
    with pytest.raises(FormatError, match="set_max_time_borrow"):
        sta.load_constraints(tmp_path / "b.sdc", design)


REPORTS = {"borrow-1.0": (1.0, ""), "violate-1.6": (1.6, ""), "open-4.0": (4.0, ""),
           "user-limit": (1.0, "set_max_time_borrow 0.02 [get_pins l1/D]\nset_max_time_borrow 0.15 [get_clocks clk]"),
           # borrow 0.04 < the 0.05 uncertainty: the D path is reported "time borrowed from startpoint"
           "given-negative": (1.0, "set_max_time_borrow 0.04 [get_pins l1/D]")}


@pytest.mark.parametrize("propagated", [False, True])
@pytest.mark.parametrize("case", sorted(REPORTS))
def test_latch_path_reports_match_opensta(tmp_path, sky130hd, case, propagated):
    """`report_checks -fields {slew cap fanout}` text of every endpoint's worst setup path and of
    the hold paths launched by the latches, line for line as sta 3.1: paths through a borrowing
    latch start at its D ("time given to startpoint"), latch ends print the time borrowed and
    the Time Borrowing Information, the inverted enable is `clk'`."""
    from flow.engines.sta_report import format_path

    period, lines = REPORTS[case]
    lib = _lib(sky130hd, "tt_025C_1v80", tmp_path)
    (tmp_path / "top.v").write_text(_netlist())
    _write_sdc(tmp_path, period, propagated, lines)
    library = sta.load_liberty(lib)
    design = sta.load_design([tmp_path / "top.v"], "top")
    t = sta.analyze(design, library, sta.load_constraints(tmp_path / "top.sdc", design, library), max_paths=20)
    wanted = [("max", f"{x}/D") for x in ("r2", "r3", "r4", "l1", "l2", "l3")] + [("min", "r2/D"), ("min", "r4/D")]
    ref = run_sta(f"read_liberty {lib}\nread_verilog {tmp_path / 'top.v'}\nlink_design top\n"
                  f"read_sdc {tmp_path / 'top.sdc'}\n"
                  + "".join(f"report_checks -path_delay {k} -to {ep} -fields {{slew cap fanout}}\n" for k, ep in wanted),
                  tmp_path)
    theirs = ["Startpoint: " + b.rstrip("\n") for b in ref.stdout.split("Startpoint: ")[1:]]
    assert len(theirs) == len(wanted)
    through_d = 0
    for (kind, ep), text in zip(wanted, theirs, strict=True):
        path = next(p for p in (t.setup_paths if kind == "max" else t.hold_paths) if p.endpoint == ep)
        assert format_path(t, path).rstrip("\n").splitlines() == text.splitlines(), (kind, ep)
        through_d += "time given to startpoint" in text.split("data arrival time")[0]
        through_d += "time borrowed from startpoint" in text.split("data arrival time")[0]
    assert through_d >= 2 and sum("Time Borrowing Information" in x for x in theirs) == 3
    assert any("user max time borrow" in x for x in theirs) == bool(lines)
    if case == "given-negative" and not propagated:  # (propagated, the enable's launch is later)
        assert any("time borrowed from startpoint" in x for x in theirs)


def _negative_chain() -> str:
    """r1 -> 3 buffers -> negative latch l1 (dlxtn, open while clk is low) -> l2 (same) -> r3,
    and l1 -> buffer -> r2: l2's D is l1's Q."""
    return "\n".join([
        "module top(clk, a, y1, y2);", "  input clk, a;", "  output y1, y2;", "  wire q1, c1, c2, c3, ql1, ql2, d2;",
        f"  {_P}dfxtp_1 r1 (.CLK(clk), .D(a), .Q(q1));", f"  {_P}buf_1 b0 (.A(q1), .X(c1));",
        f"  {_P}buf_1 b1 (.A(c1), .X(c2));", f"  {_P}buf_1 b2 (.A(c2), .X(c3));",
        f"  {_P}dlxtn_1 l1 (.D(c3), .GATE_N(clk), .Q(ql1));", f"  {_P}buf_1 u1 (.A(ql1), .X(d2));",
        f"  {_P}dfxtp_1 r2 (.CLK(clk), .D(d2), .Q(y1));", f"  {_P}dlxtn_1 l2 (.D(ql1), .GATE_N(clk), .Q(ql2));",
        f"  {_P}dfxtp_1 r3 (.CLK(clk), .D(ql2), .Q(y2));", "endmodule", ""])


@pytest.mark.parametrize("propagated", [False, True])
def test_negative_latch_chain_matches_opensta(tmp_path, sky130hd, propagated):
    """Negative-level latches in series: the slew at a latch's Q is its enable arc's alone (sta
    3.1's GraphDelayCalc sets none from D->Q, which only gets a delay); with the D->Q slew merged
    the hold check at l2/D, looked up at l1/Q's early slew, was 10 ps off. Every endpoint's
    slacks and the report text of the paths through the latches."""
    from flow.engines.sta_report import format_path

    lib = _lib(sky130hd, "tt_025C_1v80", tmp_path)
    (tmp_path / "top.v").write_text(_negative_chain())
    _write_sdc(tmp_path, 1.0, propagated)
    wanted = [("max", "l2/D"), ("max", "r2/D"), ("max", "r3/D"), ("min", "l2/D"), ("min", "r3/D")]
    t, ref = _both(tmp_path, lib, "".join(f"report_checks -path_delay {k} -to {ep} -fields {{slew cap fanout}}\n"
                                          for k, ep in wanted))
    _match_endpoints(t, ref.stdout, {"r1/D", "r2/D", "r3/D", "l1/D", "l2/D"})
    texts = ["Startpoint: " + b.rstrip("\n") for b in ref.stdout.split("Startpoint: ")[1:]]
    assert len(texts) == len(wanted) and "negative level-sensitive latch" in texts[0]
    for (kind, ep), text in zip(wanted, texts, strict=True):
        path = next(p for p in (t.setup_paths if kind == "max" else t.hold_paths) if p.endpoint == ep)
        assert format_path(t, path).rstrip("\n").splitlines() == text.splitlines(), (kind, ep)


@pytest.mark.parametrize("period", [1.0, 1.6])
def test_latch_slacks_on_rc_nets_match_opensta(tmp_path, sky130hd, period):
    """The latch netlist with a resistive SPEF on every net (DMP delays): the separate pass that
    times latch D->Q arcs on Q's RC net must leave Q's slew and wire delays to the enable arc
    (sta 3.1)."""
    from flow.engines.parasitics import Parasitics
    from flow.formats.spef import read_spef
    from tests.signoff.test_sta_opensta import make_spef

    lib = _lib(sky130hd, "tt_025C_1v80", tmp_path)
    (tmp_path / "top.v").write_text(_netlist())
    _write_sdc(tmp_path, period, True)
    design = sta.load_design([tmp_path / "top.v"], "top")
    make_spef(design, tmp_path / "top.spef", r_scale=10.0)
    library = sta.load_liberty(lib)
    t = sta.analyze(design, library, sta.load_constraints(tmp_path / "top.sdc", design, library),
                    parasitics=Parasitics.from_spef(read_spef(tmp_path / "top.spef"), design))
    ref = run_sta(f"read_liberty {lib}\nread_verilog {tmp_path / 'top.v'}\nlink_design top\n"
                  f"read_sdc {tmp_path / 'top.sdc'}\nread_spef {tmp_path / 'top.spef'}\n"
                  "report_checks -path_delay max -group_path_count 20 -format end -digits 6\n"
                  "report_checks -path_delay min -group_path_count 20 -format end -digits 6\n", tmp_path)
    ours = _match_endpoints(t, ref.stdout, 7)
    assert min(ours["max"][f"{x}/D"] for x in ("l1", "l2", "l3")) <= 1e-12  # a latch borrows or violates
