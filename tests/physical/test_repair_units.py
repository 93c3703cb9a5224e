"""Repair building blocks on hand-made cases: the incremental legaliser and the clock-tree shape."""

from __future__ import annotations

import numpy as np

from flow.engines.place import place_new_cells


def test_new_cells_land_on_free_sites_nearest_their_target():
    # core 0..10 um x 0..4 um, rows 1 um, sites 0.5 um; row 1 blocked from x=0 to 6 um
    core = (0.0, 0.0, 10e-6, 4e-6)
    blocked = np.array([[0.0, 1e-6, 6e-6, 1e-6], [9e-6, 1e-6, 1e-6, 1e-6]])
    w = np.array([1e-6, 1e-6, 1.5e-6])
    tx = np.array([2e-6, 2e-6, 7.25e-6])  # centres; the first two want the blocked row 1
    ty = np.array([1.5e-6, 1.5e-6, 1.5e-6])
    x, y = place_new_cells(core, 1e-6, 0.5e-6, blocked, w, tx, ty)
    # first: row 1 is blocked at x=1.5: the nearest free spot is the same x one row away (cost 1 um)
    # against 4.5 um along row 1; the second cannot share it and goes to the other neighbour row
    assert (x[0], y[0]) == (1.5e-6, 0.0) and (x[1], y[1]) == (1.5e-6, 2e-6)
    # third: its 1.5 um fits in the 6..9 um gap of row 1, centred on its target
    assert (x[2], y[2]) == (6.5e-6, 1e-6)
    # on sites, inside the core, no overlap with blockages or each other
    assert np.allclose(np.round(x / 0.5e-6) * 0.5e-6, x)
    rects = list(zip(x, y, x + w, y + 1e-6, strict=True)) + [(b[0], b[1], b[0] + b[2], b[1] + b[3]) for b in blocked]
    for i in range(len(rects)):
        for j in range(i + 1, len(rects)):
            a, b = rects[i], rects[j]
            assert min(a[2], b[2]) - max(a[0], b[0]) <= 1e-12 or min(a[3], b[3]) - max(a[1], b[1]) <= 1e-12


def test_new_cells_stay_inside_a_fence_with_blockages_beyond_it():
    # a fence 0..5 um (sites 0.5 um, one 1 um row) and a blockage at x = 8 um, outside it: before
    # the fix the blockage's left edge opened a free gap from the fence's right edge to 8 um, so a
    # cell aimed at the right edge landed past it
    fence = (0.0, 0.0, 5e-6, 1e-6)
    blocked = np.array([[8e-6, 0.0, 1e-6, 1e-6], [-3e-6, 0.0, 1e-6, 1e-6]])
    w = np.array([1.5e-6, 1.5e-6])
    tx = np.array([4.9e-6, 0.1e-6])  # centres at the fence's right and left edges
    x, y = place_new_cells(fence, 1e-6, 0.5e-6, blocked, w, tx, np.array([0.5e-6, 0.5e-6]))
    assert x[0] == 3.5e-6 and x[0] + w[0] <= fence[2]  # flush with the right edge, not beyond
    assert x[1] == 0.0 and (y == 0.0).all()


def _tiny_lib() -> dict:
    """A buffer whose output slew is 10 ps + 1 ps/fF, and a flop: enough for the tree builder."""
    def table(v0: float, per_f: float) -> dict:
        loads = np.array([0.0, 100e-15])
        return {"values": np.array([[v0, v0 + per_f * 100e-15]] * 2), "index_1": np.array([0.0, 1e-9]),
                "index_2": loads, "variable_1": "input_net_transition", "variable_2": "total_output_net_capacitance"}

    def pin(direction: str, cap: float = 0.0, function: str | None = None) -> dict:
        return {"direction": direction, "capacitance": cap, "rise_capacitance": cap, "fall_capacitance": cap,
                "function": function, "is_clock": False, "max_transition": None, "max_capacitance": None}

    arc = {"related_pin": "A", "pin": "Z", "timing_sense": "positive_unate", "timing_type": "combinational",
           "tables": {k: table(10e-12, 1e-12 / 1e-15) for k in ("cell_rise", "cell_fall", "rise_transition",
                                                                "fall_transition")}}
    buf = {"pins": {"A": pin("input", 2e-15), "Z": pin("output", function="A")}, "timing_arcs": [arc],
           "internal_power": [], "leakage_states": [], "leakage_power": None, "is_sequential": False, "ff": None,
           "area": 2.66e-12, "is_macro": False, "is_pad": False}
    ff = {"pins": {"CK": pin("input", 1e-15), "D": pin("input", 1e-15), "Q": pin("output", function="IQ")},
          "timing_arcs": [], "internal_power": [], "leakage_states": [], "leakage_power": None, "is_sequential": True,
          "ff": {"next_state": "D", "clocked_on": "CK"}, "area": 4.5e-12, "is_macro": False, "is_pad": False}
    return {"cells": {"BUF_X4": buf, "DFF_X1": ff}, "default_max_transition": 200e-12}


def test_clock_tree_is_balanced_and_keeps_every_sink():
    from flow.engines.cts import build_clock_tree
    from flow.engines.model import FlatDesign
    from flow.engines.repair import LibView, Netlist

    n = 37  # flops on a 0..60 x 0..60 um grid, clock from a port
    names = [f"ff{k}" for k in range(n)]
    pins, nets, insts = [], [], []
    net_names = ["clk"] + [f"d{k}" for k in range(n)] + [f"q{k}" for k in range(n)]
    for k in range(n):
        for pin, net in (("CK", 0), ("D", 1 + k), ("Q", 1 + n + k)):
            pins.append(pin)
            nets.append(net)
            insts.append(k)
    d = FlatDesign(names, ["DFF_X1"] * n, np.arange(0, 3 * n + 1, 3), np.array(insts), pins, np.array(nets),
                   net_names, ["clk"], ["input"], np.array([0]))
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 60e-6, n), rng.uniform(0, 60e-6, n)
    nl = Netlist(d, x, y, np.full(n, 3.23e-6), np.full(n, 1.4e-6), np.zeros(n, bool), np.array([0.0]), np.array([0.0]))
    lv = LibView(_tiny_lib(), lambda name: False)
    tree = build_clock_tree(nl, lv, 0, "BUF_X4", (1.9e-6, 1.4e-6), cluster_size=8, cluster_diameter=1.0)
    assert tree.sinks == n and tree.depth == 3  # ceil(log2(37 / 8)) levels below the root
    assert len(tree.buffers) == 2 ** (tree.depth + 1) - 1
    out = nl.design()
    # every flop clock pin is driven by a leaf buffer, every buffer path to the port has depth+1 buffers
    drv = {int(out.pin_net[p]): int(out.pin_inst[p]) for p in range(len(out.pin_name)) if out.pin_name[p] == "Z"}
    inp = {int(out.pin_inst[p]): int(out.pin_net[p]) for p in range(len(out.pin_name)) if out.pin_name[p] == "A"}
    for p in range(len(out.pin_name)):
        if out.pin_name[p] != "CK":
            continue
        hops, net = 0, int(out.pin_net[p])
        while net != 0:
            net = inp[drv[net]]
            hops += 1
        assert hops == tree.depth + 1
    # leaves drive at most cluster_size sinks
    loads = np.bincount([int(out.pin_net[p]) for p in range(len(out.pin_name)) if out.pin_name[p] == "CK"])
    assert loads.max() <= 8


def _edited_netlist():
    """A 3-cell netlist with a bus port, then a buffer inserted on a net (repair's edit)."""
    from flow.engines.model import FlatDesign
    from flow.engines.repair import Netlist

    # u0: INV a[1] -> n1; u1: NAND2 (n1, a[0]) -> n2; u2: BUF n2 -> y
    d = FlatDesign(["u0", "u1", "u2"], ["INV_X1", "NAND2_X1", "BUF_X1"], np.array([0, 2, 5, 7]),
                   np.array([0, 0, 1, 1, 1, 2, 2]), ["A", "ZN", "A1", "A2", "ZN", "A", "Z"],
                   np.array([1, 3, 3, 0, 4, 4, 2]), ["a[0]", "a[1]", "y", "n1", "n2"],
                   ["a[1]", "a[0]", "y"], ["input", "input", "output"], np.array([1, 0, 2]))
    nl = Netlist(d, np.zeros(3), np.zeros(3), np.full(3, 1e-6), np.full(3, 1e-6), np.zeros(3, bool),
                 np.zeros(3), np.zeros(3))
    out = nl.new_net("repair_net")
    nl.add_cell("BUF_X1", {"A": 3, "Z": out}, 1e-6, 1e-6, 1e-6, 1e-6, "repair_buf")
    nl.set_net(2, out)  # u1.A1 now behind the buffer: the new net is used before n1's other pins
    return nl


def test_saved_netlist_is_cached_as_read_back(tmp_path):
    # save_placed hands the next stage the design as read_verilog would read the file it wrote
    from dataclasses import fields

    from flow.formats.verilog import as_read_back, read_verilog, write_verilog

    d = _edited_netlist().design()
    path = write_verilog(d, tmp_path / "t.v", "t")
    got, ref = as_read_back(d), read_verilog([path], "t")
    assert got is not None and ref.net_names != d.net_names  # the reader renumbers the nets
    for f in fields(ref):
        a, b = getattr(got, f.name), getattr(ref, f.name)
        assert (list(a) == list(b)) if isinstance(b, list) else np.array_equal(a, b), f.name


def test_no_cached_read_back_where_the_file_reads_otherwise():
    from dataclasses import replace

    from flow.formats.verilog import as_read_back

    d = _edited_netlist().design()
    assert as_read_back(replace(d, port_net=np.array([1, 0, 1]))) is None  # a net on two ports: an assign
    assert as_read_back(replace(d, port_names=["a[0]", "a[1]", "y"], net_names=["a[1]", "a[0]", *d.net_names[2:]])) \
        is None  # the declaration `input [1:0] a` lists a[1] first
    assert as_read_back(replace(d, net_names=[*d.net_names, "dangling"])) is None  # a net nothing uses
