"""VCD reader (IEEE 1364 §18): toggle counts and time at 1 per signal bit, streaming.

Only what power needs is kept: for each bit of each variable under the selected scope, the
number of 0<->1 transitions and the time spent at 1 (x/z count as 0 and do not toggle, as
OpenSTA's `read_vcd` treats unknowns). The header is parsed line by line; the value-change
section is read in large chunks, so the file is never held in memory. Each chunk goes through a
numba-compiled line scanner (one pass, no temporaries: ~100 MB/s, 2x what the vectorised numpy
path reached) and falls back to a whitespace-token path for layouts the scanner does not take. `.gz` input is decompressed on the fly. `scope` works like OpenSTA `read_vcd -scope`:
a `/`- or `.`-separated instance path; names are returned relative to it (`u1/n3`, `data[3]`).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numba import njit

from flow.errors import FormatError
from flow.util import gc_paused

_TS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15}
_CHUNK = 1 << 24


@dataclass
class VcdActivity:
    """Per bit: `toggles[name]`, `high_time[name]` (s); `duration` (s) of the dump."""

    toggles: dict[str, int]
    high_time: dict[str, float]
    duration: float
    timescale: float
    scope: str

    def density(self, name: str) -> float:
        """Transitions per second."""
        return self.toggles[name] / self.duration if self.duration > 0 else 0.0

    def duty(self, name: str) -> float:
        return self.high_time[name] / self.duration if self.duration > 0 else 0.0


@dataclass
class _State:
    """Per-bit state carried from chunk to chunk (value -1 = x/z or not yet dumped)."""

    n: int
    val: np.ndarray = field(init=False)
    since: np.ndarray = field(init=False)
    tog: np.ndarray = field(init=False)
    high: np.ndarray = field(init=False)
    time: int = 0
    t0: int | None = None

    def __post_init__(self) -> None:
        self.val = np.full(self.n, -1, dtype=np.int8)
        self.since = np.zeros(self.n, dtype=np.int64)
        self.tog = np.zeros(self.n, dtype=np.int64)
        self.high = np.zeros(self.n, dtype=np.int64)


def _pack(code: bytes, path: Path) -> int:
    if len(code) > 8:
        raise FormatError(path, None, f"VCD id code {code!r} longer than 8 characters is not supported")
    return int.from_bytes(code.ljust(8, b"\0"), "little")


def _tokens(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) offsets of whitespace-separated tokens."""
    ws = buf <= 32  # space, tab, CR, LF (VCD text has no other control characters)
    nws = ~ws
    start = nws.copy()
    start[1:] &= ws[:-1]
    end = nws.copy()
    end[:-1] &= ws[1:]
    return np.flatnonzero(start), np.flatnonzero(end) + 1


_LEN_MASK = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def _gather_key(buf: np.ndarray, s: np.ndarray, ln: np.ndarray) -> np.ndarray:
    """Up to 8 bytes at each offset packed little-endian into uint64, masked to the length."""
    if s.size == 0:
        return np.zeros(0, dtype=np.uint64)
    pad = np.concatenate([buf, np.zeros(8, dtype=np.uint8)])
    win = np.lib.stride_tricks.as_strided(pad, shape=(buf.size + 1, 8), strides=(1, 1))
    rows = win[s]  # (n, 8) contiguous copy
    return rows.view(np.uint64).reshape(-1) & _LEN_MASK[np.clip(ln, 0, 8)]


_DENSE_CACHE: dict[int, np.ndarray] = {}


def _dense_codes(keys: np.ndarray) -> np.ndarray:
    """Index of each key by its code in base 95 when every code has ≤ 3 characters (a 3.4 MB
    table: lookups without search); empty otherwise. Cached per key array."""
    got = _DENSE_CACHE.get(id(keys))
    if got is not None and got[0] is keys:
        return got[1]
    raw = [int(k).to_bytes(8, "little").rstrip(b"\0") for k in keys.tolist()]
    dense = np.zeros(0, dtype=np.int32)
    if all(1 <= len(r) <= 3 for r in raw):
        dense = np.full(95 ** 3, -1, dtype=np.int32)
        for k, r in enumerate(raw):
            dense[sum((b - 32) * 95 ** j for j, b in enumerate(r))] = k
    _DENSE_CACHE.clear()
    _DENSE_CACHE[id(keys)] = (keys, dense)
    return dense


def _process(buf: np.ndarray, st: _State, keys: np.ndarray, first: np.ndarray, width: np.ndarray,
             path: Path) -> None:
    """Apply every value change of one chunk: the compiled line scanner first (what simulators
    write), the vectorised token path for whatever it leaves (any whitespace layout)."""
    clock = np.array([st.time, -1 if st.t0 is None else st.t0], dtype=np.int64)
    done = _scan_lines(buf, keys, _dense_codes(keys), first, width, st.val, st.since, st.tog, st.high, clock)
    st.time = int(clock[0])
    if clock[1] >= 0:
        st.t0 = int(clock[1])
    if done < buf.size:
        got = _changes_by_token(buf[done:], st, keys, first, width, path)
        if got is not None:
            _apply(st, *got)


def _expand_vectors(buf: np.ndarray, vstart: np.ndarray, vlen: np.ndarray, slot: np.ndarray, w: np.ndarray,
                    vtime: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bits of vector values (MSB first, left-extended with 0, or x/z when the value starts so)."""
    rep = np.repeat(np.arange(vstart.size), w)
    kk = np.arange(rep.size) - np.repeat(np.cumsum(w) - w, w)
    src = (vlen - w)[rep] + kk
    ext_char = buf[vstart]
    ext = np.where((ext_char == 120) | (ext_char == 122) | (ext_char == 88) | (ext_char == 90), ext_char, 48)
    ch = np.where(src >= 0, buf[vstart[rep] + np.maximum(src, 0)], ext[rep])
    b_val = np.where(ch == 49, 1, np.where(ch == 48, 0, -1)).astype(np.int8)
    return slot[rep] + kk, b_val, vtime[rep]


@njit(cache=True, nogil=True)
def _scan_lines(buf, keys, dense, first, width, val, since, tog, high, clock):  # pragma: no cover - compiled
    """Compiled fast path: apply the value changes of `buf` line by line (one change or keyword
    per line, as simulators write) straight into the per-bit state — no sort, one pass. Stops
    at the first line it does not handle and returns that offset (the caller hands the rest to
    the token path). `clock` = [current time, first time or -1]."""
    n = buf.size
    pos = 0
    nkeys = keys.size
    while pos < n:
        # line bounds
        end = pos
        while end < n and buf[end] != 10:
            end += 1
        if end == n:
            return pos  # a line without its newline: token path
        s = pos
        while s < end and (buf[s] == 32 or buf[s] == 9 or buf[s] == 13):
            s += 1
        e = end
        while e > s and (buf[e - 1] == 32 or buf[e - 1] == 9 or buf[e - 1] == 13):
            e -= 1
        if s == e:
            pos = end + 1
            continue
        c = buf[s]
        if c == 35:  # '#time'
            t = 0
            for k in range(s + 1, e):
                d = buf[k] - 48
                if d < 0 or d > 9:
                    return pos
                t = t * 10 + d
            clock[0] = t
            if clock[1] < 0:
                clock[1] = t
            pos = end + 1
            continue
        if c == 36:  # '$keyword' alone on its line
            for k in range(s, e):
                if buf[k] == 32 or buf[k] == 9:
                    return pos
            pos = end + 1
            continue
        if c == 98 or c == 66:  # 'b<bits> <code>'
            sp = s + 1
            while sp < e and buf[sp] != 32:
                sp += 1
            if sp >= e:
                return pos
            cs = sp + 1
            vlen = sp - (s + 1)
        elif c == 48 or c == 49 or c == 120 or c == 122 or c == 88 or c == 90:
            cs = s + 1
            vlen = 1
        elif c == 114 or c == 82:  # real values carry no toggles
            pos = end + 1
            continue
        else:
            return pos
        clen = e - cs
        if clen < 1 or clen > 8:
            return pos
        if dense.size and clen <= 3:  # short codes: direct table, base 95
            dv = 0
            mul = 1
            for k in range(clen):
                ch = buf[cs + k]
                if ch <= 32:
                    return pos
                dv += (ch - 32) * mul
                mul *= 95
            lo = dense[dv]
            found = lo >= 0
        else:
            key = np.uint64(0)
            for k in range(clen):
                if buf[cs + k] <= 32:
                    return pos
                key |= np.uint64(buf[cs + k]) << np.uint64(8 * k)
            lo, hi = 0, nkeys
            while lo < hi:
                mid = (lo + hi) >> 1
                if keys[mid] < key:
                    lo = mid + 1
                else:
                    hi = mid
            found = lo < nkeys and keys[lo] == key
        if found:
            w = width[lo]
            base = first[lo]
            t = clock[0]
            for b in range(w):
                if c == 98 or c == 66:
                    src = vlen - w + b  # MSB first, left-extended
                    if src >= 0:
                        ch = buf[s + 1 + src]
                    else:
                        ch0 = buf[s + 1]
                        ch = ch0 if (ch0 == 120 or ch0 == 122 or ch0 == 88 or ch0 == 90) else 48
                else:
                    ch = c
                v = 1 if ch == 49 else (0 if ch == 48 else -1)
                sig = base + b
                prev = val[sig]
                if prev >= 0 and v >= 0 and prev != v:
                    tog[sig] += 1
                if prev == 1:
                    high[sig] += t - since[sig]
                val[sig] = v
                since[sig] = t
        pos = end + 1
    return pos


def _changes_by_token(buf: np.ndarray, st: _State, keys: np.ndarray, first: np.ndarray, width: np.ndarray,
                      path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Any layout: split on whitespace, classify tokens, look codes up by packed key."""
    ts, te = _tokens(buf)
    if ts.size == 0:
        return None
    c = buf[ts]
    ln = te - ts
    is_time = c == 35
    is_vec = (c == 98) | (c == 66)
    is_real = (c == 114) | (c == 82)
    is_dollar = c == 36
    # the token after a vector/real value is its id code
    after = np.zeros(ts.size, dtype=bool)
    after[1:] = is_vec[:-1] | is_real[:-1]
    is_scal = ((c == 48) | (c == 49) | (c == 120) | (c == 122) | (c == 88) | (c == 90)) & (ln >= 2) & ~after
    if not np.all(is_time | is_vec | is_real | is_dollar | is_scal | after | (ln == 0)):
        bad = np.flatnonzero(~(is_time | is_vec | is_real | is_dollar | is_scal | after))[0]
        tok = bytes(buf[ts[bad]:te[bad]][:20])
        raise FormatError(path, None, f"unexpected token {tok!r} in the value change section")
    # timestamps
    ti = np.flatnonzero(is_time)
    tvals = np.zeros(ti.size, dtype=np.int64)
    for k in range(1, int(ln[ti].max()) if ti.size else 1):
        m = ln[ti] > k
        d = buf[ts[ti][m] + k].astype(np.int64) - 48
        if np.any((d < 0) | (d > 9)):
            raise FormatError(path, None, "bad timestamp in the value change section")
        tvals[m] = tvals[m] * 10 + d
    if ti.size and st.t0 is None:
        st.t0 = int(tvals[0])
    tcount = np.cumsum(is_time)
    tok_time = np.where(tcount > 0, tvals[np.maximum(tcount - 1, 0)] if ti.size else st.time, st.time)
    # scalar changes
    si = np.flatnonzero(is_scal)
    skey = _gather_key(buf, ts[si] + 1, ln[si] - 1)
    pos = np.clip(np.searchsorted(keys, skey), 0, keys.size - 1)
    ok = keys[pos] == skey
    s_sig = first[pos[ok]]
    cs = c[si][ok]
    s_val = np.where(cs == 49, 1, np.where(cs == 48, 0, -1)).astype(np.int8)
    s_time = tok_time[si][ok]
    # vector changes: expand to bits (MSB first), left-extend short values
    vi = np.flatnonzero(is_vec)
    vi = vi[vi + 1 < ts.size]
    idt = vi + 1
    vkey = _gather_key(buf, ts[idt], ln[idt])
    vpos = np.clip(np.searchsorted(keys, vkey), 0, max(keys.size - 1, 0))
    vok = keys[vpos] == vkey
    vi, vpos = vi[vok], vpos[vok]
    b_sig, b_val, b_time = _expand_vectors(buf, ts[vi] + 1, ln[vi] - 1, first[vpos], width[vpos], tok_time[vi])
    if ti.size:
        st.time = int(tvals[-1])
    return (np.concatenate([s_sig, b_sig]), np.concatenate([s_val, b_val]), np.concatenate([s_time, b_time]))


def _apply(st: _State, sig: np.ndarray, val: np.ndarray, tim: np.ndarray) -> None:
    """Toggles and time at 1 from the chunk's changes, grouped by signal in token order."""
    # a signal is either scalar or a vector bit, so its changes come from one of the two lists,
    # already in file order: a stable sort on the signal index groups them (radix sort when the
    # index fits 16 bits)
    skey_sig = sig.astype(np.uint16) if st.n <= 65536 else sig
    order = np.argsort(skey_sig, kind="stable")
    sig, val, tim = sig[order], val[order], tim[order]
    if sig.size:
        new_grp = np.ones(sig.size, dtype=bool)
        new_grp[1:] = sig[1:] != sig[:-1]
        prev_val = np.empty_like(val)
        prev_val[1:] = val[:-1]
        prev_val[new_grp] = st.val[sig[new_grp]]
        prev_t = np.empty_like(tim)
        prev_t[1:] = tim[:-1]
        prev_t[new_grp] = st.since[sig[new_grp]]
        toggled = (prev_val >= 0) & (val >= 0) & (prev_val != val)
        st.tog += np.bincount(sig[toggled], minlength=st.n)
        hi = prev_val == 1
        st.high += np.bincount(sig[hi], weights=(tim - prev_t)[hi], minlength=st.n).astype(np.int64)
        last = np.ones(sig.size, dtype=bool)
        last[:-1] = sig[1:] != sig[:-1]
        st.val[sig[last]] = val[last]
        st.since[sig[last]] = tim[last]


def _open(path: Path) -> BinaryIO:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115 - returned to the caller's `with`


def _bits(ref: str, size: int) -> list[str]:
    """Bit names of a `$var` reference: `d [3:0]` -> d[3], d[2], ...; scalars keep their name."""
    ref = ref.replace(" ", "")
    if "[" in ref and ref.endswith("]"):
        base, rng = ref[:-1].split("[", 1)
        if ":" in rng:
            hi, lo = (int(x) for x in rng.split(":"))
            step = -1 if hi >= lo else 1
            return [f"{base}[{i}]" for i in range(hi, lo + step, step)]
        return [ref]
    if size == 1:
        return [ref]
    return [f"{ref}[{i}]" for i in range(size - 1, -1, -1)]


@gc_paused
def read_vcd(path: str | Path, scope: str | None = None) -> VcdActivity:
    """Toggle counts and time-at-1 of every bit under `scope` (all scopes when None)."""
    path = Path(path)
    want = [s for s in (scope or "").replace(".", "/").split("/") if s]
    try:
        fh = _open(path)
    except OSError as exc:
        raise FormatError(path, None, f"cannot read VCD: {exc.strerror}") from None
    with fh:
        timescale = 1e-9
        stack: list[str] = []
        seen_scopes: set[str] = set()
        bits_of: dict[bytes, list[int]] = {}  # id code -> its state slots (MSB first)
        names: list[str] = []
        name_slot: list[int] = []  # a name's bit -> slot; aliases (one id code) share slots
        n_slots = 0
        lineno = 0
        header: list[str] = []
        # ---- header, statement by statement
        while True:
            raw = fh.readline()
            if not raw:
                raise FormatError(path, lineno, "no $enddefinitions: not a VCD file or truncated")
            lineno += 1
            header.append(raw.decode("utf-8", "replace"))
            text = " ".join(header)
            if "$end" not in text and "$enddefinitions" not in text:
                continue
            toks = text.split()
            header = []
            if not toks:
                continue
            kw = toks[0]
            if kw == "$timescale":
                spec = "".join(toks[1:-1])
                num = "".join(ch for ch in spec if ch.isdigit()) or "1"
                unit = spec[len(num):].strip()
                if unit not in _TS:
                    raise FormatError(path, lineno, f"bad $timescale {spec!r}")
                timescale = int(num) * _TS[unit]
            elif kw == "$scope":
                if len(toks) < 3:
                    raise FormatError(path, lineno, "bad $scope")
                stack.append(toks[2])
                seen_scopes.add("/".join(stack))
            elif kw == "$upscope":
                if not stack:
                    raise FormatError(path, lineno, "$upscope without $scope")
                stack.pop()
            elif kw == "$var":
                if len(toks) < 5:
                    raise FormatError(path, lineno, "bad $var")
                try:
                    size = int(toks[2])
                except ValueError:
                    raise FormatError(path, lineno, f"bad $var size {toks[2]!r}") from None
                code = toks[3].encode()
                ref = " ".join(toks[4:-1])
                if want and stack[:len(want)] != want:
                    continue
                rel = "/".join(stack[len(want):] + [ref.split()[0]])
                bits = _bits(rel if " " not in ref else rel + ref.split(" ", 1)[1], size)
                if len(bits) != size:
                    bits = [f"{rel}[{i}]" for i in range(size - 1, -1, -1)] if size > 1 else [rel]
                if code not in bits_of:
                    bits_of[code] = list(range(n_slots, n_slots + len(bits)))
                    n_slots += len(bits)
                elif len(bits_of[code]) != len(bits):
                    raise FormatError(path, lineno, f"id code {toks[3]} reused with width {size} "
                                      f"(first declared with {len(bits_of[code])})")
                names.extend(bits)
                name_slot.extend(bits_of[code])
            elif kw == "$enddefinitions":
                break
        if want and "/".join(want) not in seen_scopes:
            tops = sorted(s for s in seen_scopes if s.count("/") <= 1)[:8]
            raise FormatError(path, None, f"scope {'/'.join(want)!r} not in the VCD (scopes: {', '.join(tops)})")
        if not names:
            raise FormatError(path, None, "no variables under the selected scope")
        n = n_slots
        # bit tables indexed by id code (packed into uint64, up to 8 characters)
        code_keys = np.array([_pack(c, path) for c in bits_of], dtype=np.uint64)
        korder = np.argsort(code_keys)
        code_keys = code_keys[korder]
        code_list = [bits_of[c] for c in bits_of]
        first = np.array([code_list[k][0] for k in korder], dtype=np.int64)
        width = np.array([len(code_list[k]) for k in korder], dtype=np.int64)
        st = _State(n)
        tail = b""
        while True:
            chunk = fh.read(_CHUNK)
            data = tail + chunk
            if chunk:
                cut = data.rfind(b"\n")
                if cut < 0:
                    tail = data
                    continue
                body, tail = data[:cut + 1], data[cut + 1:]
            else:
                body, tail = data, b""
            if body:
                _process(np.frombuffer(body, dtype=np.uint8), st, code_keys, first, width, path)
            if not chunk:
                break
        t = st.time
        high = st.high + np.where(st.val == 1, t - st.since, 0)
        start = st.t0 if st.t0 is not None else 0
        duration = (t - start) * timescale
        slot = np.asarray(name_slot, dtype=np.int64)
        tog = st.tog[slot].tolist()
        high = high[slot].tolist()
        return VcdActivity(dict(zip(names, tog, strict=False)), {nm: h * timescale for nm, h in zip(names, high, strict=False)},
                           duration, timescale, "/".join(want))
