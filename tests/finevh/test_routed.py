"""FINE-VH after routing (plugins/finevh/routed.py): cells the back end adds join the right
island, the repair timer times each cell at its rail, and a routed mode that misses timing
withdraws every saving."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.finevh.test_finevh import hand_model

P = "sky130_fd_sc_hd__"
# cb: a CTS buffer on the clock; rb: a repair buffer after u1 (island isl0); pb: a buffer on an
# input port; hb: a hold buffer after rb (a chain of new cells)
NET = f"""module top(clk, din, q);
  input clk, din;
  output q;
  wire ck1, d1, q1, n1, n2, n3;
  {P}buf_1 cb (.A(clk), .X(ck1));
  {P}buf_1 pb (.A(din), .X(d1));
  {P}dfxtp_1 f1 (.CLK(ck1), .D(d1), .Q(q1));
  {P}inv_1 u1 (.A(q1), .Y(n1));
  {P}buf_1 rb (.A(n1), .X(n2));
  {P}dlygate4sd3_1 hb (.A(n2), .X(n3));
  {P}dfxtp_1 f2 (.CLK(ck1), .D(n3), .Q(q));
endmodule
"""


def _doc(vl: str, vh: str) -> dict:
    return {"instances": {"f1": "isl0", "u1": "isl0", "f2": "isl1"}, "rails": {"isl0": vl, "isl1": vh},
            "vddh": vh, "vddl": vl,
            "islands": [{"name": "isl0", "rail": vl, "hopping": False}, {"name": "isl1", "rail": vh, "hopping": True}]}


@pytest.fixture(scope="module")
def small(tmp_path_factory, sky130hd):
    from flow.engines import sta

    d = tmp_path_factory.mktemp("routed")
    (d / "top.v").write_text(NET)
    return sta.load_design([d / "top.v"], "top"), sky130hd


def test_new_cells_join_their_drivers_island(small):
    from plugins.finevh.routed import CLOCK_ISLAND, complete_assignment, corners_of

    design, plat = small
    vl, vh = "ss_n40C_1v28", "ss_n40C_1v76"
    got = complete_assignment(design, plat.liberty(vh), _doc(vl, vh), ["clk"])
    assert got == {"cb": CLOCK_ISLAND, "pb": "isl1", "f1": "isl0", "u1": "isl0", "rb": "isl0", "hb": "isl0",
                   "f2": "isl1"}
    ic = corners_of(design, got, _doc(vl, vh)["rails"], [vl, vh], clock_rail=vh)
    assert dict(zip(design.inst_names, ic.tolist(), strict=True)) == {
        "cb": 1, "pb": 1, "f1": 0, "u1": 0, "rb": 0, "hb": 0, "f2": 1}


def test_mixed_timer_times_each_cell_at_its_rail(small):
    """The repair engine's timer with `corner_of`: one 'mixed' analysis equal to the STA's with the
    same instance corners, and slower than the whole chip at VDDH (the cells on VDDL)."""
    from flow.engines import sta
    from flow.engines.repair import Netlist, Timer, steiner_parasitics
    from plugins.finevh.routed import MixedTimer

    design, plat = small
    vl, vh = "ss_n40C_1v28", "ss_n40C_1v76"
    libs = {vl: plat.liberty(vl), vh: plat.liberty(vh)}
    n = len(design.inst_names)
    x = np.arange(n) * 20e-6
    pin_x = x[design.pin_inst] + 1e-6
    nl = Netlist(design, x, np.zeros(n), np.full(n, 2e-6), np.full(n, 2.72e-6), np.zeros(n, dtype=bool), pin_x,
                 np.zeros(len(design.pin_name)))
    tc = sta.TimingConstraints(clocks=[sta.ClockDef("clk", 5e-9, (0.0, 2.5e-9), ["clk"])])
    ic = np.array([0 if nm in ("f1", "u1", "rb", "hb") else 1 for nm in design.inst_names])
    mixed = MixedTimer(libs, tc, plat.signal_layer, corner_of=lambda _nl: ic).run(nl)
    assert list(mixed) == ["mixed"]
    ref = sta.analyze(design, list(libs.values()), tc, parasitics=steiner_parasitics(nl, plat.signal_layer),
                      instance_corner=ic)
    assert mixed["mixed"].setup_wns == pytest.approx(ref.setup_wns, abs=1e-15)
    chip = Timer({vh: libs[vh]}, tc, plat.signal_layer).run(nl)[vh]
    assert mixed["mixed"].setup_wns < chip.setup_wns - 0.1e-9


def test_routed_modes_decide_the_claim(tmp_path):
    """With `finevh_signoff`'s routed re-check, the claim follows the worst of the routed fast
    mode, slow mode and all-VDDH nominal; the routed policy model replaces the netlist one."""
    from plugins.finevh.plugin import policy_model, post_route_check, vhflow_metrics

    m = hand_model()
    routed = hand_model()
    routed.fast.e_cycle *= 1.1  # routed wires: more energy per cycle
    doc = {"policy_model": m.to_json(), "policy_model_routed": routed.to_json(), "clock_period_s": 9e-9,
           "routed": {"fast_wns_s": 0.2e-9, "slow_wns_s": 0.05e-9, "nominal_wns_s": 0.4e-9}}
    (tmp_path / "islands.json").write_text(json.dumps(doc))
    state = {"islands": tmp_path / "islands.json"}
    assert post_route_check(state, doc) == pytest.approx(0.05e-9)
    assert policy_model(doc).fast.e_cycle == pytest.approx(m.fast.e_cycle * 1.1)
    ok = vhflow_metrics(state, tmp_path)
    assert ok["finevh__signoff__fast_mode__meets"] == 1 and "finevh__saving__finevh_vs_nominal_pct" in ok
    doc["routed"]["slow_wns_s"] = -0.01e-9  # the slow mode misses its clock after routing
    (tmp_path / "islands.json").write_text(json.dumps(doc))
    bad = vhflow_metrics(state, tmp_path)
    assert bad["finevh__signoff__fast_mode__meets"] == 0 and not any(k.startswith("finevh__saving") for k in bad)


def test_intervals_use_their_modes_model():
    """A layer tagged with its precision is powered by that precision's signed-off model (hand
    sums: nominal 10 pJ/cycle for 8-bit, 5 pJ/cycle for the 4-bit mode, no leakage)."""
    from plugins.finevh import policy as pol

    m8, m4 = hand_model(), hand_model()
    m4.nominal.e_cycle = 5e-12
    trace = [pol.Interval(1e-6, 50.0, 1.0, "8"), pol.Interval(1e-6, 50.0, 1.0, "4")]
    got = pol.evaluate(m8, trace, "nominal", {"4": m4})
    assert got.energy_j == pytest.approx(50 * 10e-12 + 50 * 5e-12, rel=1e-12)
    assert pol.evaluate(m8, trace, "nominal").energy_j == pytest.approx(100 * 10e-12, rel=1e-12)
    frames = pol.convnet_frames({"layers": [{"cycles": 10, "bits": 8}, {"cycles": 10, "bits": 4}]}, 1e8, idle=0.0,
                                frames=1)
    assert [iv.mode for iv in frames] == ["8", "4"]


def _line(design, far: float):
    """The small netlist in a row, 5 µm apart, with the capture flop f2 `far` m away."""
    from flow.engines.repair import Netlist

    n = len(design.inst_names)
    x = np.arange(n) * 5e-6
    x[design.inst_names.index("f2")] = far
    return Netlist(design, x, np.zeros(n), np.full(n, 2e-6), np.full(n, 2.72e-6), np.zeros(n, dtype=bool),
                   np.zeros(3), np.zeros(3))


def test_design_rules_at_each_cells_rail(small):
    """A VDDL driver (hb, 1.28 V) into a flop on VDDH 300 µm away: 2.46 ns at f2/D is legal for the
    1.28 V Liberty (5 ns) but not for the 1.76 V one (1.5 ns) that f2 is timed with. Checked with
    one library the violation is invisible; with each instance's rail it is found, and the repair
    (rail-aware limits) removes it."""
    from flow.engines import sta
    from flow.engines.repair import DesignRules, LibView, Repairer, check_design_rules
    from plugins.finevh.routed import MixedTimer

    design, plat = small
    vl, vh = "ss_n40C_1v28", "ss_n40C_1v76"
    libs = {vl: plat.liberty(vl), vh: plat.liberty(vh)}
    lvs = [LibView(libs[c], lambda _n: False) for c in (vl, vh)]
    low = {"f1", "u1", "rb", "hb"}

    def coi(netl) -> np.ndarray:  # new cells: the VDDL island of their driver
        return np.array([0 if nm in low or nm.startswith("repair") else 1 for nm in netl.inst_names])

    def limits(netl) -> list:
        return [lvs[j] for j in coi(netl)]

    tc = sta.TimingConstraints(clocks=[sta.ClockDef("clk", 50e-9, (0.0, 25e-9), ["clk"])])
    nl = _line(design, 300e-6)
    timer = MixedTimer(libs, tc, plat.signal_layer, corner_of=coi)
    res = timer.run(nl)["mixed"]
    node = {nm: i for i, nm in enumerate(res.node_names)}
    slew = float(res.node_slew[node["f2/D"]].max())
    assert 1.5e-9 < slew < 5e-9
    plain = DesignRules(None, 0.0, 0.0)
    assert check_design_rules(nl, lvs[0], res, plain)[0].max_slew == 0
    assert check_design_rules(nl, lvs[0], res, plain, limits=limits(nl))[0].max_slew == 1
    rep = Repairer(nl, lvs[0], timer, lambda c: (2e-6, 2.72e-6), DesignRules(None, 0.2, 0.2), limits=limits)
    before, after = rep.repair_design()
    assert (before.max_slew, after.max_slew) == (1, 0)
    res = timer.run(nl)["mixed"]
    assert float(res.node_slew[{nm: i for i, nm in enumerate(res.node_names)}["f2/D"]].max()) <= 1.5e-9


def test_back_end_cells_kept_in_their_fence(small):
    """A repair buffer legalised into the neighbouring island's fence is moved back into its own
    island's fence (on a row and site of it), nearest its spot; a cell of no fence (the clock
    tree) and the cells not listed stay where they are."""
    from plugins.finevh.routed import CLOCK_ISLAND, keep_in_fences

    design, _ = small
    nl = _line(design, 40e-6)
    names = design.inst_names
    rb, cb = names.index("rb"), names.index("cb")
    fences = {"isl0": (0.0, 0.0, 30e-6, 2.72e-6 * 4), "isl1": (30e-6, 0.0, 60e-6, 2.72e-6 * 4)}
    nl.x[rb], nl.y[rb] = 44e-6, 0.0  # inside isl1's fence
    nl.x[cb] = 50e-6  # a blockage in the same row beyond isl0's right edge: no free site there
    fp = {"row_height": 2.72e-6, "site_width": 0.46e-6}
    island_of = {"rb": "isl0", "cb": CLOCK_ISLAND, "hb": "isl0", "f2": "isl1"}
    before = (list(nl.x), list(nl.y))
    assert keep_in_fences(nl, fp, island_of, fences, [rb, cb, names.index("hb")]) == 1
    assert nl.x[rb] >= 0.0 and nl.x[rb] + nl.w[rb] <= 30e-6 + 1e-12
    assert nl.x[rb] > 20e-6  # the free sites nearest its spot, at the fence's edge facing it
    assert abs(nl.x[rb] / 0.46e-6 - round(nl.x[rb] / 0.46e-6)) < 1e-6 and nl.y[rb] in (0.0, 2.72e-6, 5.44e-6, 8.16e-6)
    moved = {rb}
    assert all((nl.x[k], nl.y[k]) == (before[0][k], before[1][k]) for k in range(len(names)) if k not in moved)


def test_repeater_on_a_long_critical_wire(small):
    """A 1.28 V delay cell (hb) driving a flop 600 µm away, the clock 0.1 ns too short: no sizing
    or off-path split applies (moves=()), a repeater halfway along the wire recovers slack, and
    it sits between the driver and the sink."""
    from flow.engines import sta
    from flow.engines.repair import DesignRules, LibView, Repairer, Timer

    design, plat = small
    vl = "ss_n40C_1v28"
    lib = plat.liberty(vl)

    def tc(period: float) -> sta.TimingConstraints:
        return sta.TimingConstraints(clocks=[sta.ClockDef("clk", period, (0.0, period / 2), ["clk"])])

    nl = _line(design, 600e-6)
    ws = Timer({vl: lib}, tc(50e-9), plat.signal_layer).run(nl)[vl].setup_wns
    period = 50e-9 - ws - 0.1e-9
    rep = Repairer(nl, LibView(lib, lambda _n: False), Timer({vl: lib}, tc(period), plat.signal_layer),
                   lambda c: (2e-6, 2.72e-6), DesignRules(None, 0.2, 0.2))
    n = len(nl.inst_names)
    ws0, ws1 = rep.repair_setup(0.0, moves=(), repeat=True, max_rounds=3)
    assert ws0 == pytest.approx(-0.1e-9, abs=1e-12)
    assert ws1 > ws0 + 0.1e-9 and len(nl.inst_names) > n
    hb, f2 = nl.centre(nl.inst_names.index("hb"))[0], nl.centre(nl.inst_names.index("f2"))[0]
    assert hb < nl.centre(n)[0] < f2 and nl.inst_names[n].startswith("repeater")


def test_full_fence_spills_to_the_nearest_fence_on_the_same_rail(small):
    """A back-end cell whose fence has no free site goes to the nearest fence of an island on the
    same rail (and recorded there), never to a nearer one on another rail; with no like fence
    that has room it is an error that names the cell."""
    from flow.errors import ConfigError
    from plugins.finevh.routed import keep_in_fences

    design, _ = small
    names = design.inst_names
    rb = names.index("rb")
    rh = 2.72e-6
    fp = {"row_height": rh, "site_width": 0.46e-6}
    # isl0 is one row, filled by a blockage; isl1 (VDDH) is nearer than isl2 (VDDL, like isl0)
    fences = {"isl0": (0.0, 0.0, 10e-6, rh), "isl1": (10e-6, 0.0, 20e-6, rh), "isl2": (20e-6, 0.0, 60e-6, rh)}
    like = {"isl0": ("1v28", True), "isl1": ("1v76", True), "isl2": ("1v28", True)}
    for spill_to, expect in ((like, "isl2"), ({**like, "isl2": ("1v76", True)}, None)):
        nl = _line(design, 40e-6)
        nl.x[rb], nl.y[rb] = 12e-6, 0.0  # legalised into isl1's fence
        others = [k for k in range(len(names)) if k != rb]
        for j, k in enumerate(others):  # everything else out of the way, above the fences
            nl.x[k], nl.y[k] = j * 5e-6, 4 * rh
        keep = np.array([k != rb for k in range(len(names))])
        blocker = names.index("f2")
        nl.x[blocker], nl.y[blocker], nl.w[blocker] = 0.0, 0.0, 10e-6  # fills isl0
        island_of = {"rb": "isl0"}
        if expect is None:
            with pytest.raises(ConfigError, match="rb"):
                keep_in_fences(nl, fp, island_of, fences, [rb], equivalent=spill_to)
            continue
        assert keep_in_fences(nl, fp, island_of, fences, [rb], equivalent=spill_to) == 1
        assert island_of["rb"] == expect
        assert nl.x[rb] >= 20e-6 - 1e-12 and nl.x[rb] + nl.w[rb] <= 60e-6 + 1e-12 and nl.y[rb] == 0.0
        assert nl.x[rb] < 25e-6  # the free sites nearest its spot in that fence
        assert keep.sum() == len(names) - 1


def test_unshifted_crossings_found_on_the_final_netlist(small):
    """hb (isl0, the low rail) drives f2 (isl1, VDDH) directly: one crossing without a shifter;
    with hb counted as the platform's shifter cell and placed in isl1 the crossing is legal, and
    a high-to-low load (isl1 -> isl0) never needs one."""
    from plugins.finevh.routed import complete_assignment, unshifted_crossings

    design, plat = small
    vl, vh = "ss_n40C_1v28", "ss_n40C_1v76"
    lib = plat.liberty(vh)
    doc = _doc(vl, vh)
    got = complete_assignment(design, lib, doc, ["clk"])
    assert unshifted_crossings(design, lib, got, doc) == [("n3", "f2/D")]
    doc["level_shifter_cell"] = f"{P}dlygate4sd3_1"
    assert unshifted_crossings(design, lib, {**got, "hb": "isl1"}, doc) == []
    down = {**got, "f1": "isl1", "u1": "isl1", "rb": "isl1", "hb": "isl1", "f2": "isl0"}
    assert unshifted_crossings(design, lib, down, _doc(vl, vh)) == []
