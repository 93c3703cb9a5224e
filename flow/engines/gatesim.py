"""Cycle-based, zero-delay gate-level simulator over the flat netlist, vectorised with numpy.

Why our own: power sign-off of a workload needs the toggle count of every net of a synthesised
netlist on long real stimulus (a ConvNet layer is thousands of cycles). iverilog can do it, but
only with Verilog models of the standard cells (the PDKs here ship Liberty only) and at event-
driven speed. Here every output pin of every cell is compiled from its Liberty `function` into a
truth table (≤ 2^8 entries), the netlist is levelised once, and one clock cycle is a handful of
numpy gathers per logic level, evaluated for many independent stimulus *lanes* at once.

Semantics (what the tests check against iverilog on the same netlist): one synchronous clock;
each cycle has two settled instants — the falling edge, when primary inputs change, and the
rising edge, when every flip-flop loads its `next_state` (asynchronous `clear`/`preset` are
applied as levels at those instants). Toggles are counted between settled values, so zero-delay
glitches inside an instant are not counted — as a VCD dumped by a zero-delay simulator shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from flow.engines.activity import evaluate, parse_function, ports
from flow.engines.model import FlatDesign
from flow.errors import VhflowError

_MAX_INPUTS = 8


class SimulationError(VhflowError):
    """A netlist the simulator cannot handle (latch, gated clock, loop) or a bad stimulus."""

    exit_code = 2


@dataclass
class SimResult:
    """Per net: `toggles` (0↔1 transitions) and `high` (settled half-cycles at 1), summed over
    lanes; `cycles` simulated per lane, `lanes`; `outputs[port] = (cycles, lanes)` sampled after
    each rising edge when requested."""

    toggles: np.ndarray
    high: np.ndarray
    cycles: int
    lanes: int
    outputs: dict[str, np.ndarray]


def _truth_table(expr: tuple, names: list[str]) -> np.ndarray:
    k = len(names)
    out = np.zeros(1 << k, dtype=np.uint8)
    for idx in range(1 << k):
        out[idx] = evaluate(expr, {n: bool((idx >> j) & 1) for j, n in enumerate(names)})
    return out


class GateSim:
    """Compile `design` against the Liberty `lib` (dict form of `flow.formats.liberty`)."""

    def __init__(self, design: FlatDesign, lib: Mapping, clock_port: str) -> None:
        self.design = design
        cells = lib["cells"]
        n_nets = len(design.net_names)
        self.n_nets = n_nets
        self.const1 = n_nets  # two extra nets: constant 0 and constant 1
        self.const0 = n_nets + 1
        if clock_port not in design.port_names:
            raise SimulationError(f"gate simulation: clock port {clock_port!r} is not a port of the design")
        self.clock_net = int(design.port_net[design.port_names.index(clock_port)])
        self.inputs = [p for p, d in zip(design.port_names, design.port_dir, strict=True)
                       if d == "input" and p != clock_port]
        self.input_net = np.array([design.port_net[design.port_names.index(p)] for p in self.inputs], dtype=np.int64)

        luts: dict[tuple, int] = {}
        lut_list: list[np.ndarray] = []
        node_out, node_in, node_lut = [], [], []
        ff_q: list[tuple[int, int, bool]] = []  # (net, flop index, inverted)
        ff_d, ff_clr, ff_pre = [], [], []  # lut/inputs triples for next_state, clear, preset
        starts = design.inst_pin_start

        def compile_expr(text: str, pin_net: dict[str, int], where: str) -> tuple[int, list[int]]:
            expr = parse_function(text)
            names = ports(expr)
            if len(names) > _MAX_INPUTS:
                raise SimulationError(f"gate simulation: {where} has {len(names)} inputs (at most {_MAX_INPUTS})")
            missing = [n for n in names if n not in pin_net]
            if missing:
                raise SimulationError(f"gate simulation: {where} pin {missing[0]} is unconnected or tied to a constant")
            key = (text, len(names))
            if key not in luts:
                luts[key] = len(lut_list)
                lut_list.append(_truth_table(expr, names))
            return luts[key], [pin_net[n] for n in names]

        for i, cname in enumerate(design.inst_cell):
            cell = cells.get(cname)
            iname = design.inst_names[i]
            if cell is None:
                raise SimulationError(f"gate simulation: cell {cname} of {iname} is not in the Liberty library")
            pin_net = {design.pin_name[p]: int(design.pin_net[p]) for p in range(starts[i], starts[i + 1])}
            ff = cell.get("ff")
            if ff is not None:
                if not ff.get("clocked_on") or ff.get("next_state") is None:
                    raise SimulationError(f"gate simulation: {cname} ({iname}) is a latch; only edge-triggered flops are "
                                    "supported")
                clk_pins = ports(parse_function(ff["clocked_on"]))
                if len(clk_pins) != 1 or pin_net.get(clk_pins[0]) != self.clock_net:
                    raise SimulationError(f"gate simulation: flop {iname} is not clocked by {clock_port} (gated or "
                                    "multiple clocks are not supported)")
                ff_d.append(compile_expr(ff["next_state"], pin_net, f"{iname} next_state"))
                ff_clr.append(compile_expr(ff["clear"], pin_net, f"{iname} clear") if ff.get("clear") else None)
                ff_pre.append(compile_expr(ff["preset"], pin_net, f"{iname} preset") if ff.get("preset") else None)
                state_names = ff.get("names") or ["IQ", "IQN"]
            else:
                state_names = []
            for pname, pin in cell["pins"].items():
                if pin.get("direction") != "output" or pname not in pin_net or not pin.get("function"):
                    continue
                fn = pin["function"].strip().strip('"')
                if state_names:
                    bare = fn.replace("(", "").replace(")", "").strip()
                    inv = bare.startswith("!") or bare.endswith("'")
                    var = bare.strip("!'").strip()
                    if var not in state_names:
                        raise SimulationError(f"gate simulation: output {pname} of {cname} mixes state and logic")
                    # IQN is the complement of IQ
                    ff_q.append((pin_net[pname], len(ff_d) - 1, inv != (var == state_names[-1] and len(state_names) > 1)))
                    continue
                lut, ins = compile_expr(fn, pin_net, f"{iname}/{pname}")
                node_out.append(pin_net[pname])
                node_in.append(ins)
                node_lut.append(lut)

        width = max([len(x) for x in node_in] + [len(x[1]) for x in ff_d] + [1])
        self._lut = np.zeros((max(len(lut_list), 1), 1 << width), dtype=np.uint8)
        for j, t in enumerate(lut_list):
            # tables of fewer inputs are repeated so padding inputs (constant 0) do not matter
            self._lut[j] = np.resize(t, 1 << width)
        self.width = width
        self._lut_flat = self._lut.ravel()

        def pad(ins: list[list[int]]) -> np.ndarray:
            a = np.full((len(ins), width), self.const0, dtype=np.int64)
            for r, x in enumerate(ins):
                a[r, :len(x)] = x
            return a

        # levelise the combinational nodes (Kahn on nets)
        n_nodes = len(node_out)
        node_out_a = np.asarray(node_out, dtype=np.int64)
        driver = np.full(n_nets + 2, -1, dtype=np.int64)
        if len(set(node_out)) != len(node_out):
            raise SimulationError("gate simulation: a net has more than one driver")
        driver[node_out_a] = np.arange(n_nodes)
        in_pad = pad(node_in)
        level = np.zeros(n_nodes, dtype=np.int64)
        deps = [[driver[x] for x in ins if driver[x] >= 0] for ins in node_in]
        order: list[int] = []
        indeg = np.array([len(d) for d in deps], dtype=np.int64)
        users: list[list[int]] = [[] for _ in range(n_nodes)]
        for v, d in enumerate(deps):
            for u in d:
                users[u].append(v)
        ready = [v for v in range(n_nodes) if indeg[v] == 0]
        while ready:
            nxt = []
            for u in ready:
                order.append(u)
                for v in users[u]:
                    level[v] = max(level[v], level[u] + 1)
                    indeg[v] -= 1
                    if indeg[v] == 0:
                        nxt.append(v)
            ready = nxt
        if len(order) != n_nodes:
            stuck = next(v for v in range(n_nodes) if indeg[v] > 0)
            raise SimulationError(f"gate simulation: combinational loop through net {design.net_names[node_out[stuck]]}")
        self.levels = []
        node_lut_a = np.asarray(node_lut, dtype=np.int64)
        for lv in range(int(level.max()) + 1 if n_nodes else 0):
            sel = np.flatnonzero(level == lv)
            self.levels.append((node_out_a[sel], in_pad[sel].T.copy(), node_lut_a[sel]))
        self.n_flops = len(ff_d)
        self._ff_d = (pad([x[1] for x in ff_d]).T.copy(), np.array([x[0] for x in ff_d], dtype=np.int64))

        def opt(items: list) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
            sel = [k for k, x in enumerate(items) if x is not None]
            if not sel:
                return None
            return (np.asarray(sel, dtype=np.int64), pad([items[k][1] for k in sel]).T.copy(),
                    np.array([items[k][0] for k in sel], dtype=np.int64))

        self._ff_clr = opt(ff_clr)
        self._ff_pre = opt(ff_pre)
        self._q_net = np.array([q[0] for q in ff_q], dtype=np.int64)
        self._q_ff = np.array([q[1] for q in ff_q], dtype=np.int64)
        self._q_inv = np.array([q[2] for q in ff_q], dtype=np.uint8)

    # ---- evaluation ---------------------------------------------------------------------------
    def _table(self, ins: np.ndarray, lut: np.ndarray, v: np.ndarray) -> np.ndarray:
        # index = Σ_j in_j << j, looked up in the flattened table row of each node
        idx = (lut.astype(np.int32) << self.width)[:, None] + v[ins[0]]
        for j in range(1, ins.shape[0]):
            idx += v[ins[j]] << np.uint8(j)
        return self._lut_flat[idx]

    def _settle(self, v: np.ndarray) -> None:
        for out, ins, lut in self.levels:
            v[out] = self._table(ins, lut, v)

    def _load_flops(self, v: np.ndarray, state: np.ndarray) -> None:
        if self._q_net.size:
            v[self._q_net] = state[self._q_ff] ^ self._q_inv[:, None]

    def _async(self, v: np.ndarray, state: np.ndarray) -> None:
        if self._ff_clr is not None:
            k, ins, lut = self._ff_clr
            on = self._table(ins, lut, v).astype(bool)
            state[k] = np.where(on, 0, state[k])
        if self._ff_pre is not None:
            k, ins, lut = self._ff_pre
            on = self._table(ins, lut, v).astype(bool)
            state[k] = np.where(on, 1, state[k])

    def input_index(self, bit: str) -> int:
        return self.inputs.index(bit)

    def run(self, stimulus: np.ndarray, record: list[str] | None = None) -> SimResult:
        """Simulate `stimulus[cycle, input, lane]` (0/1, inputs in `self.inputs` order; a 2-D
        array is one lane). Flops start at 0, inputs at 0, the clock low."""
        stim = np.asarray(stimulus, dtype=np.uint8)
        if stim.ndim == 2:
            stim = stim[:, :, None]
        cycles, n_in, lanes = stim.shape
        if n_in != len(self.inputs):
            raise SimulationError(f"gate simulation: stimulus has {n_in} inputs, the design {len(self.inputs)}")
        v = np.zeros((self.n_nets + 2, lanes), dtype=np.uint8)
        v[self.const1] = 1
        state = np.zeros((self.n_flops, lanes), dtype=np.uint8)
        self._load_flops(v, state)
        self._settle(v)
        self._async(v, state)
        self._load_flops(v, state)
        self._settle(v)
        tog = np.zeros(self.n_nets + 2, dtype=np.int64)
        high = np.zeros(self.n_nets + 2, dtype=np.int64)
        rec_nets = [int(self.design.port_net[self.design.port_names.index(p)]) for p in (record or [])]
        outputs = {p: np.zeros((cycles, lanes), dtype=np.uint8) for p in (record or [])}
        d_ins, d_lut = self._ff_d
        has_async = self._ff_clr is not None or self._ff_pre is not None

        def settle_and_count(prev: np.ndarray) -> None:
            """Settle the logic (and level-sensitive clear/preset), then count the instant's
            toggles against `prev` and its half cycle at 1."""
            self._settle(v)
            if has_async:
                self._async(v, state)
                self._load_flops(v, state)
                self._settle(v)
            tog[:] += (v != prev).sum(axis=1)
            high[:] += v.sum(axis=1, dtype=np.int64)

        for c in range(cycles):
            prev = v.copy()
            v[self.clock_net] = 0  # falling edge: new inputs
            v[self.input_net] = stim[c]
            settle_and_count(prev)
            np.copyto(prev, v)
            v[self.clock_net] = 1  # rising edge: flops load their next state
            if self.n_flops:
                state[:] = self._table(d_ins, d_lut, v)
                self._async(v, state)
                self._load_flops(v, state)
            settle_and_count(prev)
            for p, n in zip(record or [], rec_nets, strict=True):
                outputs[p][c] = v[n]
        return SimResult(tog[:self.n_nets], high[:self.n_nets], cycles, lanes, outputs)


def _verilog_expr(e: tuple) -> str:
    op = e[0]
    if op == "port":
        return e[1]
    if op == "not":
        return f"~({_verilog_expr(e[1])})"
    if op in ("and", "or", "xor"):
        sym = {"and": "&", "or": "|", "xor": "^"}[op]
        return f"({_verilog_expr(e[1])} {sym} {_verilog_expr(e[2])})"
    return "1'b1" if op == "one" else "1'b0"


def verilog_cell_models(lib: Mapping, cell_names: list[str]) -> str:
    """Zero-delay Verilog models of Liberty cells (functions as `assign`, edge-triggered flops as
    `always @(posedge)` starting at 0, a `three_state` output `z` while its expression holds, so
    tristate drivers share a bus), so iverilog can simulate a netlist of a PDK that ships no
    simulation models — the cross-check of `GateSim`."""
    out = ["// zero-delay models written by vhflow from Liberty functions", "`timescale 1ns/1ps"]
    for name in sorted(set(cell_names)):
        cell = lib["cells"][name]
        pins = [(p, d["direction"]) for p, d in cell["pins"].items() if d.get("direction") in ("input", "output")]
        out.append(f"module {name} ({', '.join(p for p, _ in pins)});")
        out += [f"  {d} {p};" for p, d in pins]
        ff = cell.get("ff")
        if ff is not None:
            if ff.get("clear") or ff.get("preset"):
                raise SimulationError(f"{name}: flops with clear/preset have no model here")
            iq, iqn = (ff.get("names") or ["IQ", "IQN"]) + ["IQN"] * (2 - len(ff.get("names") or []))
            clk = ports(parse_function(ff["clocked_on"]))[0]
            out += [f"  reg {iq} = 1'b0;", f"  wire {iqn} = ~{iq};",
                    f"  always @(posedge {clk}) {iq} <= {_verilog_expr(parse_function(ff['next_state']))};"]
        for p, d in pins:
            fn = cell["pins"][p].get("function")
            if d == "output" and fn:
                expr = _verilog_expr(parse_function(fn.strip().strip(chr(34))))
                tri = cell["pins"][p].get("three_state")
                if tri:
                    expr = f"({_verilog_expr(parse_function(tri.strip().strip(chr(34))))}) ? 1'bz : ({expr})"
                out.append(f"  assign {p} = {expr};")
        out.append("endmodule")
    return "\n".join(out) + "\n"
