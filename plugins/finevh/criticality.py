"""Worst setup slack of any path *through* each cell — what decides whether a cell may run slower.

Endpoint slacks say nothing about the cells in the middle of a path; an island's criticality is
the worst path through any of its cells. Forward: the STA's latest arrival per (node, edge) and
its late edge delays. Backward: each timed endpoint gets the required time `max arrival + slack`
(its worst transition), propagated against the edges in reverse level order,
`required(src) = min(required(dst) − delay)`. A node's through-slack is `min(required − arrival)`
over its transitions; a cell's is the minimum over its pins (a register's clock pin carries the
paths it launches). The minimum over all cells is the STA's WNS (test: `tests/finevh`, against an
explicit enumeration of every path on small netlists).
"""

from __future__ import annotations

import numpy as np

from flow.engines.model import FlatDesign
from flow.engines.sta import TimingResult


def node_through_slack(t: TimingResult) -> np.ndarray:
    """Per timing-graph node: worst setup slack of a path through it (+inf if none)."""
    g = t.graph
    if g is None or t.edge_delay is None or t.node_arrival is None:
        raise ValueError("timing result without edge delays/arrivals (needs flow.engines.sta >= edge_delay)")
    arr = t.node_arrival
    n = g.n
    req = np.full((n, 2), np.inf)
    index = {nm: k for k, nm in enumerate(t.node_names)}
    for name, slack in zip(t.endpoint_names, t.setup_slack, strict=True):
        v = index.get(name)
        if v is None or not np.isfinite(slack):
            continue
        a = arr[v][np.isfinite(arr[v])]
        if a.size:
            req[v] = np.minimum(req[v], a.max() + slack)
    delay = t.edge_delay
    ok = np.isfinite(delay)
    src, srctr, dst, dsttr = g.src[ok], g.srctr[ok], g.dst[ok], g.dsttr[ok]
    d = delay[ok]
    lvl = g.level[src]
    order = np.argsort(-lvl, kind="stable")
    bounds = np.flatnonzero(np.diff(lvl[order])) + 1
    for grp in np.split(order, bounds):
        cand = req[dst[grp], dsttr[grp]] - d[grp]
        np.minimum.at(req, (src[grp], srctr[grp]), cand)
    with np.errstate(invalid="ignore"):
        sl = np.where(np.isfinite(arr) & np.isfinite(req), req - arr, np.inf)
    return sl.min(axis=1)


def cell_through_slack(design: FlatDesign, t: TimingResult) -> np.ndarray:
    """Per instance: worst setup slack of a path through any of its pins (+inf if untimed)."""
    node = node_through_slack(t)
    inst = np.asarray(t.graph.node_inst)
    out = np.full(len(design.inst_names), np.inf)
    m = inst >= 0
    if t.node_clock is not None:  # clock-network pins other than register clock pins are not data paths
        m &= ~((np.asarray(t.node_clock) >= 0) & ~np.isfinite(node))
    np.minimum.at(out, inst[m], node[m])
    return out


def island_criticality(cell_slack: np.ndarray, island: np.ndarray, k: int, period: float) -> np.ndarray:
    """Per island: worst-path delay through its cells / clock period (0 for untimed islands)."""
    ws = np.full(k, np.inf)
    np.minimum.at(ws, island, cell_slack)
    return np.where(np.isfinite(ws), (period - ws) / period, 0.0)
