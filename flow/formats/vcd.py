"""VCD reader (IEEE 1364-2005 §18): transitions and time at 1 per signal bit, streaming.

What power needs is kept: for each bit of each variable under the selected scope, the number
of transitions and the time spent at 1, counted as OpenSTA 3.1 `read_vcd` does — a change
between 0 and 1 is one transition, a change to or from x/z half of one, the first value of a
bit is no transition, and the dump lasts from the first to the last timestamp.

Header: every declaration keyword (`$date`, `$version`, `$comment`, `$timescale` with 1/10/100
and s…fs, `$scope` of any type, `$upscope`, `$var` of any type incl. `real`, `realtime`,
`parameter`, `event`, escaped identifiers `\\a.b ` and bit selects), several per line or one
split over lines. Value changes: scalars `0 1 x X z Z` (and `u`, treated as x), vectors
`b…`/`B…` left-extended per §18.2.1 (0 for a leading 0/1, else the leading x/z), reals
`r…`/`R…` (no bits), `$comment … $end` anywhere, `$dumpvars`/`$dumpall`/`$dumpon`/`$dumpoff`
blocks (their values are values; `$dumpoff`'s x's count as the x they are, as OpenSTA).

The value-change section is read in large chunks and never held in memory. Each chunk goes
through a numba-compiled line scanner (one change per line, as simulators write: the fast
path) and whatever it does not take through a vectorised whitespace-token path (any layout:
the complete path). `.gz` input is decompressed on the fly. Malformed input raises
`FormatError` with file and line. `scope` works like `read_vcd -scope`: a `/`- or `.`-separated
instance path; names are returned relative to it (`u1/n3`, `data[3]`).
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numba import njit

from flow.errors import FormatError
from flow.util import gc_paused

_TS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15}
_CHUNK = 1 << 24
_NO_BITS = ("real", "realtime", "event")  # variables without bit values
_COMMENT = re.compile(rb"\$comment\b.*?\$end\b", re.S)


@dataclass
class VcdActivity:
    """Per bit: `toggles[name]` (transitions, x/z changes count ½), `high_time[name]` (s);
    `duration` (s) of the dump; `kinds[name]` the `$var` type (wire, reg, integer, ...)."""

    toggles: dict[str, float]
    high_time: dict[str, float]
    duration: float
    timescale: float
    scope: str
    kinds: dict[str, str] = field(default_factory=dict)

    def density(self, name: str) -> float:
        """Transitions per second."""
        return self.toggles[name] / self.duration if self.duration > 0 else 0.0

    def duty(self, name: str) -> float:
        return self.high_time[name] / self.duration if self.duration > 0 else 0.0


@dataclass
class _State:
    """Per-bit state carried from chunk to chunk: value -1 not yet dumped, 0, 1, 2 = x, 3 = z;
    transitions in halves (`tog2`)."""

    n: int
    val: np.ndarray = field(init=False)
    since: np.ndarray = field(init=False)
    tog2: np.ndarray = field(init=False)
    high: np.ndarray = field(init=False)
    time: int = 0
    t0: int | None = None

    def __post_init__(self) -> None:
        self.val = np.full(self.n, -1, dtype=np.int8)
        self.since = np.zeros(self.n, dtype=np.int64)
        self.tog2 = np.zeros(self.n, dtype=np.int64)
        self.high = np.zeros(self.n, dtype=np.int64)


def _pack(code: bytes, path: Path, line: int) -> int:
    if len(code) > 8:
        raise FormatError(path, line, f"VCD id code {code[:20]!r} longer than 8 characters is not supported")
    return int.from_bytes(code.ljust(8, b"\0"), "little")


def _tokens(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) offsets of whitespace-separated tokens."""
    ws = buf <= 32  # space, tab, CR, LF and other control characters
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
    key = rows.view(np.uint64).reshape(-1) & _LEN_MASK[np.clip(ln, 0, 8)]
    return np.where(ln > 8, np.uint64(0), key)  # longer tokens name no declared code


_DENSE_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _dense_codes(keys: np.ndarray) -> np.ndarray:
    """Index of each key by its code in base 95 when every code has ≤ 3 characters (a 3.4 MB
    table: lookups without search); empty otherwise. Cached per key array."""
    got = _DENSE_CACHE.get(id(keys))
    if got is not None and got[0] is keys:
        return got[1]
    raw = [int(k).to_bytes(8, "little").rstrip(b"\0") for k in keys.tolist()]
    dense = np.zeros(0, dtype=np.int32)
    if all(1 <= len(r) <= 3 and min(r) > 32 and max(r) < 127 for r in raw):
        dense = np.full(95 ** 3, -1, dtype=np.int32)
        for k, r in enumerate(raw):
            dense[sum((b - 32) * 95 ** j for j, b in enumerate(r))] = k
    _DENSE_CACHE.clear()
    _DENSE_CACHE[id(keys)] = (keys, dense)
    return dense


# value character -> code (-1: not a value character)
_VAL = np.full(256, -1, dtype=np.int8)
for _ch, _v in ((b"0", 0), (b"1", 1), (b"x", 2), (b"X", 2), (b"u", 2), (b"U", 2), (b"z", 3), (b"Z", 3)):
    _VAL[_ch[0]] = _v


def _process(buf: np.ndarray, st: _State, keys: np.ndarray, first: np.ndarray, width: np.ndarray,
             path: Path, line0: int) -> int:
    """Apply every value change of one chunk (starting at file line `line0`): the compiled line
    scanner first, the vectorised token path for whatever it leaves. Returns its line count."""
    clock = np.array([st.time, -1 if st.t0 is None else st.t0], dtype=np.int64)
    done, lines = _scan_lines(buf, keys, _dense_codes(keys), first, width, st.val, st.since, st.tog2, st.high,
                              clock, _VAL)
    st.time = int(clock[0])
    if clock[1] >= 0:
        st.t0 = int(clock[1])
    if done < buf.size:
        got = _changes_by_token(buf[done:], st, keys, first, width, path, line0 + int(lines))
        if got is not None:
            _apply(st, *got)
        return int(lines) + int(np.count_nonzero(buf[done:] == 10))
    return int(lines)


@njit(cache=True, inline="always")
def _blank(ch):  # pragma: no cover - compiled
    """Space, tab or CR: what may surround a change on its line."""
    return ch == 32 or ch == 9 or ch == 13


@njit(cache=True, nogil=True)
def _scan_lines(buf, keys, dense, first, width, val, since, tog2, high, clock, vmap):  # pragma: no cover - compiled
    """Compiled fast path: apply the value changes of `buf` line by line (one change, time or
    keyword per line, as simulators write) straight into the per-bit state — one pass over the
    bytes, no sort. Stops at the first line it does not handle and returns (that offset, lines
    before it); the caller hands the rest to the token path, which also reports errors.
    `clock` = [current time, first time or -1]."""
    n = buf.size
    pos = 0
    lines = 0
    nkeys = keys.size
    while pos < n:
        s = pos
        while s < n and _blank(buf[s]):
            s += 1
        if s == n:
            return pos, lines  # a line without its newline: token path
        c = buf[s]
        if c == 10:
            pos = s + 1
            lines += 1
            continue
        if c == 35:  # '#time'
            k = s + 1
            t = 0
            while k < n and 48 <= buf[k] <= 57 and k - s <= 18:
                t = t * 10 + (buf[k] - 48)
                k += 1
            if k == s + 1:
                return pos, lines
            while k < n and _blank(buf[k]):
                k += 1
            if k == n or buf[k] != 10:
                return pos, lines  # more than 18 digits, or something after them
            if t < clock[0] and clock[1] >= 0:
                return pos, lines  # time going backwards: the token path reports it
            clock[0] = t
            if clock[1] < 0:
                clock[1] = t
            pos = k + 1
            lines += 1
            continue
        if c == 36:  # '$dumpvars' / '$end' ... alone on its line
            k = s + 1
            while k < n and buf[k] > 32:
                k += 1
            while k < n and _blank(buf[k]):
                k += 1
            if k == n or buf[k] != 10:
                return pos, lines
            pos = k + 1
            lines += 1
            continue
        is_vec = c == 98 or c == 66
        if is_vec:  # 'b<bits> <code>'
            sp = s + 1
            while sp < n and vmap[buf[sp]] >= 0:
                sp += 1
            if sp == s + 1 or sp == n or not (buf[sp] == 32 or buf[sp] == 9):
                return pos, lines
            vlen = sp - (s + 1)
            cs = sp + 1
            while cs < n and (buf[cs] == 32 or buf[cs] == 9):
                cs += 1
        elif vmap[c] >= 0:
            cs = s + 1
            vlen = 1
        elif c == 114 or c == 82:  # real values carry no bits: 'r<value> <code>'
            k = s + 1
            sp = -1
            while k < n and buf[k] != 10:
                if sp < 0 and (buf[k] == 32 or buf[k] == 9):
                    sp = k
                k += 1
            if k == n:
                return pos, lines
            e = k
            while e > s and _blank(buf[e - 1]):
                e -= 1
            if sp < 0 or sp >= e:
                return pos, lines
            pos = k + 1
            lines += 1
            continue
        else:
            return pos, lines
        ce = cs
        while ce < n and buf[ce] > 32:
            ce += 1
        clen = ce - cs
        k = ce
        while k < n and _blank(buf[k]):
            k += 1
        if clen < 1 or clen > 8 or k == n or buf[k] != 10:
            return pos, lines
        if dense.size and clen <= 3:  # short codes: direct table, base 95
            dv = 0
            mul = 1
            ok = True
            for j in range(clen):
                ch = buf[cs + j]
                if ch > 126:
                    ok = False
                dv += (ch - 32) * mul
                mul *= 95
            lo = dense[dv] if ok else -1
            found = lo >= 0
        else:
            key = np.uint64(0)
            for j in range(clen):
                key |= np.uint64(buf[cs + j]) << np.uint64(8 * j)
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
            if is_vec:
                v0 = vmap[buf[s + 1]]
                ext = v0 if v0 >= 2 else 0
            for b in range(w):
                if is_vec:
                    src = vlen - w + b  # MSB first, left-extended (§18.2.1)
                    v = vmap[buf[s + 1 + src]] if src >= 0 else ext
                else:
                    v = vmap[c]
                sig = base + b
                prev = val[sig]
                if prev != v:
                    if prev >= 0:
                        tog2[sig] += 2 if (prev < 2 and v < 2) else 1
                    if prev == 1:
                        high[sig] += t - since[sig]
                    val[sig] = v
                    since[sig] = t
        pos = k + 1
        lines += 1
    return pos, lines


def _line_of(buf: np.ndarray, offset: int, line0: int) -> int:
    return line0 + int(np.count_nonzero(buf[:offset] == 10))


def _changes_by_token(buf: np.ndarray, st: _State, keys: np.ndarray, first: np.ndarray, width: np.ndarray,
                      path: Path, line0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
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
    is_vec &= ~after
    is_real &= ~after
    is_time &= ~after
    is_dollar &= ~after
    is_scal = (_VAL[c] >= 0) & (ln >= 2) & ~after
    good = is_time | is_vec | is_real | is_dollar | is_scal | after
    dangling = np.flatnonzero((is_vec | is_real) & (np.arange(ts.size) == ts.size - 1))
    if not np.all(good) or dangling.size:
        bad = int(np.flatnonzero(~good)[0]) if not np.all(good) else int(dangling[0])
        tok = bytes(buf[ts[bad]:te[bad]][:20])
        what = "value without an id code" if good[bad] else "unexpected token"
        raise FormatError(path, _line_of(buf, int(ts[bad]), line0), f"{what} {tok!r} in the value change section")
    # timestamps
    ti = np.flatnonzero(is_time)
    tvals = np.zeros(ti.size, dtype=np.int64)
    if ti.size:
        if int(ln[ti].max()) > 19 or int(ln[ti].min()) < 2:
            k = int(ti[np.flatnonzero((ln[ti] > 19) | (ln[ti] < 2))[0]])
            raise FormatError(path, _line_of(buf, int(ts[k]), line0), f"bad timestamp {bytes(buf[ts[k]:te[k]][:24])!r}")
        for k in range(1, int(ln[ti].max())):
            m = ln[ti] > k
            d = buf[ts[ti][m] + k].astype(np.int64) - 48
            if np.any((d < 0) | (d > 9)):
                j = int(ti[m][np.flatnonzero((d < 0) | (d > 9))[0]])
                raise FormatError(path, _line_of(buf, int(ts[j]), line0), f"bad timestamp {bytes(buf[ts[j]:te[j]][:24])!r}")
            tvals[m] = tvals[m] * 10 + d
        prev = np.concatenate([[st.time if st.t0 is not None else tvals[0]], tvals[:-1]])
        back = np.flatnonzero(tvals < prev)
        if back.size:
            j = int(ti[back[0]])
            raise FormatError(path, _line_of(buf, int(ts[j]), line0),
                              f"time #{int(tvals[back[0]])} goes back (previous #{int(prev[back[0]])})")
        if st.t0 is None:
            st.t0 = int(tvals[0])
    tcount = np.cumsum(is_time)
    tok_time = np.where(tcount > 0, tvals[np.maximum(tcount - 1, 0)] if ti.size else st.time, st.time)
    # vector values must be made of value characters
    vi = np.flatnonzero(is_vec)
    if vi.size:
        lens = ln[vi] - 1
        rep = np.repeat(vi, np.maximum(lens, 0))
        offs = np.arange(rep.size) - np.repeat(np.cumsum(lens) - lens, lens)
        chars = buf[ts[rep] + 1 + offs]
        badv = np.flatnonzero(_VAL[chars] < 0)
        empty = np.flatnonzero(lens < 1)
        if badv.size or empty.size:
            j = int(rep[badv[0]]) if badv.size else int(vi[empty[0]])
            raise FormatError(path, _line_of(buf, int(ts[j]), line0),
                              f"bad vector value {bytes(buf[ts[j]:te[j]][:24])!r}")
    # scalar changes
    si = np.flatnonzero(is_scal)
    skey = _gather_key(buf, ts[si] + 1, ln[si] - 1)
    pos = np.clip(np.searchsorted(keys, skey), 0, keys.size - 1)
    ok = keys[pos] == skey
    s_sig = first[pos[ok]]
    s_val = _VAL[c[si][ok]]
    s_time = tok_time[si][ok]
    # vector changes: expand to bits (MSB first), left-extend short values
    idt = vi + 1
    vkey = _gather_key(buf, ts[idt], ln[idt])
    vpos = np.clip(np.searchsorted(keys, vkey), 0, max(keys.size - 1, 0))
    vok = keys[vpos] == vkey
    vi, vpos = vi[vok], vpos[vok]
    b_sig, b_val, b_time = _expand_vectors(buf, ts[vi] + 1, ln[vi] - 1, first[vpos], width[vpos], tok_time[vi])
    if ti.size:
        st.time = int(tvals[-1])
    return (np.concatenate([s_sig, b_sig]), np.concatenate([s_val, b_val]).astype(np.int8),
            np.concatenate([s_time, b_time]))


def _expand_vectors(buf: np.ndarray, vstart: np.ndarray, vlen: np.ndarray, slot: np.ndarray, w: np.ndarray,
                    vtime: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bits of vector values (MSB first, left-extended with 0, or x/z when the value starts so)."""
    rep = np.repeat(np.arange(vstart.size), w)
    kk = np.arange(rep.size) - np.repeat(np.cumsum(w) - w, w)
    src = (vlen - w)[rep] + kk
    lead = _VAL[buf[vstart]]
    ext = np.where(lead >= 2, lead, 0).astype(np.int8)
    b_val = np.where(src >= 0, _VAL[buf[vstart[rep] + np.maximum(src, 0)]], ext[rep]).astype(np.int8)
    return slot[rep] + kk, b_val, vtime[rep]


def _apply(st: _State, sig: np.ndarray, val: np.ndarray, tim: np.ndarray) -> None:
    """Transitions and time at 1 from the chunk's changes, grouped by signal in token order."""
    # a signal is either scalar or a vector bit, so its changes come from one of the two lists,
    # already in file order: a stable sort on the signal index groups them
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
        changed = (prev_val >= 0) & (prev_val != val)
        weight = np.where((prev_val < 2) & (val < 2), 2, 1)
        st.tog2 += np.bincount(sig[changed], weights=weight[changed], minlength=st.n).astype(np.int64)
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


def _unescape(name: str) -> str:
    """A Verilog escaped identifier (`\\a.b[3]`) is the name without its backslash."""
    return name[1:] if name.startswith("\\") else name


_RANGE = re.compile(r"^\[\s*(-?\d+)\s*(?::\s*(-?\d+)\s*)?\]$")


def _bits(ref: str, select: str, size: int) -> list[str]:
    """Bit names of a `$var`: `d [3:0]` -> d[3] … d[0]; `d [5]` -> d[5]; scalars keep their name;
    a vector without a range is numbered size-1 … 0."""
    if not select and not ref.startswith("\\") and ref.endswith("]") and "[" in ref:
        ref, select = ref[:ref.index("[")], ref[ref.index("["):]
    ref = _unescape(ref)
    m = _RANGE.match(select.replace(" ", "")) if select else None
    if m is not None:
        hi = int(m.group(1))
        lo = int(m.group(2)) if m.group(2) is not None else hi
        step = -1 if hi >= lo else 1
        bits = [f"{ref}[{i}]" for i in range(hi, lo + step, step)]
        if len(bits) == size:
            return bits
    elif select:
        ref = ref + select.replace(" ", "")
    if size == 1:
        return [ref]
    return [f"{ref}[{i}]" for i in range(size - 1, -1, -1)]


_MAX_WIDTH = 1 << 16


@dataclass
class _Header:
    timescale: float = 1e-9
    stack: list[str] = field(default_factory=list)
    seen_scopes: set[str] = field(default_factory=set)
    bits_of: dict[bytes, list[int]] = field(default_factory=dict)  # id code -> state slots (MSB first)
    names: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    name_slot: list[int] = field(default_factory=list)  # a name's bit -> slot; aliases share slots
    n_slots: int = 0


def _statement(h: _Header, kw: str, args: list[str], want: list[str], path: Path, line: int) -> None:
    """Apply one header statement."""
    if kw == "$timescale":
        spec = "".join(args)
        m = re.fullmatch(r"(1|10|100)(s|ms|us|ns|ps|fs)", spec)
        if m is None:
            raise FormatError(path, line, f"bad $timescale {spec!r} (1, 10 or 100 s/ms/us/ns/ps/fs)")
        h.timescale = int(m.group(1)) * _TS[m.group(2)]
    elif kw == "$scope":
        if len(args) < 2:
            raise FormatError(path, line, "bad $scope (expected: $scope <type> <name> $end)")
        h.stack.append(_unescape(args[1]))
        h.seen_scopes.add("/".join(h.stack))
    elif kw == "$upscope":
        if not h.stack:
            raise FormatError(path, line, "$upscope without $scope")
        h.stack.pop()
    elif kw == "$var":
        if len(args) < 4:
            raise FormatError(path, line, "bad $var (expected: $var <type> <size> <id> <name> $end)")
        kind = args[0]
        try:
            size = int(args[1])
        except ValueError:
            raise FormatError(path, line, f"bad $var size {args[1]!r}") from None
        if not 0 < size <= _MAX_WIDTH:
            raise FormatError(path, line, f"$var size {size} out of range (1..{_MAX_WIDTH})")
        code = args[2].encode()
        _pack(code, path, line)  # checks the length
        if kind in _NO_BITS or (want and h.stack[:len(want)] != want):
            return
        rel = "/".join(h.stack[len(want):])
        bits = _bits(args[3], " ".join(args[4:]), size)
        if rel:
            bits = [f"{rel}/{b}" for b in bits]
        if code not in h.bits_of:
            h.bits_of[code] = list(range(h.n_slots, h.n_slots + size))
            h.n_slots += size
        elif len(h.bits_of[code]) != size:
            raise FormatError(path, line, f"id code {args[2]} reused with width {size} "
                              f"(first declared with {len(h.bits_of[code])})")
        h.names.extend(bits)
        h.kinds.extend([kind] * size)
        h.name_slot.extend(h.bits_of[code])
    # $date, $version, $comment and vendor statements carry nothing power needs


_TOKEN = re.compile(rb"\S+")


def _read_header(fh: BinaryIO, want: list[str], path: Path) -> tuple[_Header, bytes, int]:
    """Declarations up to `$enddefinitions $end`: (header, the rest of that line, its line number)."""
    h = _Header()
    kw: str | None = None
    kw_line = 0
    args: list[str] = []
    lineno = 0
    while True:
        raw = fh.readline()
        if not raw:
            where = f" in {kw} from line {kw_line}" if kw else ""
            raise FormatError(path, lineno or None, f"no $enddefinitions{where}: not a VCD file or truncated")
        lineno += 1
        for m in _TOKEN.finditer(raw):
            tok = m.group().decode("utf-8", "replace")
            if kw is None:
                if not tok.startswith("$"):
                    raise FormatError(path, lineno, f"unexpected {tok[:20]!r} in the VCD header (expected a $keyword)")
                kw, kw_line, args = tok, lineno, []
                continue
            if tok != "$end":
                args.append(tok)
                if len(args) > 1_000_000:
                    raise FormatError(path, kw_line, f"{kw} without $end")
                continue
            if kw == "$enddefinitions":
                return h, raw[m.end():], lineno
            _statement(h, kw, args, want, path, kw_line)
            kw = None


@gc_paused
def read_vcd(path: str | Path, scope: str | None = None) -> VcdActivity:
    """Transitions and time-at-1 of every bit under `scope` (all scopes when None)."""
    path = Path(path)
    want = [_unescape(s) for s in (scope or "").replace(".", "/").split("/") if s]
    try:
        fh = _open(path)
    except OSError as exc:
        raise FormatError(path, None, f"cannot read VCD: {exc.strerror}") from None
    try:
        with fh:
            return _read(fh, want, path)
    except (OSError, EOFError, zlib.error) as exc:  # corrupt gzip stream or I/O error mid-file
        raise FormatError(path, None, f"cannot read VCD: {exc}") from None


def _read(fh: BinaryIO, want: list[str], path: Path) -> VcdActivity:
    h, rest, lineno = _read_header(fh, want, path)
    if want and "/".join(want) not in h.seen_scopes:
        tops = sorted(s for s in h.seen_scopes if s.count("/") <= 1)[:8]
        raise FormatError(path, None, f"scope {'/'.join(want)!r} not in the VCD (scopes: {', '.join(tops)})")
    if not h.names:
        raise FormatError(path, None, "no variables under the selected scope")
    # bit tables indexed by id code (packed into uint64, up to 8 characters)
    codes = list(h.bits_of)
    code_keys = np.array([_pack(c, path, lineno) for c in codes], dtype=np.uint64)
    korder = np.argsort(code_keys)
    code_keys = code_keys[korder]
    first = np.array([h.bits_of[codes[k]][0] for k in korder], dtype=np.int64)
    width = np.array([len(h.bits_of[codes[k]]) for k in korder], dtype=np.int64)
    st = _State(h.n_slots)
    tail = rest
    line0 = lineno
    while True:
        chunk = fh.read(_CHUNK)
        data = tail + chunk if tail else chunk
        if chunk:
            cut = data.rfind(b"\n")
            if cut < 0:
                tail = data
                continue
            size, tail = cut + 1, data[cut + 1:]
        else:
            size, tail = len(data), b""
        body: bytes | memoryview = memoryview(data)[:size]  # no copy of the chunk
        k = data.rfind(b"$comment", 0, size)
        if k >= 0:
            text = data[:size]
            if _COMMENT.search(text, k) is None:  # a comment running past the chunk
                if not chunk:
                    raise FormatError(path, line0 + text.count(b"\n", 0, k), "$comment without $end")
                text, tail = text[:k], text[k:] + tail
            body = _COMMENT.sub(lambda m: b" " + b"\n" * m.group().count(b"\n"), text)
        if len(body):
            line0 += _process(np.frombuffer(body, dtype=np.uint8), st, code_keys, first, width, path, line0)
        if not chunk and not tail:
            break
    t = st.time
    high = st.high + np.where(st.val == 1, t - st.since, 0)
    start = st.t0 if st.t0 is not None else 0
    duration = (t - start) * h.timescale
    slot = np.asarray(h.name_slot, dtype=np.int64)
    tog = (st.tog2[slot] / 2.0).tolist()
    high_s = (high[slot] * h.timescale).tolist()
    return VcdActivity(dict(zip(h.names, tog, strict=True)), dict(zip(h.names, high_s, strict=True)),
                       duration, h.timescale, "/".join(want), dict(zip(h.names, h.kinds, strict=True)))
