"""ORFS `config.mk` files, read without make or a shell.

ORFS design configs use a small subset of GNU Make: `[export] VAR = value` (and `?=`, `:=`,
`::=`, `+=`), `$(VAR)`/`${VAR}` references, comments, backslash continuations, `ifeq`/`ifneq`/
`ifdef`/`ifndef`/`else`/`endif`, and a few functions (`$(sort $(wildcard …))`, `$(dir …)`,
`$(notdir …)`, `$(abspath …)`, `$(realpath …)`, `$(addprefix …)`, `$(addsuffix …)`,
`$(strip …)`, `$(subst …)`, `$(patsubst …)`, `$(filter …)`, `$(filter-out …)`, `$(word …)`,
`$(words …)`, `$(firstword …)`, `$(lastword …)`, `$(if …)`, `$(or …)`, `$(and …)`). That subset
is interpreted here with make's semantics (recursive `=` expanded on use, `:=` at once, `?=`
only when unset, the environment as make imports it). Anything else — `$(shell …)`, `include`,
rules, `$(eval …)` — is a `FormatError` naming file and line: a config never runs a program.
"""

from __future__ import annotations

import glob as _glob
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flow.errors import FormatError

_ASSIGN = re.compile(r"^(?:(export|override|unexport)\s+)*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(\?=|:::=|::=|:=|\+=|!=|=)(.*)$")
_EXPORT_ONLY = re.compile(r"^(?:export|unexport)(\s+[A-Za-z_][A-Za-z0-9_]*)*\s*$")
_COND = re.compile(r"^(ifeq|ifneq|ifdef|ifndef)\b\s*(.*)$")
_MAX_DEPTH = 64


@dataclass
class MkVariable:
    """One variable as the file leaves it: its unexpanded text (recursive `=`) or its value."""

    text: str
    recursive: bool
    line: int
    origin: str = "file"  # "file" or "environment"
    exported: bool = False


@dataclass
class MkConfig:
    """A read `config.mk`: every variable it sets, expanded, with the line that set it last."""

    path: Path
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    exported: set[str] = field(default_factory=set)


class _Reader:
    def __init__(self, path: Path, predefined: Mapping[str, str], env: Mapping[str, str],
                 lazy: Mapping[str, Callable[[], str]], base_dir: Path | None = None):
        self.path = path
        self.base_dir = base_dir or path.parent  # make's working directory, for relative paths
        self.vars: dict[str, MkVariable] = {k: MkVariable(v, False, 0, "predefined") for k, v in predefined.items()}
        self.env = env
        self.lazy = lazy
        self.line = 0
        self.depth = 0
        self.expanding: set[str] = set()

    def error(self, msg: str, line: int | None = None) -> FormatError:
        return FormatError(self.path, line if line is not None else self.line, msg)

    # ---- expansion ----------------------------------------------------------------------
    def value(self, name: str) -> str:
        var = self.vars.get(name)
        if var is None:
            if name in self.lazy:
                return self.lazy[name]()
            return self.env.get(name, "")
        if not var.recursive:
            return var.text
        if name in self.expanding:
            raise self.error(f"variable {name} references itself (recursive = loop)", var.line or None)
        self.expanding.add(name)
        try:
            return self.expand(var.text)
        finally:
            self.expanding.discard(name)

    def defined(self, name: str) -> bool:
        return name in self.vars or name in self.env or name in self.lazy

    def expand(self, text: str) -> str:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error("expansion nested too deeply")
        try:
            out: list[str] = []
            i = 0
            while i < len(text):
                c = text[i]
                if c != "$":
                    out.append(c)
                    i += 1
                    continue
                if i + 1 >= len(text):
                    out.append("$")
                    break
                n = text[i + 1]
                if n == "$":
                    out.append("$")
                    i += 2
                elif n in "({":
                    close = ")" if n == "(" else "}"
                    end = self._matching(text, i + 1, n, close)
                    out.append(self._reference(text[i + 2:end]))
                    i = end + 1
                else:  # $X: a one-letter variable
                    out.append(self.value(n))
                    i += 2
            return "".join(out)
        finally:
            self.depth -= 1

    def _matching(self, text: str, start: int, open_: str, close: str) -> int:
        level = 0
        for j in range(start, len(text)):
            if text[j] == open_:
                level += 1
            elif text[j] == close:
                level -= 1
                if level == 0:
                    return j
        raise self.error(f"unterminated reference {text[start - 1:start + 30]!r}")

    def _reference(self, body: str) -> str:
        m = re.match(r"([a-z][a-z\-]*)\s+(.*)$", body, re.S)
        if m and m.group(1) in _FUNCTIONS:
            return _FUNCTIONS[m.group(1)](self, m.group(2))
        if m and m.group(1) in _REFUSED:
            raise self.error(f"$({m.group(1)} …) is not supported in a config read by vhflow "
                             "(it never runs make or a shell); set the value directly")
        if ":" in body and "=" in body:  # $(VAR:.v=.o) substitution reference
            name, rest = body.split(":", 1)
            old, new = rest.split("=", 1)
            words = self.expand(f"$({name})").split()
            return " ".join(_patsubst("%" + old if "%" not in old else old,
                                      "%" + new if "%" not in new else new, w) for w in words)
        name = self.expand(body).strip()
        if m and not self.defined(name) and " " in body:
            raise self.error(f"unknown make function {m.group(1)!r}")
        return self.value(name)

    def args(self, text: str, n: int) -> list[str]:
        """Split a function's arguments on top-level commas (at most n parts)."""
        parts, level, cur = [], 0, []
        for c in text:
            if c in "({":
                level += 1
            elif c in ")}":
                level -= 1
            if c == "," and level == 0 and len(parts) < n - 1:
                parts.append("".join(cur))
                cur = []
            else:
                cur.append(c)
        parts.append("".join(cur))
        return parts

    # ---- statements ---------------------------------------------------------------------
    def assign(self, name: str, op: str, rhs: str, line: int) -> None:
        rhs = rhs.lstrip()
        prev = self.vars.get(name)
        if op == "!=":
            raise self.error(f"{name} != …: shell assignment is not supported (vhflow never runs a shell)")
        if op == "?=":
            if prev is not None or name in self.env:
                if prev is None:  # make takes the environment's value
                    self.vars[name] = MkVariable(self.env[name], False, line, "environment")
                return
            self.vars[name] = MkVariable(rhs, True, line)
        elif op in (":=", "::=", ":::="):
            self.vars[name] = MkVariable(self.expand(rhs), False, line)
        elif op == "+=":
            if prev is None:
                base = self.env.get(name)
                self.vars[name] = MkVariable(rhs if base is None else f"{base} {rhs}", True, line)
            elif prev.recursive:
                self.vars[name] = MkVariable(f"{prev.text} {rhs}" if prev.text else rhs, True, line)
            else:
                self.vars[name] = MkVariable(f"{prev.text} {self.expand(rhs)}".strip(), False, line)
        else:
            self.vars[name] = MkVariable(rhs, True, line)

    def condition(self, kind: str, rest: str) -> bool:
        rest = _strip_comment(rest).strip()
        if kind in ("ifdef", "ifndef"):
            name = self.expand(rest).strip()
            var = self.vars.get(name)
            is_set = bool(self.value(name)) if (var is not None or name in self.env) else False
            return is_set if kind == "ifdef" else not is_set
        if rest.startswith("("):
            end = self._matching(rest, 0, "(", ")")
            a, b = (self.expand(x).strip() for x in self.args(rest[1:end], 2))
        else:
            m = re.match(r"""(["'])(.*?)\1\s+(["'])(.*?)\3\s*$""", rest)
            if not m:
                raise self.error(f"cannot read the condition of {kind}: {rest!r}")
            a, b = self.expand(m.group(2)), self.expand(m.group(4))
        return (a == b) if kind == "ifeq" else (a != b)


def _strip_comment(line: str) -> str:
    """Make's comments: `#` to the end of the line unless written `\\#`."""
    out, i = [], 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line) and line[i + 1] == "#":
            out.append("#")
            i += 2
            continue
        if line[i] == "#":
            break
        out.append(line[i])
        i += 1
    return "".join(out)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line, text) with backslash-newline joined into one space, as make does."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for i, raw in enumerate(text.splitlines(), start=1):
        if not buf:
            start = i
        stripped = raw.rstrip()
        trailing = len(stripped) - len(stripped.rstrip("\\"))
        if trailing % 2 == 1:
            buf.append(stripped[:-1].strip() if buf else stripped[:-1].rstrip())
            continue
        buf.append(raw.strip() if buf else raw)
        out.append((start, " ".join(p for p in buf if p != "") if len(buf) > 1 else buf[0]))
        buf = []
    if buf:
        out.append((start, " ".join(buf)))
    return out


def read_config_mk(
    path: Path | str,
    *,
    predefined: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    lazy: Mapping[str, Callable[[], str]] | None = None,
    reader_hook: dict | None = None,
    base_dir: Path | None = None,
) -> MkConfig:
    """Read an ORFS `config.mk`. `predefined` are make's own (`DESIGN_HOME`, …), `lazy` are
    computed only if referenced (`PLATFORM_DIR` once `PLATFORM` is known), `env` stands for the
    environment make imports (default `os.environ`); `base_dir` stands for make's working directory
    (relative `$(wildcard …)`/`$(abspath …)`), default the file's directory."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FormatError(path, None, "config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(path, None, f"cannot read config file: {exc}") from None
    r = _Reader(path, predefined or {}, os.environ if env is None else env, lazy or {}, base_dir)
    if reader_hook is not None:
        reader_hook["r"] = r  # lets a lazy variable read others (PLATFORM_DIR needs PLATFORM)
    exported: set[str] = set()
    stack: list[tuple[bool, bool, int]] = []  # (this branch active, some branch taken, line)

    def active() -> bool:
        return all(a for a, _, _ in stack)

    for line_no, raw in _logical_lines(text):
        r.line = line_no
        if raw.startswith("\t") and active():
            raise r.error("a recipe line (starts with a tab): config files hold variables, not rules")
        line = raw.strip()
        cond = _COND.match(line)
        if cond:
            value = r.condition(cond.group(1), cond.group(2)) if active() else False
            stack.append((value, value, line_no))
            continue
        word = _strip_comment(line).strip()
        if word.startswith("else"):
            if not stack:
                raise r.error("else without ifeq/ifdef")
            _, taken, start = stack.pop()
            rest = word[4:].strip()
            nested = _COND.match(rest)
            if nested:
                outer = all(a for a, _, _ in stack)
                value = (not taken) and outer and r.condition(nested.group(1), nested.group(2))
                stack.append((value, taken or value, start))
            elif rest:
                raise r.error(f"unexpected text after else: {rest!r}")
            else:
                stack.append((not taken, True, start))
            continue
        if word == "endif":
            if not stack:
                raise r.error("endif without ifeq/ifdef")
            stack.pop()
            continue
        if not active():
            continue
        m = _ASSIGN.match(line)
        if m:
            name, op, rhs = m.group(2), m.group(3), m.group(4)
            if m.group(1) == "unexport":
                continue
            if line.startswith("export"):
                exported.add(name)
            r.assign(name, op, _strip_comment(rhs).rstrip() if op != "!=" else rhs, line_no)
            continue
        if not word:
            continue
        if _EXPORT_ONLY.match(word):
            if word.startswith("export"):
                exported.update(word.split()[1:])
            continue
        first = word.split()[0]
        if first in ("include", "-include", "sinclude"):
            raise r.error(f"{first}: a config read by vhflow is one file (no include); merge the settings")
        if first in ("define", "endef", "vpath", "$(eval", "$(info", "$(warning", "$(error"):
            if first == "$(error":
                raise r.error("the config stops with $(error …): " + r.expand(word[len("$(error"):-1]).strip())
            if first in ("$(info", "$(warning"):
                continue
            raise r.error(f"{first}: not supported in a config read by vhflow")
        raise r.error(f"cannot read this line as a variable assignment: {word[:60]!r}")
    if stack:
        raise r.error(f"{len(stack)} conditional(s) not closed by endif", stack[-1][2])

    cfg = MkConfig(path, exported=exported)
    for name, var in r.vars.items():
        if var.origin == "predefined":
            continue
        r.line = var.line
        cfg.values[name] = " ".join(r.value(name).split())
        cfg.lines[name] = var.line
    return cfg


# ---- make functions --------------------------------------------------------------------------
def _patsubst(pattern: str, replacement: str, word: str) -> str:
    if "%" not in pattern:
        return replacement if word == pattern else word
    pre, post = pattern.split("%", 1)
    if word.startswith(pre) and word.endswith(post) and len(word) >= len(pre) + len(post):
        stem = word[len(pre):len(word) - len(post)]
        return replacement.replace("%", stem, 1)
    return word


def _fn_wildcard(r: _Reader, a: str) -> str:
    out: list[str] = []
    for pat in r.expand(a).split():
        if os.path.isabs(pat):
            out.extend(_glob.glob(pat))  # make's $(wildcard) does not sort; $(sort …) does
        else:
            out.extend(_glob.glob(pat, root_dir=r.base_dir))
    return " ".join(out)


def _fn_abspath(r: _Reader, a: str) -> str:
    return " ".join(os.path.normpath(os.path.join(r.base_dir, w)) for w in r.expand(a).split())


def _fn_realpath(r: _Reader, a: str) -> str:
    paths = (os.path.join(r.base_dir, w) for w in r.expand(a).split())
    return " ".join(os.path.realpath(p) for p in paths if os.path.exists(p))


def _fn_words(f: Callable[[list[str]], list[str]]) -> Callable[[_Reader, str], str]:
    return lambda r, a: " ".join(f(r.expand(a).split()))


def _fn_dir(words: list[str]) -> list[str]:
    return [(w.rsplit("/", 1)[0] + "/") if "/" in w else "./" for w in words]


def _fn_subst(r: _Reader, a: str) -> str:
    frm, to, text = (r.expand(x) for x in r.args(a, 3))
    return text.replace(frm, to) if frm else text


def _fn_patsubst(r: _Reader, a: str) -> str:
    pat, rep, text = (r.expand(x) for x in r.args(a, 3))
    return " ".join(_patsubst(pat.strip(), rep.strip(), w) for w in text.split())


def _fn_filter(keep: bool) -> Callable[[_Reader, str], str]:
    def f(r: _Reader, a: str) -> str:
        pats, text = (r.expand(x).split() for x in r.args(a, 2))
        def hit(w: str) -> bool:
            return any(_patsubst(p, "\0", w) == "\0" for p in pats)
        return " ".join(w for w in text if hit(w) == keep)
    return f


def _fn_affix(prefix: bool) -> Callable[[_Reader, str], str]:
    def f(r: _Reader, a: str) -> str:
        fix, text = (r.expand(x) for x in r.args(a, 2))
        fix = fix.strip()
        return " ".join((fix + w) if prefix else (w + fix) for w in text.split())
    return f


def _fn_word(r: _Reader, a: str) -> str:
    n, text = (r.expand(x) for x in r.args(a, 2))
    try:
        i = int(n.strip())
    except ValueError:
        raise r.error(f"$(word {n},…): not a number") from None
    words = text.split()
    return words[i - 1] if 1 <= i <= len(words) else ""


def _fn_if(r: _Reader, a: str) -> str:
    parts = r.args(a, 3)
    if r.expand(parts[0]).strip():
        return r.expand(parts[1]) if len(parts) > 1 else ""
    return r.expand(parts[2]) if len(parts) > 2 else ""


def _fn_or(r: _Reader, a: str) -> str:
    for part in r.args(a, 1 << 10):
        v = r.expand(part).strip()
        if v:
            return v
    return ""


def _fn_and(r: _Reader, a: str) -> str:
    v = ""
    for part in r.args(a, 1 << 10):
        v = r.expand(part).strip()
        if not v:
            return ""
    return v


_FUNCTIONS: dict[str, Callable[[_Reader, str], str]] = {
    "wildcard": _fn_wildcard,
    "sort": _fn_words(lambda w: sorted(set(w))),
    "dir": _fn_words(_fn_dir),
    "notdir": _fn_words(lambda w: [x.rsplit("/", 1)[-1] for x in w]),
    "abspath": _fn_abspath,
    "realpath": _fn_realpath,
    "basename": _fn_words(lambda w: [os.path.splitext(x)[0] for x in w]),
    "suffix": _fn_words(lambda w: [os.path.splitext(x)[1] for x in w if os.path.splitext(x)[1]]),
    "strip": _fn_words(lambda w: w),
    "words": lambda r, a: str(len(r.expand(a).split())),
    "firstword": _fn_words(lambda w: w[:1]),
    "lastword": _fn_words(lambda w: w[-1:]),
    "addprefix": _fn_affix(True),
    "addsuffix": _fn_affix(False),
    "subst": _fn_subst,
    "patsubst": _fn_patsubst,
    "filter": _fn_filter(True),
    "filter-out": _fn_filter(False),
    "word": _fn_word,
    "if": _fn_if,
    "or": _fn_or,
    "and": _fn_and,
}
_REFUSED = {"shell", "eval", "call", "foreach", "file", "value", "origin", "flavor", "guile", "error"}
