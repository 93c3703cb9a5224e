"""Structural (gate-level) Verilog netlist reader into the flat array form, and a writer.

Handles what Yosys and OpenROAD write: escaped identifiers, buses and bus slices, `assign`
aliases (union-find), constants, named port connections; one flat module is the top.
"""

from __future__ import annotations

import bisect
import re
import sys
from itertools import compress
from operator import itemgetter
from pathlib import Path

import numpy as np

from flow.engines.model import FlatDesign
from flow.errors import FormatError
from flow.util import gc_paused, read_text_without_block_comments

_ID = r"(?:\\\S+|[A-Za-z_][\w$]*)"
_NOT_PLAIN_NET = re.compile(r"[^\w$\[\]\n]|\[[^\]]*[^\d\]]|^\d|\n\d")  # not all `id` / `id[k]`
_VTOK = re.compile(r"\\\S+|[A-Za-z_][\w$]*|\d+'[bBhHdD][0-9a-fA-FxXzZ_]+|\d+|[()\[\]{}.,;:=#]")


@gc_paused
def read_verilog(paths: list[Path], top: str | None = None) -> FlatDesign:
    """Flat gate-level netlist (one module instantiating library cells) -> FlatDesign."""
    parts = []
    part_starts = []  # offset of each file in the joined text (error lines name the file)
    offset = 0
    for p in paths:
        t = read_text_without_block_comments(Path(p), "Verilog")
        if "//" in t:
            t = re.sub(r"//[^\n]*", " ", t)
        parts.append(t)
        part_starts.append(offset)
        offset += len(t) + 1
    text = "\n".join(parts) + "\n"

    def where(pos: int) -> tuple[Path, int]:
        """(file, line) of an offset of the joined text."""
        k = bisect.bisect_right(part_starts, pos) - 1
        return Path(paths[k]), text.count("\n", part_starts[k], pos) + 1

    def error(pos: int, message: str) -> FormatError:
        return FormatError(*where(pos), message)
    # module spans from `module NAME` to the next `endmodule` (no lazy scan over the whole text)
    # a pattern that starts with the literal scans at C speed (a leading \b does not); the
    # name sits in a look-ahead so `endmodule module x` cannot swallow the real header
    heads = [h for h in re.finditer(r"module(?=\s+(" + _ID + r"))", text)
             if h.start() == 0 or not (text[h.start() - 1].isalnum() or text[h.start() - 1] in "_$\\")]
    mods = []
    for k, h in enumerate(heads):
        end = text.find("endmodule", h.end(1))
        limit = heads[k + 1].start() if k + 1 < len(heads) else len(text)
        if end < 0 or end > limit:
            raise error(h.start(), f"module {h.group(1)} has no endmodule (truncated file?)")
        mods.append((h.group(1), text[h.end(1):end], h.end(1)))
    if not mods:
        raise FormatError(paths[0], None, "no module")
    names = [m[0] for m in mods]
    body_start = {m[0]: m[2] for m in mods}
    if top is None:
        top = names[-1]
    if top not in names:
        raise FormatError(paths[0], None, f"top module {top!r} not found (modules: {', '.join(names)})")
    body = {m[0]: m[1] for m in mods}[top]
    body_at = body_start[top]
    toks: list[str] = []
    # net namespace with union-find for `assign a = b;`
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    widths: dict[str, tuple[int, int]] = {}
    port_dir: dict[str, str] = {}
    insts: list = []  # (cell, instance, connection text), then (cell, instance, [(pin, bits)])
    i = 0

    def rng() -> tuple[int, int] | None:
        nonlocal i
        if i < len(toks) and toks[i] == "[":
            hi, lo = int(toks[i + 1]), int(toks[i + 3])
            i += 5
            return hi, lo
        return None

    def bits(name: str) -> list[str]:
        if name in widths:
            hi, lo = widths[name]
            step = -1 if hi >= lo else 1
            return [f"{name}[{k}]" for k in range(hi, lo + step, step)]
        return [name]

    def expr() -> list[str]:
        """A net expression: id, id[k], id[a:b], constant, or {concat}."""
        nonlocal i
        t = toks[i]
        if t == "{":
            i += 1
            out: list[str] = []
            while toks[i] != "}":
                if toks[i] == ",":
                    i += 1
                    continue
                out += expr()
            i += 1
            return out
        if "'" in t:
            i += 1
            w, v = t.split("'")
            base = v[0].lower()
            val = int(v[1:].replace("_", "").replace("x", "0").replace("z", "0"), {"b": 2, "h": 16, "d": 10}[base])
            return [f"1'b{(val >> k) & 1}" for k in range(int(w) - 1, -1, -1)]
        i += 1
        name = t[1:] if t.startswith("\\") else t
        if i < len(toks) and toks[i] == "[":
            a = int(toks[i + 1])
            if toks[i + 2] == ":":
                b = int(toks[i + 3])
                i += 5
                step = -1 if a >= b else 1
                return [f"{name}[{k}]" for k in range(a, b + step, step)]
            i += 3
            return [f"{name}[{a}]"]
        return bits(name)

    inst_re = re.compile(r"\s*(\\\S+|[A-Za-z_][\w$]*)\s+(?:#\s*\((?:[^()]|\([^()]*\))*\)\s*)?"
                         r"(\\\S+|[A-Za-z_][\w$]*)\s*\((.*)\)\s*$", re.S)
    conn_re_joined = re.compile(r"\.\s*([\w$]+)\s*\(([^()\0]*)\)|(\0)")
    decl_re = re.compile(r"\w+\s*(?:\[\s*(-?\d+)\s*:\s*(-?\d+)\s*\])?\s*(.*)", re.S)
    simple_re = re.compile(r"(?:\\(\S+)|([A-Za-z_][\w$]*))\s*(?:\[\s*(\d+)\s*\])?")

    def conn_bits(text: str) -> list[str]:
        """Bits of a connection expression: fast path for `net` / `net[k]`, tokens otherwise."""
        nonlocal toks, i
        if "{" not in text and "'" not in text and ":" not in text:
            if text.startswith("\\"):
                ident, _, rest = text[1:].partition(" ")  # an escaped identifier ends at white space
                sel = rest.strip()
                if sel.startswith("[") and sel.endswith("]") and sel[1:-1].strip().isdigit():
                    return [f"{ident}[{sel[1:-1].strip()}]"]  # a bit of an escaped bus
                return bits(text[1:].strip())
            if "[" in text:
                return [text.replace(" ", "")]
            return bits(text) if text in widths else [text]
        m = simple_re.fullmatch(text)
        if m is not None:
            name = m.group(1) or m.group(2)
            if m.group(3) is not None:
                return [f"{name}[{m.group(3)}]"]
            return bits(name)
        if not text:
            return []
        toks, i = _VTOK.findall(text), 0
        return expr()

    decl_words = ("input", "output", "inout", "wire", "reg", "supply0", "supply1", "tri")
    statements = body.split(";")
    if statements[-1].strip():  # text between the last ';' and endmodule
        raise error(body_at + len(body) - len(statements[-1].lstrip()),
                    f"statement {statements[-1].strip()[:40]!r} has no ';' before endmodule")
    inst_at: list[int] = []  # offset of each instance statement (for errors found later)
    stmt_at = body_at
    seen_statement = False
    try:
        for stmt in statements:
            st = stmt.strip()
            at, stmt_at = stmt_at + len(stmt) - len(stmt.lstrip()), stmt_at + len(stmt) + 1
            if not st:
                continue
            if st[0] == "(":
                # the port list `(a, b, ...)` ends the module header; anything after it means a
                # missing ';' (the next declaration would be lost with it)
                if seen_statement or not _PORT_LIST.fullmatch(st):
                    raise error(at, f"module {top}: missing ';' after the module header, or a malformed port list")
                seen_statement = True
                continue
            seen_statement = True
            if st[:5] == "wire " and "[" not in st:  # scalar wires: nothing to record
                continue
            k = st.find("(")
            head = st[:k].split() if k > 0 and "\\" not in st[:k] else ()
            inst = None
            word = head[0] if len(head) == 2 else st.split(None, 1)[0]
            if len(head) == 2 and word not in decl_words and word != "assign" and st[-1] == ")":
                # `cell inst ( ... )`: the common instance form without regex backtracking
                inst = (word, head[1], st[k + 1:-1])
            elif word in decl_words:
                dm = decl_re.match(st)
                if dm.group(1) is None and dm.group(3).lstrip().startswith("["):
                    raise error(at, f"{word}: bad range in {st[:60]!r}")
                r = (int(dm.group(1)), int(dm.group(2))) if dm.group(1) is not None else None
                for nm in dm.group(3).split(","):
                    nm = nm.strip()
                    if nm.startswith("\\"):
                        nm = nm[1:]
                    if not nm:
                        continue
                    if r is not None:
                        widths[nm] = r
                    if word in ("input", "output", "inout"):
                        port_dir[nm] = word
            elif word == "assign":
                toks, i = _VTOK.findall(st[len("assign"):]), 0
                lhs = expr()
                i += 1  # '='
                rhs = expr()
                for a_, b_ in zip(lhs, rhs, strict=False):
                    parent[find(a_)] = find(b_)
            else:
                m = inst_re.match(st)
                if m is None:
                    raise error(at, f"cannot parse statement {st[:60]!r} in module {top}")
                cell, iname, conn_text = m.groups()
                inst = (cell, iname[1:] if iname.startswith("\\") else iname, conn_text)
            if inst is not None:
                if inst[2].strip() and not inst[2].lstrip().startswith("."):
                    raise error(at, f"instance {inst[1]}: only named connections are supported")
                insts.append(inst)
                inst_at.append(at)
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise error(at, f"cannot parse statement in module {top} ({type(exc).__name__}: {exc})") from None
    net_id: dict[str, int] = {}
    net_names: list[str] = []

    def nid(b: str) -> int:
        r = find(b) if parent else b
        if r not in net_id:
            net_id[r] = len(net_names)
            net_names.append(r)
        return net_id[r]

    # every instance's connections in one C-speed findall over the joined texts; a \0 closes
    # each instance (third group, empty pin name), matches cannot cross it. Each distinct
    # expression is resolved to net ids once, then the pin arrays are built at C speed.
    inst_names = [iname for _, iname, _ in insts]
    # pin and cell names repeat: one shared string each (memory; a background read pickles
    # them once)
    inst_cell = list(map(sys.intern, (cell for cell, _, _ in insts)))
    joined = "\0".join(c for _, _, c in insts) + "\0"
    # a `)` followed by anything but `,`, `)` or the end: two statements ran together (a missing
    # ';' after an instance would otherwise drop the second one silently)
    bad = _RUN_ON.search(joined)
    if bad is not None:
        k = joined.count("\0", 0, bad.start())
        raise error(inst_at[k], f"instance {insts[k][1]}: missing ';' after it, or a malformed connection list")
    found = conn_re_joined.findall(joined)
    pins = list(map(sys.intern, map(itemgetter(0), found)))
    exprs = list(map(itemgetter(1), found))
    code: dict[str, int] = {}  # net id of a single-bit expression; -1 constant/unconnected, -2 a bus
    multi: dict[str, list[int]] = {}
    uniq = dict.fromkeys(exprs)
    uniq.pop("", None)
    if not parent and not net_names and not (uniq.keys() & widths.keys()) \
            and _NOT_PLAIN_NET.search("\n".join(uniq)) is None:
        # every expression is a plain `net` or `net[k]` (no escapes, spaces, constants, buses,
        # aliases): each is its own net, numbered in order of first use, without a Python loop
        net_names.extend(uniq)
        net_id.update(zip(net_names, range(len(net_names)), strict=True))
        code.update(net_id)
        uniq = {}
    for e in uniq:
        if not e.strip():  # `.A( )`: no net
            code[e] = -1
            continue
        bl = conn_bits(e.strip())
        if len(bl) == 1:
            code[e] = -1 if bl[0][:3] == "1'b" else nid(bl[0])
            continue
        ids = [-1 if b[:3] == "1'b" else nid(b) for b in bl]
        if ids:
            code[e] = -2
            multi[e] = ids
        else:
            code[e] = -1
    code.setdefault("", -1)  # the instance separators and `.A()`
    row_net = np.fromiter(map(code.__getitem__, exprs), dtype=np.int64, count=len(exprs))
    is_sep = np.fromiter(map(len, pins), dtype=np.int64, count=len(pins)) == 0
    row_inst = np.cumsum(is_sep) - is_sep
    if not multi:
        keep = row_net >= 0
        pin_inst = row_inst[keep]
        pin_net = row_net[keep]
        pin_name = list(compress(pins, keep.tolist()))
    else:  # bus connections: one pin per bit, `PIN[k]` from the most significant bit down
        pin_name, pin_inst_l, pin_net_l = [], [], []
        for pin, e, k, net in zip(pins, exprs, row_inst.tolist(), row_net.tolist(), strict=True):
            if net >= 0:
                pin_name.append(pin)
                pin_inst_l.append(k)
                pin_net_l.append(net)
            elif net == -2:
                ids = multi[e]
                for j, b in enumerate(ids):
                    if b >= 0:
                        pin_name.append(f"{pin}[{len(ids) - 1 - j}]")
                        pin_inst_l.append(k)
                        pin_net_l.append(b)
        pin_inst = np.asarray(pin_inst_l, dtype=np.int64)
        pin_net = np.asarray(pin_net_l, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(np.bincount(pin_inst, minlength=len(insts)))]).astype(np.int64)
    port_names, pdirs, pnets = [], [], []
    for nm, d in port_dir.items():
        for b in bits(nm):
            port_names.append(b)
            pdirs.append(d)
            pnets.append(nid(b))
    return FlatDesign(inst_names, inst_cell, starts, pin_inst, pin_name, pin_net, net_names, port_names, pdirs,
                      np.asarray(pnets, dtype=np.int64))




_SIMPLE_ID = re.compile(r"[A-Za-z_][\w$]*\Z")
#: a module header's port list: parenthesised, with at most one level of nested parentheses
_PORT_LIST = re.compile(r"\((?:[^()]|\([^()]*\))*\)", re.S)
_RUN_ON = re.compile(r"\)\s*[^\s,)\0]")
_BIT = re.compile(r"(.*)\[(\d+)\]\Z")


def _vid(name: str) -> str:
    """A Verilog identifier: plain when legal, else escaped (backslash ... space)."""
    return name if _SIMPLE_ID.match(name) else f"\\{name} "


def write_verilog(design: FlatDesign, path: str | Path, top: str) -> Path:
    """Write a flat gate-level module that `read_verilog` reads back to the same connectivity.

    Bit names `base[k]` that share a base become one vector (ports keep their declared range);
    other names are written as escaped identifiers when they are not legal plain ones. Nets that
    carry several ports are joined with `assign`."""
    from flow.util import atomic_write_text

    def split(name: str) -> tuple[str, int | None]:
        m = _BIT.match(name)
        return (m.group(1), int(m.group(2))) if m else (name, None)

    vectors: dict[str, list[int]] = {}
    for name in list(design.port_names) + list(design.net_names):
        base, k = split(name)
        if k is not None:
            vectors.setdefault(base, []).append(k)

    def ref(name: str) -> str:
        base, k = split(name)
        if k is not None and base in vectors:
            return f"{_vid(base)}[{k}]"
        return _vid(name)

    port_bases: dict[str, tuple[str, list[int]]] = {}
    for name, d in zip(design.port_names, design.port_dir, strict=True):
        base, k = split(name)
        entry = port_bases.setdefault(base if k is not None else name, (d, []))
        if k is not None:
            entry[1].append(k)
    lines = ["// written by vhflow (flow/formats/verilog.py)", f"module {_vid(top)} ({', '.join(_vid(b) for b in port_bases)});"]
    for base, (d, idx) in port_bases.items():
        rng = f"[{max(idx)}:{min(idx)}] " if idx else ""
        lines.append(f"  {d} {rng}{_vid(base)};")
    # net names: a port's own name where the net is a port, so no alias is needed for it
    net_name = list(design.net_names)
    port_of_net: dict[int, str] = {}
    assigns = []
    for name, n in zip(design.port_names, design.port_net.tolist(), strict=True):
        if n in port_of_net:
            assigns.append((name, port_of_net[n]))
        else:
            port_of_net[n] = name
            net_name[n] = name
    declared = {b for b in port_bases}
    wires: dict[str, list[int]] = {}
    for k, name in enumerate(net_name):
        if k in port_of_net:
            continue
        base, b = split(name)
        if b is not None and base in vectors:
            if base not in declared:
                wires.setdefault(base, []).append(b)
        else:
            lines.append(f"  wire {_vid(name)};")
    for base, idx in wires.items():
        lines.append(f"  wire [{max(idx)}:{min(idx)}] {_vid(base)};")
    for a, b in assigns:
        lines.append(f"  assign {ref(a)} = {ref(b)};")
    starts = design.inst_pin_start
    for i, (iname, cell) in enumerate(zip(design.inst_names, design.inst_cell, strict=True)):
        pins: dict[str, dict[int | None, str]] = {}
        for p in range(starts[i], starts[i + 1]):
            base, k = split(design.pin_name[p])
            pins.setdefault(base, {})[k] = ref(net_name[design.pin_net[p]])
        conns = ", ".join(
            f".{b}({bits[None]})" if None in bits else f".{b}({{{', '.join(bits[k] for k in sorted(bits, reverse=True))}}})"
            for b, bits in pins.items())
        lines.append(f"  {cell} {_vid(iname)} ({conns});")
    lines.append("endmodule")
    atomic_write_text(Path(path), "\n".join(lines) + "\n")
    return Path(path)


def _written_port_order(port_names: list[str]) -> list[str]:
    """Port bits in the order `read_verilog` lists them from `write_verilog`'s declarations: per
    port (first seen), its bits from the highest index down."""
    bases: dict[str, list[int]] = {}
    for name in port_names:
        m = _BIT.match(name)
        if m:
            bases.setdefault(m.group(1), []).append(int(m.group(2)))
        else:
            bases.setdefault(name, [])
    return [name for base, idx in bases.items()
            for name in ([f"{base}[{k}]" for k in range(max(idx), min(idx) - 1, -1)] if idx else [base])]


def as_read_back(design: FlatDesign) -> FlatDesign | None:
    """What `read_verilog` returns for `write_verilog(design)`, without writing and parsing it:
    the same instances, pins and ports, nets renumbered in the reader's order (first use by a
    pin, then by a port). None where the file would read back otherwise: an unconnected pin, a
    net on no pin nor port, a net on two ports (joined by `assign`) or named unlike its port,
    port bits that the declarations would reorder or fill in."""
    pin_net = np.asarray(design.pin_net, dtype=np.int64)
    port_net = np.asarray(design.port_net, dtype=np.int64)
    n = len(design.net_names)
    if (pin_net < 0).any() or (port_net < 0).any() or len(np.unique(port_net)) != port_net.size:
        return None
    if any(design.net_names[k] != name for k, name in zip(port_net.tolist(), design.port_names, strict=True)):
        return None
    if _written_port_order(list(design.port_names)) != list(design.port_names):
        return None
    used, first = np.unique(np.concatenate([pin_net, port_net]), return_index=True)
    if used.size != n:
        return None
    order = used[np.argsort(first, kind="stable")]  # old net ids in order of first use
    new_id = np.empty(n, dtype=np.int64)
    new_id[order] = np.arange(n, dtype=np.int64)
    return FlatDesign(list(design.inst_names), list(design.inst_cell), np.asarray(design.inst_pin_start).copy(),
                      np.asarray(design.pin_inst, dtype=np.int64).copy(), list(design.pin_name), new_id[pin_net],
                      [design.net_names[k] for k in order.tolist()], list(design.port_names),
                      list(design.port_dir), new_id[port_net])
