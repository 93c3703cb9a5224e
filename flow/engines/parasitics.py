"""Per-net wire parasitics for STA and power: zero wire load, lumped capacitance, RC trees, or
a Liberty wire-load model.

From SPEF (`from_spef`): the wire capacitance of a net is the sum of its `*CAP` entries
(coupling grounded) — or `*D_NET` total when there are none — and pin capacitances come from
Liberty, as OpenSTA does by default (no `-pin_cap_included`). With `*RES` the net is an RC tree
rooted at the driver and each load pin gets the Elmore delay
`sum over resistors on the root->pin path of R * downstream C`, pin capacitances included.

Without SPEF, OpenSTA estimates every net from the library's `default_wire_load` (or the SDC's
`set_wire_load_model`): length from the `fanout_length` table by the net's fanout (input pins
plus output ports; linear between entries, `slope` beyond them), capacitance and resistance per
unit length. `from_wire_load` does the same; the STA adds the capacitance to the net and, for a
balanced tree, the Elmore delay `R/fanout * (C/fanout + load pin cap)` to each load (worst-case
tree: `R * (wire C + all load pins)`, best-case: none), as OpenSTA's estimate does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np

from flow.engines.model import FlatDesign
from flow.errors import ConfigError
from flow.formats.spef import Spef, SpefFlat, SpefNet
from flow.util import gc_paused


@dataclass
class WireLoad:
    """A Liberty `wire_load` model (SI units) and the tree type of the operating conditions."""

    name: str
    cap_per_length: float
    res_per_length: float
    slope: float
    fanout_length: list[tuple[float, float]]
    tree: str = "balanced_tree"

    @classmethod
    def from_library(cls, lib: Any, name: str | None = None) -> WireLoad | None:
        """The library's wire load `name` (default: its `default_wire_load`); None if it has none."""
        loads = (lib.get("wire_loads") if isinstance(lib, dict) else None) or {}
        name = name or (lib.get("default_wire_load") if isinstance(lib, dict) else None)
        if not name:
            return None
        wl = loads.get(name)
        if wl is None:
            raise ConfigError(f"wire load model {name!r} is not in the library (has: {', '.join(loads) or 'none'})")
        return cls(name, wl["cap_per_length"], wl["res_per_length"], wl["slope"], list(wl["fanout_length"]),
                   str(lib.get("wire_load_tree") or "balanced_tree"))

    def length(self, fanout: np.ndarray) -> np.ndarray:
        """Estimated length per net for `fanout` loads (OpenSTA `Wireload::findWireload`)."""
        f = np.asarray(fanout, dtype=float)
        if not self.fanout_length:
            return np.zeros_like(f)
        fo = np.array([a for a, _ in self.fanout_length])
        ln = np.array([b for _, b in self.fanout_length])
        out = np.interp(f, fo, ln)
        out = np.where(f < fo[0], np.maximum(ln[0] - (fo[0] - f) * self.slope, 0.0), out)
        return np.where(f >= fo[-1], ln[-1] + (f - fo[-1]) * self.slope, out)


Tree = tuple[dict[str, float], list[tuple[str, str, float]]]  # node -> F, (node, node, ohm)


def _normaliser(delimiter: str) -> Callable[[str], str]:
    """`inst:pin` -> the timing node name `inst/pin` (a net's internal node `net:1` likewise)."""
    normed: dict[str, str] = {}  # a node is named in *CAP and in *RES: convert it once

    def norm(node: str) -> str:
        out = normed.get(node)
        if out is None:
            obj, sep, tail = node.rpartition(delimiter)
            out = normed[node] = f"{obj}/{tail}" if sep else node
        return out

    return norm


class _SpefTrees(Mapping[int, Tree]):
    """The RC trees of a scanned SPEF (design net -> tree), built per net only when asked; the
    STA takes the flat arrays (`Parasitics.rc_arrays`) instead."""

    def __init__(self, flat: SpefFlat, net_q: dict[int, int], delimiter: str) -> None:
        self._flat, self._q, self._norm = flat, net_q, _normaliser(delimiter)

    def __getitem__(self, k: int) -> Tree:
        return _tree(self._flat.net(self._q[k]), self._norm)

    def __iter__(self) -> Iterator[int]:
        return iter(self._q)

    def __len__(self) -> int:
        return len(self._q)


def _tree(net: SpefNet, norm: Callable[[str], str]) -> Tree:
    return ({norm(a): c for a, c in net.caps.items()}, [(norm(a), norm(b), r) for a, b, r in net.res])


@dataclass
class Parasitics:
    """Wire capacitance per design net (F) and optional RC trees per net."""

    wire_cap: np.ndarray
    trees: Mapping[int, Tree] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    wire_load: WireLoad | None = None  # estimate nets from it (the STA knows the fanouts)
    _delays: dict[tuple[int, str], float] = field(default_factory=dict, repr=False)
    _flat: tuple[SpefFlat, dict[int, int], str] | None = field(default=None, repr=False)

    @classmethod
    def zero(cls, design: FlatDesign) -> Parasitics:
        return cls(np.zeros(len(design.net_names)))

    @classmethod
    def from_wire_load(cls, design: FlatDesign, wire_load: WireLoad) -> Parasitics:
        return cls(np.zeros(len(design.net_names)), wire_load=wire_load)

    @classmethod
    def lumped(cls, design: FlatDesign, caps: np.ndarray) -> Parasitics:
        return cls(np.asarray(caps, dtype=float))

    @classmethod
    @gc_paused  # millions of small acyclic tuples and strings: no collector passes over them
    def from_spef(cls, spef: Spef, design: FlatDesign) -> Parasitics:
        """Match SPEF nets to design nets by name (the reader has removed the SPEF escapes; a
        bit of an escaped bus, `\\u0.rcnt [2]` in Verilog, matches `u0.rcnt[2]`); unknown nets
        are counted in `warnings`."""
        index = {nm: k for k, nm in enumerate(design.net_names)}
        for k, nm in enumerate(design.net_names):
            if " [" in nm:
                index.setdefault(nm.replace(" [", "["), k)
        if spef.flat is not None:
            return cls._from_flat(spef, spef.flat, index, len(design.net_names))
        caps = np.zeros(len(design.net_names))
        trees: dict[int, Tree] = {}
        unknown: list[str] = []
        norm = _normaliser(spef.delimiter)
        for name, net in spef.nets.items():
            k = index.get(name)
            if k is None:
                unknown.append(name)
                continue
            caps[k] = sum(net.caps.values()) if net.caps else net.total_cap
            if net.res:
                trees[k] = _tree(net, norm)
        return cls(caps, trees, _unknown_warning(spef, unknown))

    @classmethod
    def _from_flat(cls, spef: Spef, flat: SpefFlat, index: dict[str, int], n_nets: int) -> Parasitics:
        """`from_spef` on the scanner's flat records: the same nets, capacitances and trees
        (the trees stay arrays until someone asks for one)."""
        from flow.engines import rc_kernels

        wire = rc_kernels.spef_wire_caps(flat.net_cap0, flat.cap_node, flat.cap_val, flat.net_total,
                                         len(flat.names)).tolist()
        nres = np.diff(flat.net_res0).tolist()
        caps = np.zeros(n_nets)
        net_q: dict[int, int] = {}
        unknown: list[str] = []
        for name, q in flat.net_order().items():
            k = index.get(name)
            if k is None:
                unknown.append(name)
                continue
            caps[k] = wire[q]
            if nres[q]:
                net_q[k] = q
        par = cls(caps, _SpefTrees(flat, net_q, spef.delimiter), _unknown_warning(spef, unknown))
        par._flat = (flat, net_q, spef.delimiter)
        return par

    def load_delays(self, net: int, driver: str, pin_caps: dict[str, float]) -> dict[str, float]:
        """Elmore delay (s) from `driver` to every node of net's RC tree; {} without a tree."""
        tree = self.trees.get(net)
        if tree is None:
            return {}
        node_cap, res = tree
        adj: dict[str, list[tuple[str, float]]] = {}
        for a, b, r in res:
            adj.setdefault(a, []).append((b, r))
            adj.setdefault(b, []).append((a, r))
        if driver not in adj:
            return {}
        parent: dict[str, tuple[str | None, float]] = {driver: (None, 0.0)}
        order = [driver]
        q = deque([driver])
        while q:
            v = q.popleft()
            for w, r in adj[v]:
                if w not in parent:
                    parent[w] = (v, r)
                    order.append(w)
                    q.append(w)
        down = {v: node_cap.get(v, 0.0) + pin_caps.get(v, 0.0) for v in order}
        for v in reversed(order[1:]):
            down[parent[v][0]] += down[v]  # type: ignore[index]
        delay = {driver: 0.0}
        for v in order[1:]:
            p, r = parent[v]
            delay[v] = delay[p] + r * down[v]  # type: ignore[index]
        return delay

    def rc_arrays(self, node_index: dict[str, int]) -> tuple[np.ndarray, ...]:
        """The RC trees as flat arrays for `rc_kernels.pi_elmore_all` (no per-driver Python
        work): (net per slot, node_start, node_gid, node_cap, res_start, res_a, res_b, res_r);
        slot q's nodes are node_start[q]:node_start[q+1] (local ids in first-seen order over
        the resistors, then the capacitances), node_gid the timing node from `node_index`
        (-1: an internal node), resistor ends local ids."""
        if self._flat is not None and isinstance(self.trees, _SpefTrees):
            return self._rc_arrays_flat(node_index)
        nets = np.fromiter(self.trees.keys(), dtype=np.int64, count=len(self.trees))
        node_start, res_start = [0], [0]
        gid: list[int] = []
        ncap: list[float] = []
        ra: list[int] = []
        rb: list[int] = []
        rr: list[float] = []
        for node_cap, res in self.trees.values():
            local: dict[str, int] = {}
            for a, b, r in res:
                ia = local.setdefault(a, len(local))
                ib = local.setdefault(b, len(local))
                ra.append(ia)
                rb.append(ib)
                rr.append(r)
            for a in node_cap:
                local.setdefault(a, len(local))
            gid.extend(node_index.get(nm, -1) for nm in local)
            ncap.extend(node_cap.get(nm, 0.0) for nm in local)
            node_start.append(len(gid))
            res_start.append(len(ra))
        return (nets, np.array(node_start, dtype=np.int64), np.array(gid, dtype=np.int64),
                np.array(ncap, dtype=float), np.array(res_start, dtype=np.int64),
                np.array(ra, dtype=np.int64), np.array(rb, dtype=np.int64), np.array(rr, dtype=float))

    def _rc_arrays_flat(self, node_index: dict[str, int]) -> tuple[np.ndarray, ...]:
        """`rc_arrays` from the SPEF scanner's records (compiled; no per-node Python work but
        one name look-up per distinct node)."""
        from flow.engines import rc_kernels

        assert self._flat is not None
        flat, net_q, delimiter = self._flat
        normed = flat.node_names
        if normed is None:
            norm = _normaliser(delimiter)
            normed = [norm(nm) for nm in flat.names]
        if len(set(normed)) == len(normed):
            norm_names, norm_of = normed, np.arange(len(normed), dtype=np.int64)
        else:  # two names of a net that differ only in their delimiter: one node, as a dict keeps it
            norm_id: dict[str, int] = {}
            norm_of = np.array([norm_id.setdefault(nm, len(norm_id)) for nm in normed], dtype=np.int64)
            norm_names = list(norm_id)
        nets = np.fromiter(net_q.keys(), dtype=np.int64, count=len(net_q))
        qs = np.fromiter(net_q.values(), dtype=np.int64, count=len(net_q))
        node_start, node_norm, node_cap, res_start, ra, rb, rr = rc_kernels.spef_tree_arrays(
            qs, flat.net_cap0, flat.net_res0, flat.cap_node, flat.cap_val, flat.res_a, flat.res_b, flat.res_val,
            norm_of, len(flat.names), len(norm_names))
        gid_of = np.fromiter(map(node_index.get, norm_names, repeat(-1)), dtype=np.int64, count=len(norm_names))
        return nets, node_start, gid_of[node_norm], node_cap, res_start, ra, rb, rr


def _unknown_warning(spef: Spef, unknown: list[str]) -> list[str]:
    if not unknown:
        return []
    return [f"SPEF {spef.path}: {len(unknown)} net(s) not in the netlist, ignored (e.g. {', '.join(unknown[:3])})"]
