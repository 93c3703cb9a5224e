"""Island partitioning: timing first, connectivity second.

`slack_binned_islands` bins cells by the lowest rail their worst path through allows
(`criticality.py`), then cuts each bin with METIS (pymetis) into a share of the islands: min-cut
on the cell graph — one vertex per cell (weight: its area) and, for every net of 2 to 32 pins, a
clique of edges of weight w/(d − 1) (the standard clique net model, w from the workload's
activity so busy nets stay inside; larger nets — clock, reset — say nothing about locality).
With cell positions from an unfenced global placement (`xy`, FINEVH_PARTITION=placement) each
bin is cut by recursive bisection of the placement instead (`geometric_partition`): cuts inside
a bin need no level shifter (only rail-class boundaries do), so what matters there is that an
island's cells lie together and its fence can sit where the placer wants them — min-cut islands
of ~30 cells are physically scattered (a 62 µm median span on mac_array at 1,024 islands
against 28 µm for bisection) and their fences pull wires across the core.
Plain `partition` (connectivity only) scatters the few slack-rich cells among critical ones, so
no island could stay low; `assign_rails` (promote islands on failing paths) is kept for callers
that start from such a partition.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from flow.engines.model import FlatDesign
from flow.errors import ConfigError


def cell_graph(design: FlatDesign, max_degree: int = 32, net_weight: np.ndarray | None = None) -> sp.csr_matrix:
    """Symmetric instance adjacency with clique weights w_net/(d−1); `net_weight` (per net,
    default 1) makes busy nets costlier to cut — a cut net gets a level shifter that switches
    as often as the net does."""
    n = len(design.inst_names)
    net = design.pin_net
    inst = design.pin_inst
    ok = net >= 0
    order = np.argsort(net[ok], kind="stable")
    nets, insts = net[ok][order], inst[ok][order]
    bounds = np.flatnonzero(np.diff(nets)) + 1
    net_ids = nets[np.concatenate([[0], bounds])] if nets.size else np.zeros(0, dtype=np.int64)
    rows, cols, vals = [], [], []
    for group, nid in zip(np.split(insts, bounds), net_ids, strict=True):
        members = np.unique(group)
        d = members.size
        if d < 2 or d > max_degree:
            continue
        a, b = np.triu_indices(d, 1)
        rows.append(members[a])
        cols.append(members[b])
        w = 1.0 if net_weight is None else float(net_weight[nid])
        vals.append(np.full(a.size, w / (d - 1)))
    if not rows:
        return sp.csr_matrix((n, n))
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    m = sp.coo_matrix((v, (r, c)), shape=(n, n)).tocsr()
    return (m + m.T).tocsr()


def partition(graph: sp.csr_matrix, k: int, vweights: np.ndarray, seed: int = 0) -> np.ndarray:
    """Island index per cell, k-way balanced min-cut (METIS recursive/k-way via pymetis)."""
    import pymetis

    n = graph.shape[0]
    if k < 1:
        raise ConfigError("FINEVH_ISLANDS must be at least 1")
    if k == 1 or n <= k:
        return np.minimum(np.arange(n), k - 1) if n <= k else np.zeros(n, dtype=np.int64)
    g = graph.tocsr()
    g.sort_indices()
    ew = np.maximum(1, np.round(g.data * 100)).astype(np.int64)
    vw = np.maximum(1, np.round(vweights / max(vweights.min(), 1e-30))).astype(np.int64)
    opts = pymetis.Options(seed=seed, ufactor=50)
    adjacency = pymetis.CSRAdjacency(g.indptr, g.indices)
    _, parts = pymetis.part_graph(k, adjacency=adjacency, eweights=ew, vweights=vw, options=opts)
    return np.asarray(parts, dtype=np.int64)


def geometric_partition(xy: np.ndarray, area: np.ndarray, k: int) -> np.ndarray:
    """Island index per cell: recursive coordinate bisection of placed cells, each cut across
    the longer side of the cells' bounding box at the area share of its islands (k1 = k // 2
    of k), so every island holds ~1/k of the area in a compact, nearly square patch."""
    n = len(area)
    if k < 1:
        raise ConfigError("FINEVH_ISLANDS must be at least 1")
    out = np.zeros(n, dtype=np.int64)
    a = np.asarray(area, dtype=float)
    stack = [(np.arange(n), k, 0)]
    while stack:
        sel, kk, base = stack.pop()
        if kk == 1 or sel.size <= 1:
            out[sel] = base
            continue
        pts = xy[sel]
        axis = int(np.ptp(pts[:, 1]) > np.ptp(pts[:, 0]))
        order = sel[np.argsort(pts[:, axis], kind="stable")]
        k1 = kk // 2
        cum = np.cumsum(a[order])
        cut = min(max(int(np.searchsorted(cum, cum[-1] * k1 / kk)) + 1, 1), order.size - 1)
        stack += [(order[:cut], k1, base), (order[cut:], kk - k1, base + k1)]
    return out


def cut_nets(design: FlatDesign, island: np.ndarray) -> list[tuple[int, int, list[int]]]:
    """(net, driver island, receiving islands) for every net whose pins span several islands."""
    out = []
    net = design.pin_net
    ok = net >= 0
    order = np.argsort(net[ok], kind="stable")
    nets = net[ok][order]
    pins = np.flatnonzero(ok)[order]
    bounds = np.flatnonzero(np.diff(nets)) + 1
    for group in np.split(pins, bounds):
        isl = island[design.pin_inst[group]]
        if np.unique(isl).size < 2:
            continue
        out.append((int(net[group[0]]), int(isl[0]), sorted(set(isl.tolist()))))
    return out


@dataclass
class RailAssignment:
    rails: list[str]  # per island: corner name
    wns: float
    iterations: int
    history: list[tuple[int, float]] = field(default_factory=list)  # (islands on VDDH, WNS)


def assign_rails(k: int, island: np.ndarray, inst_names: list[str], vddh: str, vddl: str,
                 sta: Callable[[np.ndarray], tuple[float, list[list[str]]]], max_iter: int | None = None) -> RailAssignment:
    """Promote islands on failing paths to VDDH until timing is met.

    `sta(ic)` analyses with per-instance corner indices ic (0 = VDDH, 1 = VDDL) and returns
    (WNS in s, instance names of each violating path)."""
    rail = np.ones(k, dtype=np.int64)  # all VDDL
    index = {n: i for i, n in enumerate(inst_names)}
    history = []
    wns = -np.inf
    for it in range(1, (max_iter or 2 * k) + 1):
        wns, paths = sta(rail[island])
        history.append((int(np.sum(rail == 0)), wns))
        if wns >= 0:
            return RailAssignment([vddh if r == 0 else vddl for r in rail], wns, it, history)
        promote = {int(island[index[n]]) for p in paths for n in p if n in index}
        promote = {i for i in promote if rail[i] == 1}
        if not promote:
            break
        rail[list(promote)] = 0
    return RailAssignment([vddh if r == 0 else vddl for r in rail], float(wns), len(history), history)


SPREAD_LIMIT = 3.0  # a low-rail island spanning more than this × a compact patch of its area is dissolved


def slack_binned_islands(graph: sp.csr_matrix | None, cell_class: np.ndarray, k: int, area: np.ndarray, *,
                         min_size: int = 1, seed: int = 0,
                         xy: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Timing-driven islands: cells are binned first by the lowest rail their worst path through
    allows (`cell_class`, 0 = VDDL), then each bin is cut by METIS on its own connectivity into a
    share of the k islands proportional to its cells (at least one, none smaller than
    `min_size`). A bin too small for one island joins the next faster bin (never a slower one:
    that could break timing). With `xy` (cell centres of an unfenced placement) bins are cut by
    `geometric_partition` and `graph` is not needed; a lower-rail island whose cells are
    scattered (its span over SPREAD_LIMIT × that of a compact patch of its area) is dissolved
    into the next faster bin and the bins are cut again: fencing scattered cells together would
    stretch their wires across the core on the slow rail (mac_array, 1,024 islands: the 17
    VDDL islands spanned 206 µm against 32 µm, and the mixed-rail WNS was -12 ns after
    placement). Returns (island per cell, rail class per island)."""
    n = len(cell_class)
    cls = np.asarray(cell_class, dtype=np.int64).copy()
    if xy is not None and n:  # before the cuts: scattered slow-rail cells go up a rail
        cls = _promote_sparse(np.asarray(xy, dtype=float), cls, k, max(min_size, 1))
    if xy is None:
        return _cut_bins(graph, cls, k, area, min_size, seed, None)
    pts = np.asarray(xy, dtype=float)
    bbox = float(np.ptp(pts[:, 0]) * np.ptp(pts[:, 1])) if n else 0.0
    total = float(np.sum(area)) or 1.0
    for _ in range(16):
        island, isl_class = _cut_bins(graph, cls, k, area, min_size, seed, pts)
        top = int(isl_class.max()) if isl_class.size else 0
        loose = []
        for j in np.flatnonzero(isl_class < top).tolist():
            m = island == j
            span = float(np.ptp(pts[m, 0]) + np.ptp(pts[m, 1]))
            compact = 2.0 * math.sqrt(bbox * float(np.sum(area[m])) / total)
            if span > SPREAD_LIMIT * compact:
                loose.append(j)
        if not loose:
            return island, isl_class
        for j in loose:  # one rail up, never down
            m = island == j
            cls[m] = min(c for c in set(cls.tolist()) | {top} if c > isl_class[j])
    return island, isl_class


def _promote_sparse(xy: np.ndarray, cls: np.ndarray, k: int, min_size: int) -> np.ndarray:
    """Cells of a lower bin with fewer than `min_size` cells of their bin (or a lower one) within
    the side of one island's patch of the placement go up one bin: alone among faster cells
    they cannot form a compact island of their own."""
    from scipy.spatial import cKDTree

    side = math.sqrt(float(np.ptp(xy[:, 0]) * np.ptp(xy[:, 1])) / max(k, 1))
    out = cls.copy()
    classes = sorted(set(cls.tolist()))
    for c, up in zip(classes[:-1], classes[1:], strict=True):
        low = np.flatnonzero(out <= c)
        if not low.size:
            continue
        counts = np.asarray(cKDTree(xy[low]).query_ball_point(xy[low], side, return_length=True))
        sparse = low[(counts < min_size) & (out[low] == c)]
        out[sparse] = up
    return out


def _cut_bins(graph: sp.csr_matrix | None, cell_class: np.ndarray, k: int, area: np.ndarray, min_size: int,
              seed: int, xy: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """One cut of the bins (`slack_binned_islands` without the scatter check)."""
    n = len(cell_class)
    cls = np.asarray(cell_class, dtype=np.int64).copy()
    classes = sorted(set(cls.tolist()))
    for c in classes[:-1]:  # undersized bins move up, never down
        if 0 < int(np.sum(cls == c)) < min_size:
            cls[cls == c] = min(x for x in classes if x > c)
    classes = sorted(set(cls.tolist()))
    counts = {c: int(np.sum(cls == c)) for c in classes}
    budget = max(k, len(classes))
    share = {c: max(1, min(counts[c] // max(min_size, 1), int(round(budget * counts[c] / max(n, 1)))))
             for c in classes}
    island = np.zeros(n, dtype=np.int64)
    isl_class: list[int] = []
    for c in classes:
        members = np.flatnonzero(cls == c)
        if xy is not None:
            parts = geometric_partition(np.asarray(xy)[members], area[members], share[c])
        else:
            parts = partition(graph[members][:, members], share[c], area[members], seed=seed)
        used = np.unique(parts)
        remap = np.full(int(parts.max()) + 1 if parts.size else 1, -1, dtype=np.int64)
        remap[used] = np.arange(used.size) + len(isl_class)
        island[members] = remap[parts]
        isl_class += [c] * used.size
    return island, np.asarray(isl_class, dtype=np.int64)
