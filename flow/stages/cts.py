"""CTS stage: a buffered clock tree per clock (`engines.cts`), legalised, and propagated clocks.

Every clock whose source is a port or pin of the netlist gets a balanced tree of the platform's
CTS buffer (`CTS_BUF_CELL`, else `[cells] cts_buffer`); the buffers go into the netlist and are
placed in free sites near their tapping points. The stage writes the new netlist, placement,
DEF and an SDC that ends with `set_propagated_clock [all_clocks]`, so every later timing
(repair_timing, sign-off, OpenSTA on the written files) uses clock arrivals through the tree.
Latency and skew are measured by the embedded STA with propagated clocks and placement wire
estimates (the sign-off figures come from the routed SPEF).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from flow.engines.cts import build_clock_tree
from flow.errors import ConfigError
from flow.metrics import timing_summary
from flow.stage import Stage, StageContext, StageResult, Variable
from flow.stages.place import legalize_added, save_placed
from flow.stages.repair import repair_setup
from flow.state import State
from flow.util import atomic_write_text


class CtsStage(Stage):
    id = "cts"
    name = "Clock-tree synthesis (buffered tree, embedded)"
    inputs = ("verilog", "sdc", "placement")
    outputs = ("verilog", "placement", "def", "sdc")
    config_vars = (
        Variable("CTS_BUF_CELL", str | None, "Clock buffer; default: the platform's cts_buffer.", None, source="cts"),
        Variable("CTS_CLUSTER_SIZE", int | None, "Most sinks one leaf buffer drives (default 20).", None,
                 source="cts"),
        Variable("CTS_CLUSTER_DIAMETER", float | None, "Largest span (half-perimeter) of a leaf cluster (default "
                 "60).", None, unit="µm", source="cts"),
        Variable("CTS_PROPAGATED_CLOCK", bool, "Append set_propagated_clock [all_clocks] to the SDC after the tree "
                 "is built (as ORFS after CTS).", True, source="cts"),
    )

    def run(self, state: State, ctx: StageContext) -> StageResult:
        cfg = ctx.config
        nl, fp, lvs, rep = repair_setup(ctx, state)
        lv = rep.lv
        buf = cfg.get("CTS_BUF_CELL") or ctx.platform.cells.get("cts_buffer")
        if not buf or buf not in lv.cells:
            raise ConfigError(f"CTS_BUF_CELL {buf!r} is not a cell of the platform's Liberty")
        size = rep.sizes(buf)
        tc = rep.timer.constraints
        ports = {p: k for k, p in enumerate(nl.port_names)}
        inst_of = {nm: k for k, nm in enumerate(nl.inst_names)}
        trees = []
        # a leaf buffer drives at most CTS_CLUSTER_SIZE sinks, and never more than MAX_FANOUT
        size_cfg = cfg["CTS_CLUSTER_SIZE"] or 20
        cluster_size = min(size_cfg, cfg.get("MAX_FANOUT") or size_cfg)
        for clk in tc.clocks:
            for src in clk.sources:
                if src in ports:
                    net = nl.port_net[ports[src]]
                elif "/" in src and src.rsplit("/", 1)[0] in inst_of:
                    k = inst_of[src.rsplit("/", 1)[0]]
                    net = nl.pin_net[nl.pin_of(k, src.rsplit("/", 1)[1])]
                else:
                    continue
                if net < 0:
                    continue
                t = build_clock_tree(nl, lv, net, buf, size, cluster_size=cluster_size,
                                     cluster_diameter=(cfg["CTS_CLUSTER_DIAMETER"] or 60.0) * 1e-6,
                                     c_per_m=ctx.platform.clock_layer.c_per_m,
                                     slew_limit=(lv.pin_max_slew(buf, lv.cells[buf].outputs[0]) or 1e-9)
                                     * (1 - rep.rules.slew_margin))
                trees.append((clk.name, t))
                ctx.log.info("cts: clock %s net %s: %d sinks, depth %d, %d buffers %s", clk.name, t.net, t.sinks,
                             t.depth, len(t.buffers), buf)
        legalize_added(nl, fp)
        views = save_placed(ctx, nl, fp, "cts")
        sdc = ctx.path(f"{cfg['DESIGN_NAME']}.cts.sdc")
        text = state["sdc"].read_text()
        if cfg["CTS_PROPAGATED_CLOCK"] and tc.clocks:
            text = text.rstrip("\n") + "\n# after clock-tree synthesis (vhflow cts)\nset_propagated_clock [all_clocks]\n"
        atomic_write_text(sdc, text)
        views["sdc"] = sdc
        metrics: dict[str, Any] = {"cts__clock__buffers": sum(len(t.buffers) for _, t in trees),
                                   "cts__clock__sinks": sum(t.sinks for _, t in trees),
                                   "cts__clock__depth": max((t.depth for _, t in trees), default=0),
                                   "cts__clock__wirelength__estimate": round(sum(t.wirelength for _, t in trees) * 1e6, 3)}
        if trees:
            rep.timer.propagated = True
            res = rep.timer.run(nl)
            lat = sink_latencies(nl, lv, next(iter(res.values())))
            for c, r in res.items():
                la = sink_latencies(nl, lv, r)
                if la.size:
                    metrics[f"cts__clock__latency__max__corner:{c}"] = round(float(la.max()) * 1e9, 6)
                    metrics[f"cts__clock__latency__min__corner:{c}"] = round(float(la.min()) * 1e9, 6)
                    metrics[f"cts__clock__skew__global__corner:{c}"] = round(float(la.max() - la.min()) * 1e9, 6)
            if lat.size:
                metrics["cts__clock__skew__global__estimate"] = round(float(lat.max() - lat.min()) * 1e9, 6)
            metrics["cts__timing__setup__ws__estimate"] = round(min(t.setup_wns for t in res.values()) * 1e9, 6) \
                if all(math.isfinite(t.setup_wns) for t in res.values()) else None
            metrics.update(timing_summary("cts", res))  # repair_timing, when it runs, updates these
        return StageResult(views=views, metrics=metrics)


def sink_latencies(nl: Any, lv: Any, res: Any) -> np.ndarray:
    """Rise clock arrival (s) at the clock pins of sequential cells, from a propagated STA run."""
    if res.node_arrival is None or res.node_clock is None:
        return np.zeros(0)
    out = []
    for p, name in enumerate(nl.pin_name):
        cell = lv.cells.get(nl.inst_cell[nl.pin_inst[p]])
        if cell is None or not cell.is_sequential or res.node_clock[p] < 0 or name in cell.outputs:
            continue
        a = float(res.node_arrival[p, 0])
        if math.isfinite(a):
            out.append(a)
    return np.asarray(out)
