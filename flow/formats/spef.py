"""SPEF (IEEE 1481) reader and a small writer.

Reads the header units (`*T_UNIT`, `*C_UNIT`, `*R_UNIT`), the name map (`*NAME_MAP`), and per
`*D_NET` the total capacitance, `*CONN` pins/ports, `*CAP` (ground and coupling; coupling is
grounded, as OpenSTA does without `-keep_capacitive_coupling`) and `*RES`. Values are converted
to SI (F, ohm) at this edge. Names are returned in the netlist's namespace: name-map indices
substituted and IEEE 1481 escapes (`\\.`, `\\[`, `\\/` ...) removed, so node names read
`net:index`, `inst:pin` or a port name with the header's pin delimiter (default `:`).

Two readers give the same result: the header always goes through the line-by-line Python reader,
the `*D_NET` part through a compiled scanner (`spef_scan`) into flat records (`SpefFlat`, which
`Parasitics` turns into the STA's arrays without per-net objects; `nets` builds SpefNet objects
only when asked). Anything the scanner does not accept — and every error, so that it names its
line — is read by the Python reader (tests/signoff/test_spef_fastpath.py holds them equal).

The writer escapes as IEEE 1481 and OpenSTA's reader require: every character of a name other
than letters, digits and `_` gets a backslash, except the bus brackets of a trailing bus bit
`name[k]`. Our flat netlist does not record whether `a[3]` was the bus bit `a[3]` or the escaped
Verilog scalar `\\a[3] `; OpenSTA finds nets and instances of either kind from the plain-bracket
form, but a top port only by its exact form, so a port's trailing brackets are escaped when its
base is not a plain identifier (`\\b.x[0] `) and kept otherwise (`a[0]`).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flow.errors import FormatError
from flow.util import gc_paused, read_bytes_maybe_gzip

_CAP_UNITS = {"F": 1.0, "PF": 1e-12, "FF": 1e-15, "NF": 1e-9, "UF": 1e-6}
_RES_UNITS = {"OHM": 1.0, "KOHM": 1e3, "MOHM": 1e6}
_TIME_UNITS = {"S": 1.0, "MS": 1e-3, "US": 1e-6, "NS": 1e-9, "PS": 1e-12, "FS": 1e-15}


@dataclass
class SpefNet:
    """One `*D_NET`: total cap (F), connections, ground caps per node, resistors between nodes."""

    name: str
    total_cap: float
    conns: list[tuple[str, str]] = field(default_factory=list)  # (node name, 'I'|'O'|'B'|'P')
    caps: dict[str, float] = field(default_factory=dict)  # node -> F (coupling grounded)
    res: list[tuple[str, str, float]] = field(default_factory=list)  # (node a, node b, ohm)


@dataclass
class SpefFlat:
    """The nets of a SPEF as flat records (from `spef_scan`), names as indices into `names`
    (name-mapped and unescaped). Net q's capacitances are cap_*[net_cap0[q]:net_cap0[q+1]]
    (cap_node: the node of this net a coupling capacitance is grounded on), resistors and
    connections likewise; `conn_dir` are byte spans of `data` (decoded only when asked)."""

    names: list[str]
    net_name: np.ndarray
    net_total: np.ndarray
    net_cap0: np.ndarray
    net_res0: np.ndarray
    net_conn0: np.ndarray
    cap_node: np.ndarray
    cap_val: np.ndarray
    res_a: np.ndarray
    res_b: np.ndarray
    res_val: np.ndarray
    conn_node: np.ndarray
    conn_dir: np.ndarray
    data: bytes
    node_names: list[str] | None = None  # names with the last delimiter made `/`, when known

    def net(self, q: int) -> SpefNet:
        """Net q as the Python reader builds it."""
        nm = self.names
        c0, c1 = int(self.net_cap0[q]), int(self.net_cap0[q + 1])
        caps: dict[str, float] = {}
        for node, c in zip(self.cap_node[c0:c1].tolist(), self.cap_val[c0:c1].tolist(), strict=True):
            caps[nm[node]] = caps.get(nm[node], 0.0) + c
        r0, r1 = int(self.net_res0[q]), int(self.net_res0[q + 1])
        res = [(nm[a], nm[b], r) for a, b, r in zip(self.res_a[r0:r1].tolist(), self.res_b[r0:r1].tolist(),
                                                     self.res_val[r0:r1].tolist(), strict=True)]
        k0, k1 = int(self.net_conn0[q]), int(self.net_conn0[q + 1])
        conns = [(nm[n], unescape(self.data[a:b].decode("ascii")).upper())
                 for n, (a, b) in zip(self.conn_node[k0:k1].tolist(), self.conn_dir[k0:k1].tolist(), strict=True)]
        return SpefNet(nm[int(self.net_name[q])], float(self.net_total[q]), conns, caps, res)

    def net_order(self) -> dict[str, int]:
        """Net name -> the net q that the name finally stands for (a repeated `*D_NET` replaces
        the earlier one but keeps its place, as in the Python reader's dict)."""
        out: dict[str, int] = {}
        nm = self.names
        for q, k in enumerate(self.net_name.tolist()):
            out[nm[k]] = q
        return out


class _LazyNets(Mapping[str, SpefNet]):
    """`Spef.nets` of a scanned file: SpefNet objects are built on first use only (the STA
    reads the flat records)."""

    def __init__(self, flat: SpefFlat) -> None:
        self._flat = flat
        self._nets: dict[str, SpefNet] | None = None

    def _all(self) -> dict[str, SpefNet]:
        if self._nets is None:
            self._nets = {name: self._flat.net(q) for name, q in self._flat.net_order().items()}
        return self._nets

    def __getitem__(self, name: str) -> SpefNet:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


@dataclass
class Spef:
    path: Path | None
    design: str
    divider: str
    delimiter: str
    nets: Mapping[str, SpefNet]
    flat: SpefFlat | None = None  # set when the compiled scanner read the nets


_ESCAPED = re.compile(r"\\(.)")
_GROUP1 = operator.itemgetter(1)  # a match -> its escaped character (cheaper than a template)
_TOKEN = re.compile(r"(?:\\.|[^\s\\])+")  # whitespace-separated, a backslash escapes the next char
_BUS_BIT = re.compile(r"^(.*?) ?\[(\d+)\]$")
_PLAIN_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NEEDS_ESCAPE = re.compile(r"[^A-Za-z0-9_]")


def unescape(name: str) -> str:
    """SPEF name -> netlist name (`dpath\\.x\\[3\\]` -> `dpath.x[3]`)."""
    return _ESCAPED.sub(_GROUP1, name) if "\\" in name else name


def _esc(text: str) -> str:
    return _NEEDS_ESCAPE.sub(lambda m: "\\" + m.group(0), text)


def spef_name(name: str, port: bool = False) -> str:
    """Netlist net/instance/port name -> SPEF name (see the module docstring for the rule)."""
    m = _BUS_BIT.match(name)
    if m is None or (port and not _PLAIN_ID.match(m.group(1))):
        return _esc(name.replace(" [", "["))
    return f"{_esc(m.group(1))}[{m.group(2)}]"


def spef_node(node: str, delimiter: str = ":") -> str:
    """`inst:pin`, `net:index` or a port (no delimiter) in SPEF form."""
    obj, sep, tail = node.rpartition(delimiter)
    if not sep:
        return spef_name(node, port=True)
    m = _BUS_BIT.match(tail)
    pin = f"{_esc(m.group(1))}[{m.group(2)}]" if m else _esc(tail)
    return f"{spef_name(obj)}{delimiter}{pin}"


def _unit(path: Path, lineno: int, toks: list[str], table: dict[str, float]) -> float:
    if len(toks) < 3:
        raise FormatError(path, lineno, f"{toks[0]} needs a value and a unit")
    try:
        return float(toks[1]) * table[toks[2].upper()]
    except (ValueError, KeyError):
        raise FormatError(path, lineno, f"bad unit {' '.join(toks[1:3])!r}") from None


@dataclass
class _Header:
    """What the lines before the first `*D_NET` set: units, names, the name map."""

    cu: float
    ru: float
    design: str
    divider: str
    delimiter: str
    names: dict[str, str]
    seen_header: bool
    stopped: bool  # a *D_NET was met among the lines


_DNET_LINE = re.compile(rb"(?m)^[ \t]*\*[Dd]_[Nn][Ee][Tt][ \t]")


@gc_paused
def read_spef(path: str | Path, fast: bool = True) -> Spef:
    """Parse a SPEF file (plain or gzip) into SI-valued nets keyed by (name-mapped) net name.
    The nets are read by the compiled scanner (`spef_scan`) when it accepts the file, else (and
    with `fast=False`) line by line in Python; both give the same result."""
    path = Path(path)
    data = read_bytes_maybe_gzip(path, "SPEF")
    if fast:
        spef = _read_fast(path, data)
        if spef is not None:
            return spef
    out = _read_python(path, data.decode("utf-8", errors="replace").splitlines())
    assert isinstance(out, Spef)
    return out


def _read_python(path: Path, lines: list[str], header_only: bool = False) -> Spef | _Header:
    """The line-by-line reader; with `header_only`, stop at the first `*D_NET`."""
    cu, ru = 1e-12, 1.0
    design, divider, delimiter = "", "/", ":"
    names: dict[str, str] = {}
    nets: dict[str, SpefNet] = {}
    cur: SpefNet | None = None
    section = ""
    seen_header = False

    def m(tok: str) -> str:
        """Substitute name-map indices, also inside `*12:A` style node names."""
        if tok.startswith("*"):
            head, sep, tail = tok.partition(delimiter)
            if head in names:
                return names[head] + sep + tail
            if head[1:].isdigit():
                raise FormatError(path, lineno, f"name map index {head} is not defined")
        return tok

    def add_res(net: SpefNet, toks: list[str]) -> None:
        """One `*RES` entry `index node node ohms` of `net` (line `lineno`)."""
        try:
            r = float(toks[3]) * ru
        except ValueError:
            raise FormatError(path, lineno, f"bad resistance {toks[3]!r}") from None
        if not math.isfinite(r) or r < 0:
            raise FormatError(path, lineno, f"resistance {toks[3]} must be finite and >= 0")
        net.res.append((m(toks[1]), m(toks[2]), r))

    for lineno, line in enumerate(lines, 1):
        s = (line.split("//", 1)[0] if "//" in line else line).strip()
        if not s:
            continue
        # escaped names: split on unescaped blanks only, then drop the escapes
        toks = [unescape(t) for t in _TOKEN.findall(s)] if "\\" in s else s.split()
        # fast path for the bulk of a file, the numbered *CAP / *RES entries of a net (the
        # same parse as their branches below, without the keyword tests before them)
        if cur is not None and toks[0][0] != "*" and section == "*RES" and len(toks) == 4:
            add_res(cur, toks)
            continue
        if cur is not None and toks[0][0] != "*" and section == "*CAP" and len(toks) == 3:
            node = m(toks[1])
            try:
                c = float(toks[2]) * cu
            except ValueError:
                c = math.nan
            if not math.isfinite(c) or c < 0:  # a ground capacitance cannot be negative
                raise FormatError(path, lineno, f"bad *CAP entry {s!r}")
            cur.caps[node] = cur.caps.get(node, 0.0) + c
            continue
        k = toks[0].upper()
        if k == "*SPEF":
            seen_header = True
        elif k == "*DESIGN":
            design = " ".join(toks[1:]).strip('"')
        elif k == "*DIVIDER" and len(toks) > 1:
            divider = toks[1]
        elif k == "*DELIMITER" and len(toks) > 1:
            delimiter = toks[1]
        elif k == "*C_UNIT":
            cu = _unit(path, lineno, toks, _CAP_UNITS)
        elif k == "*R_UNIT":
            ru = _unit(path, lineno, toks, _RES_UNITS)
        elif k == "*T_UNIT":
            _unit(path, lineno, toks, _TIME_UNITS)
        elif k in ("*L_UNIT", "*DESIGN_FLOW", "*DATE", "*VENDOR", "*PROGRAM", "*VERSION",
                   "*BUS_DELIMITER", "*PORTS", "*POWER_NETS", "*GROUND_NETS") or k == "*NAME_MAP":
            section = k
        elif k == "*D_NET":
            if header_only:  # the compiled scanner takes over from here
                return _Header(cu, ru, design, divider, delimiter, names, seen_header, stopped=True)
            if len(toks) < 3:
                raise FormatError(path, lineno, "*D_NET needs a net name and a total capacitance")
            try:
                tot = float(toks[2]) * cu
            except ValueError:
                raise FormatError(path, lineno, f"bad total capacitance {toks[2]!r}") from None
            if not math.isfinite(tot) or tot < 0:
                raise FormatError(path, lineno, f"total capacitance {toks[2]} must be finite and >= 0")
            if cur is not None:
                raise FormatError(path, lineno, f"*D_NET {cur.name} has no *END before the next *D_NET")
            name = m(toks[1])
            cur = SpefNet(name, tot)
            nets[name] = cur
            section = ""
        elif k == "*R_NET":
            raise FormatError(path, lineno, "*R_NET (reduced nets) is not supported; write *D_NET")
        elif k in ("*CONN", "*CAP", "*RES"):
            if cur is None:
                raise FormatError(path, lineno, f"{k} outside a *D_NET")
            section = k
        elif k == "*END":
            cur = None
            section = ""
        elif k in ("*P", "*I") and section == "*CONN":
            if cur is None or len(toks) < 3:
                raise FormatError(path, lineno, f"bad {k} line")
            cur.conns.append((m(toks[1]), toks[2].upper()))
        elif k == "*N":
            continue
        elif section == "*NAME_MAP":
            if len(toks) < 2 or not toks[0].startswith("*"):
                raise FormatError(path, lineno, "bad name map entry")
            names[toks[0]] = unescape(toks[1])
        elif section == "*CAP" and cur is not None:
            try:
                if len(toks) == 3:
                    node = m(toks[1])
                    c = float(toks[2]) * cu
                    if not math.isfinite(c) or c < 0:  # a ground capacitance cannot be negative
                        raise ValueError
                    cur.caps[node] = cur.caps.get(node, 0.0) + c
                elif len(toks) == 4:  # coupling: ground it on the node of this net
                    a, b = m(toks[1]), m(toks[2])
                    node = a if a.startswith(cur.name + delimiter) or a == cur.name else b
                    c = float(toks[3]) * cu
                    if not math.isfinite(c):
                        raise ValueError
                    cur.caps[node] = cur.caps.get(node, 0.0) + c
                else:
                    raise ValueError
            except ValueError:
                raise FormatError(path, lineno, f"bad *CAP entry {s!r}") from None
        elif section == "*RES" and cur is not None:
            if len(toks) != 4:
                raise FormatError(path, lineno, f"bad *RES entry {s!r}")
            add_res(cur, toks)
        elif section in ("*PORTS", "*POWER_NETS", "*GROUND_NETS", "*L_UNIT", "*DESIGN_FLOW") or section == "" and cur is None and not k.startswith("*"):
            continue
        else:
            raise FormatError(path, lineno, f"unexpected SPEF statement {toks[0]!r}")
    if header_only:
        return _Header(cu, ru, design, divider, delimiter, names, seen_header, stopped=False)
    if not seen_header:
        raise FormatError(path, 1, "not a SPEF file (no *SPEF header)")
    if cur is not None:
        raise FormatError(path, lineno, f"file ends inside *D_NET {cur.name} (truncated: no *END)")
    return Spef(path, design, divider, delimiter, nets)


def _read_fast(path: Path, data: bytes) -> Spef | None:
    """The nets read by the compiled scanner, the header by the Python reader; None when the
    scanner does not accept the file (see `spef_scan`): the caller reads it in Python then."""
    from flow.formats import spef_scan

    m0 = _DNET_LINE.search(data)
    if m0 is None:
        return None
    off = m0.start()
    head = _read_python(path, data[:off].decode("utf-8", errors="replace").splitlines(), header_only=True)
    assert isinstance(head, _Header)
    if head.stopped or not head.seen_header:
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    ok, _counts, nets, caps, res, conns, names_b, special, slow = spef_scan.scan(buf, off, head.cu, head.ru,
                                                                                 spef_scan.POW10)
    if not ok:
        return None
    toks = names_b.tobytes().decode("ascii").split("\n")[:-1]
    names, delim = head.names, head.delimiter

    def mapped(tok: str) -> str | None:
        t = unescape(tok)
        if t.startswith("*"):
            h, sep, tail = t.partition(delim)
            if h in names:
                return names[h] + sep + tail
            if h[1:].isdigit():
                return None  # an undefined index: the Python reader names the line
        return t

    raw = toks[:]
    for i in np.flatnonzero(special).tolist():
        r = mapped(toks[i])
        if r is None:
            return None
        raw[i] = r
    node_names = None
    if len(set(raw)) == len(raw):  # distinct tokens, distinct names: a name's id is its token's
        names_out, tok_rid = raw, np.arange(len(raw), dtype=np.int64)
        if len(delim) == 1:  # timing node names (`inst/pin`) of all at once, compiled
            node_names = spef_scan.last_to_slash(names_b, ord(delim)).tobytes().decode("ascii").split("\n")[:-1]
            for i in np.flatnonzero(special).tolist():
                obj, sep, tail = raw[i].rpartition(delim)
                node_names[i] = f"{obj}/{tail}" if sep else raw[i]
    else:
        rid_of: dict[str, int] = {}
        tok_rid = np.array([rid_of.setdefault(r, len(rid_of)) for r in raw], dtype=np.int64)
        names_out = list(rid_of)
    net_tok, net_tot, net_cap0, net_res0, net_conn0 = nets
    cap_a, cap_b, cap_v = caps
    res_a, res_b, res_v = res
    for kind, rec, a, b in slow.tolist():  # numbers the scanner leaves to float()
        v = float(data[a:b]) * (head.ru if kind == spef_scan.SLOW_RES else head.cu)
        if not math.isfinite(v) or (v < 0 and not (kind == spef_scan.SLOW_CAP and cap_b[rec] >= 0)):
            return None
        (net_tot if kind == spef_scan.SLOW_TOTAL else res_v if kind == spef_scan.SLOW_RES else cap_v)[rec] = v
    cap_node = tok_rid[cap_a]
    coupled = np.flatnonzero(cap_b >= 0)
    if coupled.size:  # ground a coupling capacitance on the node of this net (Python reader's rule)
        owner = np.searchsorted(net_cap0, coupled, side="right") - 1
        for i, q in zip(coupled.tolist(), owner.tolist(), strict=True):
            net_name, a_name = raw[int(net_tok[q])], raw[int(cap_a[i])]
            if not (a_name.startswith(net_name + delim) or a_name == net_name):
                cap_node[i] = tok_rid[cap_b[i]]
    flat = SpefFlat(names_out, tok_rid[net_tok], net_tot, net_cap0, net_res0, net_conn0, cap_node, cap_v,
                    tok_rid[res_a], tok_rid[res_b], res_v, tok_rid[conns[0]], np.stack([conns[1], conns[2]], axis=1),
                    data, node_names)
    return Spef(path, head.design, head.divider, delim, _LazyNets(flat), flat)


def write_spef(path: str | Path, design: str, nets: list[SpefNet], delimiter: str = ":") -> None:
    """Write nets (SI values) as SPEF with PF / KOHM units; used by estimators and tests. Names
    are given in the netlist's namespace (nodes `inst:pin`, `net:k` or a port) and escaped here."""
    out = [
        '*SPEF "IEEE 1481-1998"', f'*DESIGN "{design}"', '*DATE "0"', '*VENDOR "vhflow"',
        '*PROGRAM "vhflow"', '*VERSION "1"', '*DESIGN_FLOW "PIN_CAP NONE"', "*DIVIDER /",
        f"*DELIMITER {delimiter}", "*BUS_DELIMITER [ ]", "*T_UNIT 1 NS", "*C_UNIT 1 PF",
        "*R_UNIT 1 KOHM", "*L_UNIT 1 HENRY", "",
    ]
    for n in nets:
        out.append(f"*D_NET {spef_name(n.name)} {n.total_cap * 1e12:.9g}")
        out.append("*CONN")
        for node, d in n.conns:
            kind = "*P" if delimiter not in node else "*I"
            out.append(f"{kind} {spef_node(node, delimiter)} {d}")
        if n.caps:
            out.append("*CAP")
            for i, (node, c) in enumerate(n.caps.items(), 1):
                out.append(f"{i} {spef_node(node, delimiter)} {c * 1e12:.9g}")
        if n.res:
            out.append("*RES")
            for i, (a, b, r) in enumerate(n.res, 1):
                out.append(f"{i} {spef_node(a, delimiter)} {spef_node(b, delimiter)} {r * 1e-3:.9g}")
        out.append("*END")
        out.append("")
    Path(path).write_text("\n".join(out) + "\n")
