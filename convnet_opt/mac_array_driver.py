"""Cycle-exact stimulus for `designs/mac_array` (protocol in its README), from packed operands.

Why here and not in the testbench: the same program drives our gate-level simulator, iverilog
(the cross-check) and the cycle counts of the ConvNet trace, so all three agree by construction.
A *tile* is one use of the array: load ROWS weight words per column, start, stream N activation
words per row, flush COLS cycles, drain ROWS rows — `ROWS + 1 + N + COLS + ROWS` cycles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PREC_CODE = {8: 0, 4: 1, 2: 2}
MAX_WORDS = 0xFFFF


@dataclass(frozen=True)
class MacArrayShape:
    rows: int
    cols: int
    acc_w: int = 24

    def tile_cycles(self, n_words: int) -> int:
        return self.rows + 1 + n_words + self.cols + self.rows


def pack_words(values: np.ndarray, bits: int) -> np.ndarray:
    """Pack signed `bits`-bit integers along the last axis (length a multiple of 8/bits) into
    bytes, lowest lane in the lowest bits, as the PE unpacks them."""
    per = 8 // bits
    v = np.asarray(values, dtype=np.int64)
    if v.shape[-1] % per:
        raise ValueError(f"last axis {v.shape[-1]} is not a multiple of {per}")
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if v.size and (v.min() < lo or v.max() > hi):
        raise ValueError(f"values outside the signed {bits}-bit range [{lo}, {hi}]")
    v = (v & ((1 << bits) - 1)).reshape(*v.shape[:-1], v.shape[-1] // per, per)
    shifts = np.arange(per, dtype=np.int64) * bits
    return (v << shifts).sum(axis=-1).astype(np.uint8)


def tile_program(shape: MacArrayShape, weights: np.ndarray, acts: np.ndarray, prec_bits: int) -> list[dict[str, int]]:
    """Port values per cycle for one tile: `weights[r, c]` packed weight words, `acts[t, r]`
    packed activation words (N = len(acts) ≥ 1)."""
    rows, cols = shape.rows, shape.cols
    w = np.asarray(weights, dtype=np.int64)
    a = np.asarray(acts, dtype=np.int64)
    if w.shape != (rows, cols) or a.ndim != 2 or a.shape[1] != rows or not 1 <= len(a) <= MAX_WORDS:
        raise ValueError(f"tile operands of shape {w.shape} / {a.shape} do not fit a {rows}x{cols} array")
    prec = PREC_CODE[prec_bits]
    idle = {"rst": 0, "prec": prec, "w_we": 0, "w_row": 0, "w_data": 0, "start": 0, "n_words": 0, "a_data": 0}
    prog: list[dict[str, int]] = []
    for r in range(rows):
        prog.append(idle | {"w_we": 1, "w_row": r, "w_data": int(sum(int(w[r, c]) << (8 * c) for c in range(cols)))})
    prog.append(idle | {"start": 1, "n_words": len(a)})
    for t in range(len(a)):
        prog.append(idle | {"a_data": int(sum(int(a[t, r]) << (8 * r) for r in range(rows)))})
    prog += [dict(idle) for _ in range(cols + rows)]
    return prog


def reset_program(cycles: int = 2) -> list[dict[str, int]]:
    return [{"rst": 1, "prec": 0, "w_we": 0, "w_row": 0, "w_data": 0, "start": 0, "n_words": 0, "a_data": 0}
            for _ in range(cycles)]


def port_bit_matrix(program: list[dict[str, int]], inputs: list[str]) -> np.ndarray:
    """`(cycles, len(inputs))` 0/1 matrix for bit-level input names like `w_data[12]`."""
    out = np.zeros((len(program), len(inputs)), dtype=np.uint8)
    parsed = []
    for name in inputs:
        base, _, rest = name.partition("[")
        parsed.append((base, int(rest[:-1]) if rest else 0))
    for k, cyc in enumerate(program):
        for j, (base, bit) in enumerate(parsed):
            out[k, j] = (cyc.get(base, 0) >> bit) & 1
    return out


def reference_accumulators(weights: np.ndarray, acts: np.ndarray, prec_bits: int, acc_w: int) -> np.ndarray:
    """What the drain of one tile returns, `acc[r, c]` (two's complement, acc_w bits)."""
    def lanes(word: np.ndarray) -> np.ndarray:
        per = 8 // prec_bits
        x = (np.asarray(word, dtype=np.int64)[..., None] >> (np.arange(per) * prec_bits)) & ((1 << prec_bits) - 1)
        return np.where(x >= 1 << (prec_bits - 1), x - (1 << prec_bits), x)

    wl = lanes(weights)                       # rows, cols, per
    al = lanes(acts)                          # N, rows, per
    acc = np.einsum("rcp,trp->rc", wl, al)
    return acc & ((1 << acc_w) - 1)
