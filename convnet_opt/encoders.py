"""Weight encoders, each with a decoder; sizes are measured by really encoding.

Values are quantised integers of `bits` bits (two's complement). Formats:
* `dense`: bit-packed values.
* `lz4`: LZ4 block (the `lz4` package; the encoder EAST targets) over the bit-packed values.
* `rle`: zero run-lengths — (zeros before, value) byte pairs; a run over 255 emits (255, 0).
* `csr`: per row (output channel) pointers and column indices at the minimal bit widths, plus
  the non-zero values bit-packed.
* `bitmap`: one bit per weight (non-zero mask) plus the non-zero values bit-packed.
* `huffman`: canonical Huffman over the values, with its code-length table.
Every stream starts with a 4-byte element count (and CSR with its row count).
"""

from __future__ import annotations

import heapq
import math
import struct
from collections import Counter

import numpy as np

ENCODERS = ("dense", "lz4", "rle", "csr", "bitmap", "huffman")


def pack_bits(values: np.ndarray, bits: int) -> bytes:
    v = np.asarray(values, dtype=np.int64).ravel() & ((1 << bits) - 1)
    if v.size == 0:
        return b""
    shifts = np.arange(bits, dtype=np.int64)
    b = ((v[:, None] >> shifts[None, :]) & 1).astype(np.uint8).ravel()
    return np.packbits(b, bitorder="little").tobytes()


def unpack_bits(data: bytes, n: int, bits: int, signed: bool = True) -> np.ndarray:
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    b = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")[: n * bits].reshape(n, bits)
    v = (b.astype(np.int64) << np.arange(bits, dtype=np.int64)[None, :]).sum(axis=1)
    if signed:
        v = np.where(v >= 1 << (bits - 1), v - (1 << bits), v)
    return v


def _width(n: int) -> int:
    return max(1, math.ceil(math.log2(n + 1)))


def encode(name: str, q: np.ndarray, bits: int) -> bytes:
    q = np.asarray(q, dtype=np.int64)
    flat = q.ravel()
    head = struct.pack("<I", flat.size)
    if name == "dense":
        return head + pack_bits(flat, bits)
    if name == "lz4":
        import lz4.block

        return head + lz4.block.compress(pack_bits(flat, bits), store_size=False, mode="high_compression")
    if name == "rle":
        out = bytearray()
        run = 0
        for v in flat.tolist():
            if v == 0:
                run += 1
                if run == 256:
                    out += bytes([255, 0])
                    run = 0
                continue
            out += bytes([run, v & 0xFF])
            run = 0
        return head + bytes(out)
    if name == "csr":
        rows = q.shape[0] if q.ndim > 1 else 1
        m = flat.reshape(rows, -1)
        nz_r, nz_c = np.nonzero(m)
        ptr = np.concatenate([[0], np.cumsum(np.bincount(nz_r, minlength=rows))])
        wp, wc = _width(int(ptr[-1])), _width(m.shape[1] - 1)
        return (head + struct.pack("<IBB", rows, wp, wc) + pack_bits(ptr, wp) + pack_bits(nz_c, wc)
                + pack_bits(m[nz_r, nz_c], bits))
    if name == "bitmap":
        mask = flat != 0
        return head + np.packbits(mask.astype(np.uint8), bitorder="little").tobytes() + pack_bits(flat[mask], bits)
    if name == "huffman":
        lengths = huffman_lengths(Counter(flat.tolist()))
        codes = canonical_codes(lengths)
        table = struct.pack("<H", len(lengths)) + b"".join(struct.pack("<bB", s, ln) for s, ln in sorted(lengths.items()))
        bitstr = "".join(codes[v] for v in flat.tolist())
        nb = len(bitstr)
        payload = int(bitstr[::-1], 2).to_bytes((nb + 7) // 8, "little") if nb else b""
        return head + table + struct.pack("<I", nb) + payload
    raise ValueError(f"unknown encoder {name!r} (known: {', '.join(ENCODERS)})")


def decode(name: str, data: bytes, shape: tuple[int, ...], bits: int) -> np.ndarray:
    (n,) = struct.unpack_from("<I", data)
    body = data[4:]
    if name == "dense":
        flat = unpack_bits(body, n, bits)
    elif name == "lz4":
        import lz4.block

        flat = unpack_bits(lz4.block.decompress(body, uncompressed_size=(n * bits + 7) // 8), n, bits)
    elif name == "rle":
        out: list[int] = []
        for i in range(0, len(body), 2):
            out += [0] * body[i]
            v = body[i + 1]
            out.append(v - 256 if v >= 128 else v)
        flat = np.array(out + [0] * (n - len(out)), dtype=np.int64)
    elif name == "csr":
        rows, wp, wc = struct.unpack_from("<IBB", body)
        off = 6
        ptr = unpack_bits(body[off:], rows + 1, wp, signed=False)
        off += ((rows + 1) * wp + 7) // 8
        nnz = int(ptr[-1])
        cols = unpack_bits(body[off:], nnz, wc, signed=False)
        off += (nnz * wc + 7) // 8
        vals = unpack_bits(body[off:], nnz, bits)
        m = np.zeros((rows, n // rows), dtype=np.int64)
        m[np.repeat(np.arange(rows), np.diff(ptr)), cols] = vals
        flat = m.ravel()
    elif name == "bitmap":
        mask = np.unpackbits(np.frombuffer(body[: (n + 7) // 8], dtype=np.uint8), bitorder="little")[:n].astype(bool)
        flat = np.zeros(n, dtype=np.int64)
        flat[mask] = unpack_bits(body[(n + 7) // 8:], int(mask.sum()), bits)
    elif name == "huffman":
        (count,) = struct.unpack_from("<H", body)
        lengths = {}
        for i in range(count):
            s, ln = struct.unpack_from("<bB", body, 2 + 2 * i)
            lengths[s] = ln
        off = 2 + 2 * count
        (nb,) = struct.unpack_from("<I", body, off)
        payload = int.from_bytes(body[off + 4:], "little")
        bitstr = format(payload, "b").zfill(nb)[::-1][:nb] if nb else ""
        inverse = {c: s for s, c in canonical_codes(lengths).items()}
        out, cur = [], ""
        for ch in bitstr:
            cur += ch
            if cur in inverse:
                out.append(inverse[cur])
                cur = ""
        flat = np.array(out, dtype=np.int64)
    else:
        raise ValueError(f"unknown encoder {name!r}")
    return flat.reshape(shape)


def huffman_lengths(freq: Counter) -> dict[int, int]:
    if len(freq) == 1:
        return {next(iter(freq)): 1}
    heap = [(f, i, [s]) for i, (s, f) in enumerate(sorted(freq.items()))]
    heapq.heapify(heap)
    depth = dict.fromkeys(freq, 0)
    k = len(heap)
    while len(heap) > 1:
        f1, _, s1 = heapq.heappop(heap)
        f2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            depth[s] += 1
        heapq.heappush(heap, (f1 + f2, k, s1 + s2))
        k += 1
    return depth


def canonical_codes(lengths: dict[int, int]) -> dict[int, str]:
    code, prev = 0, 0
    out = {}
    for s, ln in sorted(lengths.items(), key=lambda t: (t[1], t[0])):
        code <<= ln - prev
        out[s] = format(code, f"0{ln}b")
        code += 1
        prev = ln
    return out
