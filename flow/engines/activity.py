"""Switching activity: Liberty boolean expressions as trees, probability and density propagation.

Two models live here:

* `sta_eval` — OpenSTA's `Power::evalActivity` rules (pairwise independence formulas applied
  on the *binary tree* of the expression, e.g. AND: D = D1·P2 + D2·P1, P = P1·P2) and its
  `inferedWhen` rule for internal power without `when`; used when we must agree with `sta`.
* `exact_probability` / `najm_density` — exact signal probability and Najm's transition
  density D(y) = Σ_i P(∂y/∂x_i)·D(x_i) by enumerating the 2^k input states of one gate
  (inputs independent); used for our own default propagation (`propagate_activity`).

Expressions follow the Liberty grammar: `!a`, `a'`, `a & b`, `a b` (and), `a * b`, `a | b`,
`a + b`, `a ^ b`, `( )`, `0`, `1`; precedence (low→high) `| +`, `& * space`, `^`, `! '` as
OpenSTA's parser. Trees are tuples: ("port", name) | ("not", e) | ("and"|"or"|"xor", l, r) |
("one",) | ("zero",).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping

import numpy as np

from flow.errors import FormatError

Expr = tuple
_TOKS = re.compile(r"\s*(?:([A-Za-z_][\w\[\]\.]*|\"[^\"]*\")|([01])|(.))")


def parse_function(text: str) -> Expr:
    """Parse a Liberty boolean expression into a binary tree (left-associative)."""
    toks: list[tuple[str, str]] = []
    for m in _TOKS.finditer(text.strip()):
        if m.group(1):
            toks.append(("id", m.group(1).strip('"')))
        elif m.group(2):
            toks.append(("const", m.group(2)))
        elif m.group(3) and not m.group(3).isspace():
            toks.append(("op", m.group(3)))
    pos = 0

    def peek() -> tuple[str, str] | None:
        return toks[pos] if pos < len(toks) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(toks):
            raise FormatError(None, None, f"unexpected end of function {text!r}")
        pos += 1
        return toks[pos - 1]

    def primary() -> Expr:
        t = take()
        if t == ("op", "!"):
            e: Expr = ("not", primary())
        elif t == ("op", "("):
            e = orx()
            if take() != ("op", ")"):
                raise FormatError(None, None, f"missing ')' in function {text!r}")
        elif t[0] == "id":
            e = ("port", t[1])
        elif t[0] == "const":
            e = ("one",) if t[1] == "1" else ("zero",)
        else:
            raise FormatError(None, None, f"unexpected {t[1]!r} in function {text!r}")
        while peek() == ("op", "'"):
            take()
            e = ("not", e)
        return e

    def xorx() -> Expr:
        e = primary()
        while peek() == ("op", "^"):
            take()
            e = ("xor", e, primary())
        return e

    def andx() -> Expr:
        e = xorx()
        while True:
            t = peek()
            if t in (("op", "&"), ("op", "*")):
                take()
                e = ("and", e, xorx())
            elif t is not None and (t[0] in ("id", "const") or t in (("op", "("), ("op", "!"))):
                e = ("and", e, xorx())  # juxtaposition
            else:
                return e

    def orx() -> Expr:
        e = andx()
        while peek() in (("op", "|"), ("op", "+")):
            take()
            e = ("or", e, andx())
        return e

    if not toks:
        raise FormatError(None, None, "empty function")
    tree = orx()
    if pos != len(toks):
        raise FormatError(None, None, f"trailing {toks[pos][1]!r} in function {text!r}")
    return tree


def ports(e: Expr) -> list[str]:
    """Port names in an expression, first occurrence order."""
    out: list[str] = []

    def walk(x: Expr) -> None:
        if x[0] == "port":
            if x[1] not in out:
                out.append(x[1])
        else:
            for c in x[1:]:
                walk(c)

    walk(e)
    return out


def evaluate(e: Expr, values: Mapping[str, bool]) -> bool:
    op = e[0]
    if op == "port":
        return bool(values[e[1]])
    if op == "not":
        return not evaluate(e[1], values)
    if op == "and":
        return evaluate(e[1], values) and evaluate(e[2], values)
    if op == "or":
        return evaluate(e[1], values) or evaluate(e[2], values)
    if op == "xor":
        return evaluate(e[1], values) != evaluate(e[2], values)
    return op == "one"


def sta_eval(e: Expr, act: Callable[[str], tuple[float, float]]) -> tuple[float, float]:
    """(density, duty) by OpenSTA's pairwise formulas on the expression tree."""
    op = e[0]
    if op == "port":
        return act(e[1])
    if op == "not":
        d, p = sta_eval(e[1], act)
        return d, 1.0 - p
    if op in ("and", "or", "xor"):
        d1, p1 = sta_eval(e[1], act)
        d2, p2 = sta_eval(e[2], act)
        if op == "and":
            return d1 * p2 + d2 * p1, p1 * p2
        if op == "or":
            q1, q2 = 1.0 - p1, 1.0 - p2
            return d1 * q2 + d2 * q1, 1.0 - q1 * q2
        a, b = p1 * (1.0 - p2), p2 * (1.0 - p1)
        return d1 * a + d2 * b, a + b
    return 0.0, 1.0 if op == "one" else 0.0


def _is_ref(e: Expr, port: str) -> bool:
    return (e[0] == "port" and e[1] == port) or (e[0] == "not" and e[1][0] == "port" and e[1][1] == port)


def _negate(e: Expr) -> Expr:
    return e[1] if e[0] == "not" else ("not", e)


def infered_when(e: Expr, port: str) -> Expr | None:
    """The side condition under which `port` controls `e` at the top of the tree (OpenSTA)."""
    op = e[0]
    if op == "port":
        return ("one",) if e[1] == port else None
    if op == "not":
        return infered_when(e[1], port)
    if op in ("or", "xor"):
        if _is_ref(e[1], port):
            return _negate(e[2])
        if _is_ref(e[2], port):
            return _negate(e[1])
    if op == "and":
        if _is_ref(e[1], port):
            return e[2]
        if _is_ref(e[2], port):
            return e[1]
    return None


def exact_probability(e: Expr, duty: Mapping[str, float]) -> float:
    """P(e = 1) with independent inputs, by enumerating the 2^k input states."""
    names = ports(e)
    total = 0.0
    for bits in itertools.product((False, True), repeat=len(names)):
        w = 1.0
        for nm, b in zip(names, bits, strict=True):
            w *= duty[nm] if b else 1.0 - duty[nm]
        if w and evaluate(e, dict(zip(names, bits, strict=True))):
            total += w
    return total


def najm_density(e: Expr, duty: Mapping[str, float], density: Mapping[str, float]) -> float:
    """Najm transition density: Σ_i P(f|x_i=1 xor f|x_i=0) · D(x_i), exact per gate."""
    names = ports(e)
    out = 0.0
    for i, xi in enumerate(names):
        others = names[:i] + names[i + 1:]
        p = 0.0
        for bits in itertools.product((False, True), repeat=len(others)):
            w = 1.0
            vals = {}
            for nm, b in zip(others, bits, strict=True):
                w *= duty[nm] if b else 1.0 - duty[nm]
                vals[nm] = b
            if not w:
                continue
            if evaluate(e, {**vals, xi: True}) != evaluate(e, {**vals, xi: False}):
                p += w
        out += p * density[xi]
    return out


# ---- truth tables: exact duty and Boolean-difference density, vectorised over instances -----
def truth_table(e: Expr, names: list[str]) -> np.ndarray:
    """f at each of the 2^k input states (state bit i = value of names[i])."""
    k = len(names)
    out = np.zeros(1 << k, dtype=bool)
    for s in range(1 << k):
        out[s] = evaluate(e, {nm: bool((s >> i) & 1) for i, nm in enumerate(names)})
    return out


def state_weights(duty: np.ndarray) -> np.ndarray:
    """P(state) for m instances with k independent inputs: duty (m, k) -> (m, 2^k)."""
    m, k = duty.shape
    w = np.ones((m, 1))
    for i in range(k):  # state bit i is the high-order bit added at step i
        p = duty[:, i:i + 1]
        w = np.concatenate([w * (1.0 - p), w * p], axis=1)
    return w


def boolean_difference(table: np.ndarray, i: int) -> np.ndarray:
    """∂f/∂x_i as a table over the same states: f(x_i=1) xor f(x_i=0)."""
    idx = np.arange(table.size)
    return table != table[idx ^ (1 << i)]


def table_duty_density(table: np.ndarray, duty: np.ndarray, density: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact P(f=1) and transition density Σ_i D_i · P(∂f/∂x_i) of independent inputs — what a
    BDD evaluation (OpenSTA 3 `evalBddDuty` / `evalBddActivity`) gives. duty, density: (m, k)."""
    w = state_weights(duty)
    p = w @ table.astype(float)
    d = np.zeros(duty.shape[0])
    for i in range(duty.shape[1]):
        d += density[:, i] * (w @ boolean_difference(table, i).astype(float))
    return p, d
