"""Clock-tree estimate: sinks, wire length, buffers and skew of an unbuffered Steiner tree.

No clock tree is built by the embedded backend: the clock net is modelled as a rectilinear
Steiner tree (`steiner.rsmt`) from the clock pin to every sink (flip-flop clock pins), its Elmore delays give a
skew estimate, and the buffer count is what the wire + pin capacitance needs at the CTS buffer's
max_capacitance (or 60 fF when the Liberty gives none). All figures are estimates.
"""

from __future__ import annotations

import math

import numpy as np

from flow.engines.steiner import rsmt, tree_elmore
from flow.formats.sdc import read_sdc
from flow.stage import Stage, StageContext, StageResult
from flow.stages.floorplan import load_netlist
from flow.state import State


class CtsStage(Stage):
    id = "cts"
    name = "Clock-tree estimate"
    inputs = ("verilog", "sdc", "placement")
    outputs = ()

    def run(self, state: State, ctx: StageContext) -> StageResult:
        d = load_netlist(ctx, state)
        fp = np.load(state["placement"])
        clocks = read_sdc(state["sdc"], d).clocks
        ports = {p: i for i, p in enumerate(d.port_names)}
        plat = ctx.platform
        layer = plat.clock_layer
        metrics: dict[str, float] = {}
        total_wl, total_buf, worst_skew = 0.0, 0, 0.0
        pin_cap = 1.0e-15 * float(plat.cells.get("abc_load_ff", 2.0)) / 2.0
        max_cap = 60e-15
        for clk in clocks:
            for src in getattr(clk, "sources", []) or []:
                if src not in ports:
                    continue
                net = int(d.port_net[ports[src]])
                sinks = np.nonzero(d.pin_net == net)[0]
                if sinks.size == 0:
                    continue
                inst = d.pin_inst[sinks]
                xs = np.concatenate([[fp["pin_x"][ports[src]]], fp["x"][inst] + fp["w"][inst] / 2])
                ys = np.concatenate([[fp["pin_y"][ports[src]]], fp["y"][inst] + fp["h"][inst] / 2])
                length, tx, ty, edges = rsmt(xs, ys)
                caps = np.zeros(tx.size)  # Steiner points (after the pins) carry no pin load
                caps[1:xs.size] = pin_cap
                delay = tree_elmore(tx, ty, edges, 0, layer.r_per_m, layer.c_per_m, caps)[:xs.size]
                skew = float(delay[1:].max() - delay[1:].min()) if sinks.size > 1 else 0.0
                load = layer.c_per_m * length + pin_cap * sinks.size
                buffers = max(0, math.ceil(load / max_cap) - 1)
                total_wl += length
                total_buf += buffers
                worst_skew = max(worst_skew, skew)
                ctx.log.info("clock %s: %d sinks, %.1f um, skew %.3f ns (estimate)", src, sinks.size, length * 1e6,
                             skew * 1e9)
        metrics["cts__clock__wirelength__estimate"] = round(total_wl * 1e6, 3)
        metrics["cts__clock__buffers__estimate"] = total_buf
        metrics["cts__clock__skew__estimate"] = round(worst_skew * 1e9, 6)
        return StageResult(metrics=metrics)
