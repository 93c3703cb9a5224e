"""Worst path through each cell (forward + backward pass) against an explicit enumeration of every
path of small netlists, and its minimum against the STA's WNS."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flow.engines import sta
from plugins.finevh.criticality import cell_through_slack, island_criticality

NETLIST = """module t (clk, a, b, y);
  input clk, a, b; output y;
  wire n1, n2, n3, c1, c2, c3, c4, g1, s1, q3, q4, m1;
  sky130_fd_sc_hd__dfxtp_1 r1 (.CLK(clk), .D(a), .Q(n1));
  sky130_fd_sc_hd__dfxtp_1 r2 (.CLK(clk), .D(q3), .Q(n2));
  sky130_fd_sc_hd__inv_1 i1 (.A(n1), .Y(c1));
  sky130_fd_sc_hd__inv_1 i2 (.A(c1), .Y(c2));
  sky130_fd_sc_hd__inv_2 i3 (.A(c2), .Y(c3));
  sky130_fd_sc_hd__inv_1 i4 (.A(c3), .Y(c4));
  sky130_fd_sc_hd__nand2_1 g1 (.A(c4), .B(n2), .Y(g1));
  sky130_fd_sc_hd__dfxtp_1 r3 (.CLK(clk), .D(g1), .Q(q3));
  sky130_fd_sc_hd__buf_1 b1 (.A(n2), .X(s1));
  sky130_fd_sc_hd__nand2_1 m1 (.A(s1), .B(b), .Y(m1));
  sky130_fd_sc_hd__dfxtp_1 r4 (.CLK(clk), .D(m1), .Q(q4));
  sky130_fd_sc_hd__nand2_1 o1 (.A(q4), .B(c2), .Y(y));
endmodule
"""


def _analyze(tmp_path, lib, period: float):
    (tmp_path / "t.v").write_text(NETLIST)
    (tmp_path / "t.sdc").write_text(
        f"create_clock -name clk -period {period} [get_ports clk]\n"
        f"set_input_delay 0.2 -clock clk [get_ports {{a b}}]\nset_output_delay 0.3 -clock clk [get_ports y]\n")
    design = sta.load_design([tmp_path / "t.v"], "t")
    tc = sta.load_constraints(tmp_path / "t.sdc", design, lib)
    return design, sta.analyze(design, lib, tc)


def _enumerate(design, t) -> np.ndarray:
    """Every path from every start (node, edge) without a timed fan-in to every endpoint:
    slack = endpoint required − (start arrival + Σ edge delays); per cell, the worst path through it."""
    g = t.graph
    ok = np.isfinite(t.edge_delay)
    fanout: dict[tuple[int, int], list[tuple[int, int, float]]] = {}
    has_in = set()
    for e in np.flatnonzero(ok):
        fanout.setdefault((int(g.src[e]), int(g.srctr[e])), []).append(
            (int(g.dst[e]), int(g.dsttr[e]), float(t.edge_delay[e])))
        has_in.add((int(g.dst[e]), int(g.dsttr[e])))
    index = {nm: k for k, nm in enumerate(t.node_names)}
    req = {}
    for nm, s in zip(t.endpoint_names, t.setup_slack, strict=True):
        v = index[nm]
        if math.isfinite(s):
            req[v] = float(np.nanmax(np.where(np.isfinite(t.node_arrival[v]), t.node_arrival[v], -np.inf))) + float(s)
    worst = np.full(len(design.inst_names), np.inf)
    starts = [(v, tr) for v in range(g.n) for tr in (0, 1)
              if np.isfinite(t.node_arrival[v, tr]) and (v, tr) not in has_in]

    def walk(v: int, tr: int, at: float, path: list[int]) -> None:
        path = path + [v]
        if v in req:
            sl = req[v] - at
            for u in path:
                i = int(g.node_inst[u])
                if i >= 0:
                    worst[i] = min(worst[i], sl)
        for w, wtr, d in fanout.get((v, tr), []):
            walk(w, wtr, at + d, path)

    for v, tr in starts:
        walk(v, tr, float(t.node_arrival[v, tr]), [])
    return worst


@pytest.mark.parametrize("corner,period", [("ss_n40C_1v76", 1.2), ("ss_n40C_1v28", 2.0)])
def test_through_slack_matches_path_enumeration(tmp_path, sky130hd, corner, period):
    lib = sky130hd.liberty(corner)
    design, t = _analyze(tmp_path, lib, period)
    got = cell_through_slack(design, t)
    want = _enumerate(design, t)
    assert np.isfinite(want).sum() == len(design.inst_names)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)
    # its minimum is the STA's WNS, and every cell of the reported worst path has exactly that slack
    assert got.min() == pytest.approx(t.setup_wns, abs=1e-15)
    names = list(design.inst_names)
    on_worst = {s.node.split("/")[0] for s in t.setup_paths[0].stages} & set(names)
    assert on_worst and all(got[names.index(c)] == pytest.approx(t.setup_wns, abs=1e-15) for c in on_worst)
    # the side branch (b1 -> m1 -> r4) is less critical than the cells of the worst path
    assert got[names.index("b1")] > t.setup_wns + 0.05e-9
    crit = island_criticality(got, np.array([0 if n in ("b1", "m1") else 1 for n in names]), 2, period * 1e-9)
    assert crit[1] == pytest.approx((period * 1e-9 - t.setup_wns) / (period * 1e-9))
    assert crit[0] < crit[1]
