"""Wire estimates: rectilinear spanning trees per net, a clock-tree estimate, congestion bins.

Net length is the rectilinear minimum spanning tree (Prim over the pins, or over an 8-nearest-
neighbour graph for nets of more than 200 pins). For 2- and 3-pin nets it equals the rectilinear
Steiner minimum tree; beyond, RMST ≤ 1.5 × RSMT (Hwang 1976) and ~1.1 × on average — so the
estimate is slightly pessimistic, and reports say "estimate".
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree
from scipy.spatial import cKDTree


def rmst(xs: np.ndarray, ys: np.ndarray) -> tuple[float, np.ndarray]:
    """(length, edges (k-1, 2)) of the rectilinear MST over the points."""
    k = xs.size
    if k < 2:
        return 0.0, np.zeros((0, 2), dtype=np.int64)
    if k == 2:
        return float(abs(xs[0] - xs[1]) + abs(ys[0] - ys[1])), np.array([[0, 1]])
    if k <= 200:
        d = np.abs(xs[:, None] - xs[None, :]) + np.abs(ys[:, None] - ys[None, :])
        d = d + 1e-15 * (1 - np.eye(k))  # keep coincident pins connected
        mst = minimum_spanning_tree(np.triu(d)).tocoo()
    else:
        pts = np.column_stack([xs, ys])
        dist, idx = cKDTree(pts).query(pts, k=9, p=1)
        rows = np.repeat(np.arange(k), 8)
        cols = idx[:, 1:].ravel()
        vals = dist[:, 1:].ravel() + 1e-15
        mst = minimum_spanning_tree(coo_matrix((vals, (rows, cols)), shape=(k, k)).tocsr()).tocoo()
    edges = np.column_stack([mst.row, mst.col])
    return float(mst.data.sum()), edges


def tree_elmore(xs: np.ndarray, ys: np.ndarray, edges: np.ndarray, root: int, r_per_m: float, c_per_m: float,
                pin_cap: np.ndarray) -> np.ndarray:
    """Elmore delay (s) from `root` to every node of a tree with wire R/C per metre."""
    k = xs.size
    if k == 1:
        return np.zeros(1)
    length = np.abs(xs[edges[:, 0]] - xs[edges[:, 1]]) + np.abs(ys[edges[:, 0]] - ys[edges[:, 1]])
    adj = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(k, k))
    adj = (adj + adj.T).tocsr()
    order, pred = breadth_first_order(adj, root, directed=False)
    elen = {(min(a, b), max(a, b)): float(L) for (a, b), L in zip(edges.tolist(), length, strict=True)}
    # downstream capacitance (pins + half of each wire at both ends)
    cap = pin_cap.astype(float).copy()
    for v in order[1:]:
        w = c_per_m * elen[(min(v, pred[v]), max(v, pred[v]))]
        cap[v] += w / 2
        cap[pred[v]] += w / 2
    down = cap.copy()
    for v in order[::-1][:-1]:
        down[pred[v]] += down[v]
    delay = np.zeros(k)
    for v in order[1:]:
        r = r_per_m * elen[(min(v, pred[v]), max(v, pred[v]))]
        delay[v] = delay[pred[v]] + r * down[v]
    return delay


def congestion(boxes: np.ndarray, lengths: np.ndarray, die: tuple[float, float, float, float],
               bins: int, supply_per_bin: float) -> np.ndarray:
    """Demand / supply per bin: each net's wire length spread evenly over its bounding box."""
    x0, y0, x1, y1 = die
    bw, bh = (x1 - x0) / bins, (y1 - y0) / bins
    demand = np.zeros((bins, bins))
    i0 = np.clip(((boxes[:, 0] - x0) / bw).astype(int), 0, bins - 1)
    i1 = np.clip(((boxes[:, 2] - x0) / bw).astype(int), 0, bins - 1)
    j0 = np.clip(((boxes[:, 1] - y0) / bh).astype(int), 0, bins - 1)
    j1 = np.clip(((boxes[:, 3] - y0) / bh).astype(int), 0, bins - 1)
    for a, b, c, d, L in zip(i0, i1, j0, j1, lengths, strict=True):
        demand[c:d + 1, a:b + 1] += L / ((b - a + 1) * (d - c + 1))
    return demand / supply_per_bin
