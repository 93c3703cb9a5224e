"""Route estimate: per-net rectilinear Steiner-tree wire length and RC (written as SPEF), congestion map."""

from __future__ import annotations

import numpy as np

from flow.engines.physical import steiner_nets
from flow.engines.steiner import congestion
from flow.formats.spef import write_spef
from flow.stage import Stage, StageContext, StageResult, Variable
from flow.stages.floorplan import load_netlist
from flow.state import State


class RouteStage(Stage):
    id = "route"
    name = "Routing estimate (Steiner trees, RC, congestion)"
    inputs = ("verilog", "placement")
    outputs = ("spef",)
    config_vars = (
        Variable("ROUTE_CONGESTION_BINS", int, "Bins per side of the congestion map (estimate).", 32, source="route"),
    )

    def run(self, state: State, ctx: StageContext) -> StageResult:
        d = load_netlist(ctx, state)
        fp = np.load(state["placement"])
        plat = ctx.platform
        layer = plat.signal_layer
        cx = fp["x"] + fp["w"] / 2
        cy = fp["y"] + fp["h"] / 2
        # pin positions: instance pins at cell centres, ports at their I/O pin positions
        px = np.concatenate([cx[d.pin_inst], fp["pin_x"]])
        py = np.concatenate([cy[d.pin_inst], fp["pin_y"]])
        pnet = np.concatenate([d.pin_net, d.port_net])
        pname = [f"{d.inst_names[i]}:{p}" for i, p in zip(d.pin_inst.tolist(), d.pin_name, strict=True)] + list(d.port_names)
        nets, boxes, lengths = steiner_nets(d.net_names, px, py, pnet, pname, layer)
        total = float(sum(lengths))
        spef = ctx.path(f"{ctx.config['DESIGN_NAME']}.est.spef")
        write_spef(spef, ctx.config["DESIGN_NAME"], nets)
        die = tuple(float(v) for v in fp["die"])
        bins = ctx.config["ROUTE_CONGESTION_BINS"]
        routing = [ly for ly in plat.layers.values() if ly.pitch > 0]
        side = (die[2] - die[0]) / bins
        supply = sum(side * (side / ly.pitch) for ly in routing[1:]) or 1.0  # metal1 kept for cells
        cong = congestion(np.array(boxes).reshape(-1, 4), np.array(lengths), die, bins, supply)
        np.save(ctx.path("congestion.npy"), cong)
        ctx.log.info("route estimate: %.1f um of wire over %d nets", total * 1e6, len(nets))
        return StageResult(
            views={"spef": spef},
            metrics={
                "route__wirelength__estimate": round(total * 1e6, 3),
                # ORFS's routed length; here the same Steiner estimate (the table's meaning says so)
                "detailedroute__route__wirelength": round(total * 1e6, 3),
                "route__congestion__max": round(float(cong.max()), 5),
                "route__congestion__overflow_bins": int(np.sum(cong > 1.0)),
            },
        )

