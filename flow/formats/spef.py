"""SPEF (IEEE 1481) reader and a small writer.

Reads the header units (`*T_UNIT`, `*C_UNIT`, `*R_UNIT`), the name map (`*NAME_MAP`), and per
`*D_NET` the total capacitance, `*CONN` pins/ports, `*CAP` (ground and coupling; coupling is
grounded, as OpenSTA does without `-keep_capacitive_coupling`) and `*RES`. Values are converted
to SI (F, ohm) at this edge. Names are returned in the netlist's namespace: name-map indices
substituted and IEEE 1481 escapes (`\\.`, `\\[`, `\\/` ...) removed, so node names read
`net:index`, `inst:pin` or a port name with the header's pin delimiter (default `:`).

The writer escapes as IEEE 1481 and OpenSTA's reader require: every character of a name other
than letters, digits and `_` gets a backslash, except the bus brackets of a trailing bus bit
`name[k]`. Our flat netlist does not record whether `a[3]` was the bus bit `a[3]` or the escaped
Verilog scalar `\\a[3] `; OpenSTA finds nets and instances of either kind from the plain-bracket
form, but a top port only by its exact form, so a port's trailing brackets are escaped when its
base is not a plain identifier (`\\b.x[0] `) and kept otherwise (`a[0]`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

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
class Spef:
    path: Path | None
    design: str
    divider: str
    delimiter: str
    nets: dict[str, SpefNet]


_ESCAPED = re.compile(r"\\(.)")
_TOKEN = re.compile(r"(?:\\.|[^\s\\])+")  # whitespace-separated, a backslash escapes the next char
_BUS_BIT = re.compile(r"^(.*?) ?\[(\d+)\]$")
_PLAIN_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NEEDS_ESCAPE = re.compile(r"[^A-Za-z0-9_]")


def unescape(name: str) -> str:
    """SPEF name -> netlist name (`dpath\\.x\\[3\\]` -> `dpath.x[3]`)."""
    return _ESCAPED.sub(r"\1", name) if "\\" in name else name


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


def _open_text(path: Path) -> list[str]:
    return read_bytes_maybe_gzip(path, "SPEF").decode("utf-8", errors="replace").splitlines()


def _unit(path: Path, lineno: int, toks: list[str], table: dict[str, float]) -> float:
    if len(toks) < 3:
        raise FormatError(path, lineno, f"{toks[0]} needs a value and a unit")
    try:
        return float(toks[1]) * table[toks[2].upper()]
    except (ValueError, KeyError):
        raise FormatError(path, lineno, f"bad unit {' '.join(toks[1:3])!r}") from None


@gc_paused
def read_spef(path: str | Path) -> Spef:
    """Parse a SPEF file (plain or gzip) into SI-valued nets keyed by (name-mapped) net name."""
    path = Path(path)
    lines = _open_text(path)
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
    if not seen_header:
        raise FormatError(path, 1, "not a SPEF file (no *SPEF header)")
    if cur is not None:
        raise FormatError(path, lineno, f"file ends inside *D_NET {cur.name} (truncated: no *END)")
    return Spef(path, design, divider, delimiter, nets)


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
