"""Clock-tree synthesis: a balanced buffered tree per clock net (clustering + H-tree).

The sinks of a clock net (flip-flop clock pins and any other load) are split by median bisection
along the wider side of their bounding box, to the same depth everywhere, until every leaf
cluster has at most `cluster_size` sinks and is a load the clock buffer drives within its slew
limit, and spans at most `cluster_diameter` unless that would leave fewer than a quarter of
`cluster_size` sinks per leaf. Each leaf gets a buffer at its sinks' centroid; each
inner node a buffer at the midpoint of its two children (the tapping point of an H-tree), the
root buffer is driven by the clock source. Equal depth gives every sink the same number of
buffers, so the skew left is what wire lengths and cluster loads make — measured by the
propagated-clock STA, never assumed. Buffers go into the netlist (`repair.Netlist`) and are
placed by the incremental legaliser afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from flow.engines.repair import LibView, Netlist, steiner_length


@dataclass
class ClockTree:
    net: str
    sinks: int
    depth: int
    buffers: list[int] = field(default_factory=list)  # instance indices in the netlist
    wirelength: float = 0.0  # m, Steiner estimate over the tree's nets


def _diameter(xs: np.ndarray, ys: np.ndarray) -> float:
    return float(np.ptp(xs) + np.ptp(ys)) if xs.size else 0.0


def _split(idx: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sx, sy = xs[idx], ys[idx]
    key = sx if np.ptp(sx) >= np.ptp(sy) else sy
    order = idx[np.argsort(key, kind="stable")]
    half = order.size // 2
    return order[:half], order[half:]


def _leaves(idx: np.ndarray, xs: np.ndarray, ys: np.ndarray, depth: int) -> list[np.ndarray]:
    if depth == 0 or idx.size <= 1:
        return [idx]
    a, b = _split(idx, xs, ys)
    return _leaves(a, xs, ys, depth - 1) + _leaves(b, xs, ys, depth - 1)


def build_clock_tree(nl: Netlist, lv: LibView, net: int, buffer: str, size: tuple[float, float], *,
                     cluster_size: int = 20, cluster_diameter: float = 100e-6, c_per_m: float = 0.0,
                     slew_limit: float | None = None, max_depth: int = 12) -> ClockTree:
    """Insert a buffered tree on clock net `net` (index into `nl.net_names`); its driver (the
    clock port or pin) keeps the net, which then feeds only the root buffer."""
    info = lv.cells[buffer]
    bin_, bout = info.inputs[0], info.outputs[0]
    sinks = [p for p, n in enumerate(nl.pin_net) if n == net
             and nl.pin_name[p] not in (lv.cells[nl.inst_cell[nl.pin_inst[p]]].outputs
                                        if nl.inst_cell[nl.pin_inst[p]] in lv.cells else [])]
    tree = ClockTree(nl.net_names[net], len(sinks), 0)
    if not sinks:
        return tree
    xs = np.array([nl.centre(nl.pin_inst[p])[0] for p in sinks])
    ys = np.array([nl.centre(nl.pin_inst[p])[1] for p in sinks])
    caps = np.array([lv.cells[nl.inst_cell[nl.pin_inst[p]]].pin_cap.get(nl.pin_name[p], 0.0)
                     if nl.inst_cell[nl.pin_inst[p]] in lv.cells else 0.0 for p in sinks])
    limit = lv.pin_max_slew(buffer, bout) if slew_limit is None else slew_limit
    capacity = lv.max_load(buffer, bout, (limit or 1e-10) / 2, limit, lv.pin_max_cap(buffer, bout))

    def drivable(leaf: np.ndarray) -> bool:
        cx, cy = float(xs[leaf].mean()), float(ys[leaf].mean())
        load = float(caps[leaf].sum()) + c_per_m * steiner_length(np.append(xs[leaf], cx), np.append(ys[leaf], cy))
        return leaf.size <= cluster_size and load <= capacity

    def compact(leaf: np.ndarray) -> bool:
        return _diameter(xs[leaf], ys[leaf]) <= cluster_diameter

    all_idx = np.arange(len(sinks))
    depth = max(0, math.ceil(math.log2(max(len(sinks) / max(cluster_size, 1), 1.0))))
    # size and load are hard limits; the diameter one only while leaves keep a quarter of
    # cluster_size on average (on a large, sparse core it would otherwise buy a buffer per sink)
    while depth < max_depth:
        leaves = _leaves(all_idx, xs, ys, depth)
        spread = not all(compact(leaf) for leaf in leaves) and len(sinks) / 2 ** (depth + 1) >= max(cluster_size / 4, 1)
        if not (spread or not all(drivable(leaf) for leaf in leaves)):
            break
        depth += 1
    tree.depth = depth
    w, h = size

    def build(idx: np.ndarray, level: int) -> tuple[int, float, float]:
        """Buffer driving the sinks `idx`: (its input pin, x, y)."""
        out = nl.new_net("cts_net")
        if level == depth or idx.size <= 1:
            cx, cy = float(xs[idx].mean()), float(ys[idx].mean())
            for q in idx:
                nl.set_net(sinks[int(q)], out)
            tree.wirelength += steiner_length(np.append(xs[idx], cx), np.append(ys[idx], cy))
        else:
            a, b = _split(idx, xs, ys)
            pa, ax, ay = build(a, level + 1)
            pb, bx, by = build(b, level + 1)
            nl.set_net(pa, out)
            nl.set_net(pb, out)
            cx, cy = (ax + bx) / 2, (ay + by) / 2
            tree.wirelength += abs(ax - bx) + abs(ay - by)
        k = nl.add_cell(buffer, {bin_: -1, bout: out}, cx, cy, w, h, "clkbuf")
        tree.buffers.append(k)
        return nl.pin_of(k, bin_), cx, cy

    root_in, _, _ = build(all_idx, 0)
    nl.set_net(root_in, net)
    return tree
