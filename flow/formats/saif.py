"""SAIF reader (SAIF 2.0, backward): DURATION, TIMESCALE, per net/port T0, T1, TX, TC.

The file is an s-expression; it is tokenised with one regular expression and walked with an
explicit stack (no recursion limit on deep hierarchies). Names below `scope` (an instance path,
`/` or `.` separated, like `read_saif -scope`) are returned relative to it with `/` as divider;
escaped characters (`\\[`) are unescaped. Result type is the VCD one (`VcdActivity`), so power
does not care where activity came from.
"""

from __future__ import annotations

import re
from pathlib import Path

from flow.errors import FormatError
from flow.formats.vcd import _TS, VcdActivity
from flow.util import gc_paused, read_bytes_maybe_gzip

_TOK = re.compile(rb'\(|\)|"(?:[^"\\]|\\.)*"|(?:\\.|[^\s()"])+')


class _Node(list):
    """An s-expression list that remembers the line it opened on (for errors)."""

    line = 0


@gc_paused
def read_saif(path: str | Path, scope: str | None = None) -> VcdActivity:
    """Toggle counts (TC) and time at 1 (T1) per net/port bit under `scope`."""
    path = Path(path)
    raw = read_bytes_maybe_gzip(path, "SAIF")
    want = [s for s in (scope or "").replace(".", "/").split("/") if s]
    # build a tree of lists: each list = [head, children...] with line numbers for errors
    root = _Node()
    stack: list[list] = [root]
    lines: list[int] = [1]
    line = 1
    pos = 0
    for m in _TOK.finditer(raw):
        line += raw.count(b"\n", pos, m.start())
        pos = m.start()
        t = m.group()
        if t == b"(":
            node = _Node()
            node.line = line
            if len(stack) > 10_000:
                raise FormatError(path, line, "SAIF nested deeper than 10000 levels")
            stack[-1].append(node)
            stack.append(node)
            lines.append(line)
        elif t == b")":
            if len(stack) == 1:
                raise FormatError(path, line, "unbalanced ')'")
            stack.pop()
            lines.pop()
        else:
            stack[-1].append(t.decode("utf-8", "replace"))
    if len(stack) != 1:
        raise FormatError(path, lines[-1], "unterminated '(' (truncated SAIF?)")
    if not root or not isinstance(root[0], list) or not root[0] or root[0][0] != "SAIFILE":
        raise FormatError(path, 1, "not a SAIF file (no SAIFILE)")
    top = root[0]
    timescale = 1e-9
    duration = None
    toggles: dict[str, int] = {}
    high: dict[str, float] = {}
    found_scope = not want
    scopes_seen: list[str] = []

    def num(x: object, node: object = None) -> float:
        try:
            v = float(x)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise FormatError(path, getattr(node, "line", None), f"bad number {x!r}") from None
        if v != v or v in (float("inf"), float("-inf")):
            raise FormatError(path, getattr(node, "line", None), f"bad number {x!r}")
        return v

    for item in top[1:]:
        if not isinstance(item, list) or not item:
            continue
        head = item[0]
        if head == "TIMESCALE":
            spec = "".join(str(x) for x in item[1:])
            m = re.fullmatch(r"(1|10|100)(s|ms|us|ns|ps|fs)", spec.lower())
            if m is None:
                raise FormatError(path, item.line, f"bad TIMESCALE {spec!r} (1, 10 or 100 s/ms/us/ns/ps/fs)")
            timescale = int(m.group(1)) * _TS[m.group(2)]
        elif head == "DURATION":
            duration = num(item[1], item) if len(item) > 1 else None
            if duration is None or duration <= 0:
                raise FormatError(path, item.line, f"DURATION must be a positive number, got {item[1:]!r}")
    if duration is None:
        raise FormatError(path, top.line, "no DURATION")
    # walk instances
    work: list[tuple[list, list[str]]] = [(it, []) for it in top[1:] if isinstance(it, list) and it and it[0] == "INSTANCE"]
    while work:
        inst, parent = work.pop()
        name = inst[1] if len(inst) > 1 and isinstance(inst[1], str) else ""
        if name.startswith('"'):
            name = name.strip('"')
        here = parent + [name.replace("\\", "")]
        scopes_seen.append("/".join(here))
        inside = here[:len(want)] == want
        if inside and len(here) >= len(want):
            found_scope = True
        for child in inst[2:]:
            if not isinstance(child, list) or not child:
                continue
            if child[0] == "INSTANCE":
                work.append((child, here))
            elif child[0] in ("NET", "PORT") and inside:
                rel = here[len(want):]
                for sig in child[1:]:
                    if not isinstance(sig, list) or not sig:
                        continue
                    sname = "/".join(rel + [str(sig[0]).replace("\\", "")])
                    vals = {str(kv[0]): num(kv[1], kv) for kv in sig[1:] if isinstance(kv, list) and len(kv) >= 2}
                    for key in ("T0", "T1", "TX", "TC"):
                        if vals.get(key, 0.0) < 0:
                            raise FormatError(path, sig.line, f"{sname}: negative {key} {vals[key]}")
                    if vals.get("T0", 0.0) + vals.get("T1", 0.0) + vals.get("TX", 0.0) > duration * (1 + 1e-9) + 1:
                        raise FormatError(path, sig.line, f"{sname}: T0+T1+TX exceeds DURATION {duration:g}")
                    toggles[sname] = int(vals.get("TC", 0))
                    high[sname] = vals.get("T1", 0.0) * timescale
    if not found_scope:
        raise FormatError(path, None, f"scope {'/'.join(want)!r} not in the SAIF (instances: {', '.join(sorted(scopes_seen)[:8])})")
    return VcdActivity(toggles, high, duration * timescale, timescale, "/".join(want))


_SAIF_SPECIAL = re.compile(r"([\[\]./\\()\s])")


def _saif_name(name: str) -> str:
    return _SAIF_SPECIAL.sub(r"\\\1", name)


def write_saif(path: str | Path, design: str, duration_s: float, nets: dict[str, tuple[float, float, int]],
               timescale_s: float = 1e-12) -> Path:
    """A flat backward SAIF: `nets[name] = (T0 s, T1 s, TC)`, names escaped as SAIF requires
    (so flattened hierarchical names like `u1.acc[3]` survive); read back by `read_saif` with
    `scope=design`."""
    from flow.util import atomic_write_text

    unit = {1e-9: "1 ns", 1e-12: "1 ps", 1e-15: "1 fs"}.get(timescale_s)
    if unit is None:
        raise ValueError(f"unsupported SAIF timescale {timescale_s}")
    if duration_s <= 0:
        raise ValueError("SAIF duration must be positive")

    def ticks(t: float) -> int:
        return max(0, int(round(t / timescale_s)))

    lines = ["(SAIFILE", '(SAIFVERSION "2.0")', '(DIRECTION "backward")', f'(DESIGN "{design}")',
             '(PROGRAM_NAME "vhflow")', f"(TIMESCALE {unit})", f"(DURATION {ticks(duration_s)})",
             f"(INSTANCE {_saif_name(design)}", "  (NET"]
    for name, (t0, t1, tc) in nets.items():
        lines.append(f"    ({_saif_name(name)} (T0 {ticks(t0)}) (T1 {ticks(t1)}) (TX 0) (TC {int(tc)}))")
    lines += ["  )", ")", ")"]
    atomic_write_text(Path(path), "\n".join(lines) + "\n")
    return Path(path)
