"""SDC `set_case_analysis 0|1|rising|falling <pins/ports>`: constants in the timing graph.

Why: a mode pin (mac_array's `prec`, a test-mode or bypass select) fixes part of the logic, so
the paths the mode never exercises must not be timed — otherwise every precision mode is timed
at the 8-bit mode's worst path and the slack lower precision frees is never seen.

What OpenSTA does and we follow (`Sim` + `SearchPred`):

* constants propagate from the named pins/ports along nets to their loads and through
  *combinational* cells by their Liberty `function` (three-valued: an output is constant when
  every value of its unknown inputs gives the same result); not through registers (OpenSTA's
  default, `case_analysis_sequential_propagation false`);
* an edge is removed when its source pin is constant, when the cell output it drives is
  constant, or when the function, with the other inputs' constants, does not depend on its input
  pin (a mux's unselected data input: OpenSTA's `simTimingSense() == none`); a non-unate arc
  that the constants make unate (an xor with a constant input) keeps only that sense's
  transitions, as OpenSTA's search does with the simulated timing sense;
* `rising` / `falling` are unknown for the logic; only that transition leaves (and reaches) the
  pin;
* tie cells (an output whose Liberty function is the constant `0` or `1`: Nangate45 LOGIC0/1,
  sky130 conb) are constants without any `set_case_analysis`, as OpenSTA's `Sim` seeds them: an
  AND fed by a tie-low cell is not timed (sta 3.1 reports no path to it).

`apply(graph, design, case)` is what the STA calls (`flow.engines.sta.analyze`) after building
its graph: it returns the graph with those edges removed, so slews, arrivals, checks and reports
all see the constrained netlist; `no_arrival(graph, dmax, dmin)`, after the delay calculation,
drops the arrivals of the transitions a constant makes impossible on a non-unate arc.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from flow.engines.activity import evaluate, parse_function, ports
from flow.engines.model import FlatDesign, NodeIndex

#: SDC value -> node value; -1 is unknown
CASE_VALUES = {"0": 0, "1": 1, "zero": 0, "one": 1, "rising": 2, "rise": 2, "falling": 3, "fall": 3}
UNKNOWN, ZERO, ONE, RISING, FALLING = -1, 0, 1, 2, 3
RISE, FALL = 0, 1


def _logic(v: int) -> int:
    """A node's logic value: rising/falling pins are not constants."""
    return v if v in (ZERO, ONE) else UNKNOWN


class _Functions:
    """Per (cell, output pin): the parsed Liberty function, its inputs and three-valued answers,
    cached by the constants seen on the inputs (a netlist repeats few combinations)."""

    def __init__(self) -> None:
        self._expr: dict[tuple[str, str], tuple[Any, list[str]] | None] = {}
        self._eval: dict[tuple, tuple[int, frozenset[str]]] = {}

    def expr(self, cell: str, out: str, text: str | None) -> tuple[Any, list[str]] | None:
        key = (cell, out)
        if key not in self._expr:
            if not text:
                self._expr[key] = None
            else:
                e = parse_function(text)
                self._expr[key] = (e, ports(e))
        return self._expr[key]

    def outcome(self, cell: str, out: str, e: Any, names: list[str], consts: tuple[int, ...]) -> tuple[int, dict[str, int]]:
        """(output value, sense of the output in each input it still depends on: +1 positive
        unate, -1 negative unate, 0 non-unate) under the input constants."""
        key = (cell, out, consts)
        got = self._eval.get(key)
        if got is not None:
            return got
        free = [nm for nm, c in zip(names, consts, strict=True) if c == UNKNOWN]
        fixed = {nm: bool(c) for nm, c in zip(names, consts, strict=True) if c != UNKNOWN}
        results = {}
        for bits in itertools.product((False, True), repeat=len(free)):
            vals = dict(fixed)
            vals.update(zip(free, bits, strict=True))
            results[bits] = evaluate(e, vals)
        outs = set(results.values())
        value = (ONE if True in outs else ZERO) if len(outs) == 1 else UNKNOWN
        sense: dict[str, int] = {}
        for i, nm in enumerate(free):
            seen = set()
            for bits, r in results.items():
                if bits[i]:
                    continue
                r1 = results[bits[:i] + (True,) + bits[i + 1:]]
                if r1 != r:
                    seen.add(1 if r1 else -1)
            if seen:
                sense[nm] = seen.pop() if len(seen) == 1 else 0
        got = (value, sense)
        self._eval[key] = got
        return got


def tie_outputs(design: FlatDesign, cells: list, inst_cell_idx: np.ndarray) -> dict[int, int]:
    """Pin node -> ZERO/ONE for the outputs of tie cells (a Liberty function that is a constant)."""
    const_of: dict[int, dict[str, int]] = {}
    for k, cm in enumerate(cells):
        outs = {pin: ZERO if text.strip() in ("0", "1'b0") else ONE
                for pin, text in (getattr(cm, "functions", None) or {}).items()
                if text and text.strip() in ("0", "1", "1'b0", "1'b1") and not cm.is_sequential}
        if outs:
            const_of[k] = outs
    if not const_of:
        return {}
    idx = np.asarray(inst_cell_idx)
    insts = np.flatnonzero(np.isin(idx, list(const_of)))
    if not insts.size:
        return {}
    start = np.asarray(design.inst_pin_start)
    out: dict[int, int] = {}
    for inst in insts.tolist():
        outs = const_of[int(idx[inst])]
        for p in range(int(start[inst]), int(start[inst + 1])):
            v = outs.get(design.pin_name[p])
            if v is not None:
                out[p] = v
    return out


def has_ties(g: Any) -> bool:
    """Whether the graph's netlist uses a tie cell (then `apply` runs without any case analysis)."""
    return any(any(t and t.strip() in ("0", "1", "1'b0", "1'b1") for t in (getattr(cm, "functions", None) or {}).values())
               and not cm.is_sequential and np.any(np.asarray(g.inst_cell_idx) == k) for k, cm in enumerate(g.cells))


def node_values(design: FlatDesign, cells: list, inst_cell_idx: np.ndarray, pin_dir: np.ndarray,
                case: Mapping[str, str], warnings: list[str] | None = None) -> np.ndarray:
    """Per timing node (instance pins, then ports): UNKNOWN, ZERO, ONE, RISING or FALLING after
    propagating the case constants along nets and through combinational cells."""
    n_pins = len(design.pin_name)
    n = n_pins + len(design.port_names)
    values = np.full(n, UNKNOWN, dtype=np.int8)
    fixed = np.zeros(n, dtype=bool)
    index = NodeIndex(design.node_names())
    for name, val in case.items():
        v = CASE_VALUES.get(str(val).lower())
        k = index.get(name)
        if v is None or k is None:
            if warnings is not None:
                warnings.append(f"set_case_analysis {val} {name}: {'bad value' if v is None else 'no such pin or port'}")
            continue
        values[k] = v
        fixed[k] = True
    for k, v in tie_outputs(design, cells, inst_cell_idx).items():
        if not fixed[k]:
            values[k] = v
            fixed[k] = True
    node_net = np.concatenate([design.pin_net, design.port_net])
    loads = np.flatnonzero((pin_dir == 1) | (pin_dir == 3))
    order = np.argsort(node_net[loads], kind="stable")
    loads = loads[order]
    lstart = np.searchsorted(node_net[loads], np.arange(len(design.net_names) + 1))
    start = np.asarray(design.inst_pin_start)
    funcs = _Functions()
    queue = [int(k) for k in np.flatnonzero(values >= 0)]
    while queue:
        v = queue.pop()
        val = _logic(int(values[v]))
        touched: list[int] = []
        if pin_dir[v] in (2, 3) and val != UNKNOWN:  # a constant driver: every load of its net
            net = int(node_net[v])
            for ld in loads[lstart[net]:lstart[net + 1]].tolist():
                if not fixed[ld] and values[ld] != val:
                    values[ld] = val
                    touched.append(ld)
        if v < n_pins and pin_dir[v] in (1, 3):
            touched.append(v)
        for ld in touched:
            if ld < n_pins and pin_dir[ld] in (1, 3):
                inst = int(design.pin_inst[ld])
                for out in _evaluate_instance(design, cells, inst_cell_idx, pin_dir, values, fixed, start, funcs, inst):
                    queue.append(out)
            elif ld >= n_pins:
                continue  # an output port: nothing beyond it
    return values


def _evaluate_instance(design: FlatDesign, cells: list, inst_cell_idx: np.ndarray, pin_dir: np.ndarray,
                       values: np.ndarray, fixed: np.ndarray, start: np.ndarray, funcs: _Functions,
                       inst: int) -> list[int]:
    """Outputs of a combinational instance that just became constant."""
    cm = cells[int(inst_cell_idx[inst])]
    if cm.is_sequential or not cm.functions:
        return []
    pins = {design.pin_name[p]: p for p in range(int(start[inst]), int(start[inst + 1]))}
    out_nodes = []
    for out, text in cm.functions.items():
        p_out = pins.get(out)
        if p_out is None or fixed[p_out] or values[p_out] in (ZERO, ONE):
            continue
        got = funcs.expr(cm.name, out, text)
        if got is None:
            continue
        e, names = got
        consts = tuple(_logic(int(values[pins[nm]])) if nm in pins else UNKNOWN for nm in names)
        if names and all(c == UNKNOWN for c in consts):
            continue
        value, _ = funcs.outcome(cm.name, out, e, names, consts)
        if value != UNKNOWN:
            values[p_out] = value
            out_nodes.append(p_out)
    return out_nodes


def disabled_edges(g: Any, design: FlatDesign, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks over the graph's expanded edges: those case analysis removes, and those that keep
    their delay and slew but carry no arrival (the transitions a constant makes unate arcs
    exclude: OpenSTA's delay calculator still sees every arc of the edge, its search not)."""
    src, dst = g.src, g.dst
    logic = np.where((values == ZERO) | (values == ONE), values, UNKNOWN)
    off = (logic[src] >= 0) | (logic[dst] >= 0)
    # rising / falling pins: only that transition leaves or reaches them
    for val, tr_off in ((RISING, FALL), (FALLING, RISE)):
        off |= ((values[src] == val) & (g.srctr == tr_off)) | ((values[dst] == val) & (g.dsttr == tr_off))
    # cell arcs whose output no longer depends on their input under the other inputs' constants
    n_pins = len(design.pin_name)
    const_pin = logic[:n_pins] >= 0
    insts_with_const = np.zeros(len(design.inst_names), dtype=bool)
    insts_with_const[design.pin_inst[const_pin]] = True
    sense_off = np.zeros_like(off)
    cand = np.flatnonzero(g.is_cell & ~off & (g.inst >= 0))
    cand = cand[insts_with_const[g.inst[cand]]]
    if cand.size:
        funcs = _Functions()
        start = np.asarray(design.inst_pin_start)
        memo: dict[tuple[int, int], dict[str, int] | None] = {}
        for e in cand.tolist():
            inst = int(g.inst[e])
            a, b = int(src[e]), int(dst[e])
            if g.launch[e]:
                continue
            key = (inst, b)
            if key not in memo:
                memo[key] = _sensitive_inputs(design, g, values, start, funcs, inst, b)
            sens = memo[key]
            if sens is None:
                continue
            s_ = sens.get(design.pin_name[a])
            if s_ is None:  # the output no longer depends on this input
                off[e] = True
            elif s_ != 0 and (g.srctr[e] == g.dsttr[e]) != (s_ > 0):
                sense_off[e] = True  # e.g. an xor with a constant 1 is negative unate (sim sense)
    return off, sense_off & ~off


def _sensitive_inputs(design: FlatDesign, g: Any, values: np.ndarray, start: np.ndarray, funcs: _Functions,
                      inst: int, out_node: int) -> dict[str, int] | None:
    """Inputs the output pin `out_node` still depends on, with their sense (None: no function)."""
    cm = g.cells[int(g.inst_cell_idx[inst])]
    out = design.pin_name[out_node]
    got = funcs.expr(cm.name, out, cm.functions.get(out)) if not cm.is_sequential else None
    if got is None:
        return None
    e, names = got
    pins = {design.pin_name[p]: p for p in range(int(start[inst]), int(start[inst + 1]))}
    consts = tuple(_logic(int(values[pins[nm]])) if nm in pins else UNKNOWN for nm in names)
    return funcs.outcome(cm.name, out, e, names, consts)[1]


def apply(g: Any, design: FlatDesign, case: Mapping[str, str]) -> Any:
    """The timing graph `g` (`flow.engines.sta._Graph`) with the edges case analysis disables
    removed; wire-edge indices of RC nets are renumbered."""
    values = node_values(design, g.cells, g.inst_cell_idx, g.pin_dir, case, g.warnings)
    off, sense_off = disabled_edges(g, design, values)
    if not off.any() and not sense_off.any():
        return g
    keep = ~off
    new_id = np.cumsum(keep) - 1
    fields: dict[str, Any] = {name: getattr(g, name)[keep] for name in
                              ("src", "srctr", "dst", "dsttr", "is_cell", "dtab", "stab", "inst", "wire", "launch")}
    if g.rc is not None:
        rc_of_node, rc_pi, rc_wstart, rc_wedges, rc_dspf, elmore, extra = g.rc
        owner = np.repeat(np.arange(rc_wstart.size - 1), np.diff(rc_wstart))
        k = keep[rc_wedges]
        rc_wedges, owner = new_id[rc_wedges[k]], owner[k]
        rc_wstart = np.searchsorted(owner, np.arange(rc_pi.shape[0] + 1)).astype(np.int64)
        fields["rc"] = (rc_of_node, rc_pi, rc_wstart, rc_wedges.astype(np.int64), rc_dspf, elmore[keep], extra[keep])
    g = dataclasses.replace(g, **fields)
    g.case_values = values  # for reports and tests: the propagated constants per node
    g.case_no_arrival = np.flatnonzero(sense_off[keep])  # edges `no_arrival` drops after the slew pass
    return g


def no_arrival(g: Any, dmax: np.ndarray, dmin: np.ndarray) -> None:
    """After the delay calculation: the transitions the constants exclude carry no arrival."""
    idx = getattr(g, "case_no_arrival", None)
    if idx is not None and idx.size:
        dmax[idx] = -np.inf
        dmin[idx] = np.inf
