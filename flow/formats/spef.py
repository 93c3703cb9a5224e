"""SPEF (IEEE 1481) reader and a small writer.

Reads the header units (`*T_UNIT`, `*C_UNIT`, `*R_UNIT`), the name map (`*NAME_MAP`), and per
`*D_NET` the total capacitance, `*CONN` pins/ports, `*CAP` (ground and coupling; coupling is
grounded, as OpenSTA does without `-keep_capacitive_coupling`) and `*RES`. Values are converted
to SI (F, ohm) at this edge. Node names are `net:index` or `inst:pin` / port names exactly as in
the file after name-map substitution; hierarchy divider `/` and pin delimiter `:` from the header.
"""

from __future__ import annotations

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

    for lineno, line in enumerate(lines, 1):
        s = line.split("//", 1)[0].strip()
        if not s:
            continue
        toks = s.split()
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
            names[toks[0]] = toks[1]
        elif section == "*CAP" and cur is not None:
            try:
                if len(toks) == 3:
                    node = m(toks[1])
                    cur.caps[node] = cur.caps.get(node, 0.0) + float(toks[2]) * cu
                elif len(toks) == 4:  # coupling: ground it on the node of this net
                    a, b = m(toks[1]), m(toks[2])
                    node = a if a.startswith(cur.name + delimiter) or a == cur.name else b
                    cur.caps[node] = cur.caps.get(node, 0.0) + float(toks[3]) * cu
                else:
                    raise ValueError
            except ValueError:
                raise FormatError(path, lineno, f"bad *CAP entry {s!r}") from None
        elif section == "*RES" and cur is not None:
            if len(toks) != 4:
                raise FormatError(path, lineno, f"bad *RES entry {s!r}")
            try:
                r = float(toks[3]) * ru
            except ValueError:
                raise FormatError(path, lineno, f"bad resistance {toks[3]!r}") from None
            if r < 0:
                raise FormatError(path, lineno, f"negative resistance {r}")
            cur.res.append((m(toks[1]), m(toks[2]), r))
        elif section in ("*PORTS", "*POWER_NETS", "*GROUND_NETS", "*L_UNIT", "*DESIGN_FLOW") or section == "" and cur is None and not k.startswith("*"):
            continue
        else:
            raise FormatError(path, lineno, f"unexpected SPEF statement {toks[0]!r}")
    if not seen_header:
        raise FormatError(path, 1, "not a SPEF file (no *SPEF header)")
    return Spef(path, design, divider, delimiter, nets)


def write_spef(path: str | Path, design: str, nets: list[SpefNet], delimiter: str = ":") -> None:
    """Write nets (SI values) as SPEF with PF / KOHM units; used by estimators and tests."""
    out = [
        '*SPEF "IEEE 1481-1998"', f'*DESIGN "{design}"', '*DATE "0"', '*VENDOR "vhflow"',
        '*PROGRAM "vhflow"', '*VERSION "1"', '*DESIGN_FLOW "PIN_CAP NONE"', "*DIVIDER /",
        f"*DELIMITER {delimiter}", "*BUS_DELIMITER [ ]", "*T_UNIT 1 NS", "*C_UNIT 1 PF",
        "*R_UNIT 1 KOHM", "*L_UNIT 1 HENRY", "",
    ]
    for n in nets:
        out.append(f"*D_NET {n.name} {n.total_cap * 1e12:.9g}")
        out.append("*CONN")
        for node, d in n.conns:
            kind = "*P" if delimiter not in node else "*I"
            out.append(f"{kind} {node} {d}")
        if n.caps:
            out.append("*CAP")
            for i, (node, c) in enumerate(n.caps.items(), 1):
                out.append(f"{i} {node} {c * 1e12:.9g}")
        if n.res:
            out.append("*RES")
            for i, (a, b, r) in enumerate(n.res, 1):
                out.append(f"{i} {a} {b} {r * 1e-3:.9g}")
        out.append("*END")
        out.append("")
    Path(path).write_text("\n".join(out) + "\n")
