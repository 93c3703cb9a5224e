"""SystemVerilog front end (`SYNTH_HDL_FRONTEND = "slang"`): pyslang reads the design, Yosys maps it.

ORFS reads SystemVerilog designs (ibex, ...) through the yosys-slang plugin. Plugins need
`dlopen`, which the WebAssembly Yosys we ship cannot do, so the same compiler, slang, is used
through its Python binding (`pyslang`, PyPI) as a front-end step before Yosys' own
`read_verilog -sv`:

1. every file is parsed and the whole design elaborated by slang; any error is reported as
   `FormatError(file, line, message)`, so a design slang rejects never reaches Yosys;
2. files that declare packages are passed first (in the order their packages depend on each
   other), whatever the order of VERILOG_FILES — as slang, unlike Yosys, does not care;
3. each file is rewritten, token by token from slang's syntax tree, into the subset Yosys reads:
   package imports (`import p::*;`, `import p::x;`, in module headers or bodies) are removed and
   every identifier they made visible is written `p::name`; unpacked dimensions of ANSI ports
   (`input t a [N]`, `[0:N-1]`) become packed ones (`input t [0:N-1] a`), which index the same
   way (`a[0]` is the first element in both) and which Yosys accepts on ports.

The rewritten files (`<stage>/sv/*.sv`) are what Yosys reads; they keep the original line
breaks, so Yosys' line numbers still point at the user's lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from flow.errors import ConfigError, FormatError


def _pyslang():
    try:
        import pyslang
    except ImportError:  # pragma: no cover - a declared dependency
        raise ConfigError("SYNTH_HDL_FRONTEND = slang needs the pyslang package (pip install pyslang)") from None
    return pyslang


def _tokens(node, out: list) -> None:
    ps = _pyslang()

    def visit(n):
        if isinstance(n, ps.parsing.Token):
            out.append(n)
        return True

    node.visit(visit)


def _nodes(node, kind_name: str) -> list:
    found = []

    def visit(n):
        if not isinstance(n, _pyslang().parsing.Token) and str(n.kind).endswith("." + kind_name):
            found.append(n)
        return True

    node.visit(visit)
    return found


def prepare_sources(files: Iterable[Path], out_dir: Path, *, include_dirs: Iterable[Path] = (),
                    defines: Mapping[str, object] | None = None) -> list[Path]:
    """Check `files` with slang and write the Yosys-readable copies into `out_dir`, package
    files first; returns their paths in read order."""
    ps = _pyslang()
    files = [Path(f) for f in files]
    sm = ps.SourceManager()
    for d in include_dirs:
        sm.addUserDirectories(str(d))
    popts = ps.parsing.PreprocessorOptions()
    popts.predefines = [f"{k}={v}" for k, v in (defines or {}).items()]
    bag = ps.Bag([popts])
    trees = []
    for f in files:
        try:
            trees.append(ps.syntax.SyntaxTree.fromFile(str(f), sm, bag))
        except Exception as exc:  # pyslang raises on unreadable files
            raise FormatError(f, None, f"cannot read: {exc}") from None
    comp = ps.ast.Compilation()
    for t in trees:
        comp.addSyntaxTree(t)
    for diag in comp.getAllDiagnostics():
        if diag.isError():
            text = ps.DiagnosticEngine.reportAll(sm, [diag]).strip().splitlines()[0]
            msg = text.split("error:", 1)[-1].strip()
            raise FormatError(Path(sm.getFileName(diag.location)), sm.getLineNumber(diag.location), msg)
    # package members (enum values included), from the elaborated design
    members: dict[str, set[str]] = {}
    pkg_file: dict[str, int] = {}
    for k, t in enumerate(trees):
        for pd in _nodes(t.root, "PackageDeclaration"):
            name = pd.header.name.valueText
            pkg_file[name] = k
            sym = comp.getPackage(name)
            names = {m.name for m in sym} if sym is not None else set()
            for en in _nodes(pd, "EnumType"):
                names |= {d.name.valueText for d in _nodes(en, "Declarator")}
            members[name] = {n for n in names if n}
    # file order: package files by dependency (a package file after the packages it imports)
    deps = {k: set() for k in range(len(trees))}
    for k, t in enumerate(trees):
        for item in _nodes(t.root, "PackageImportItem"):
            p = item.package.valueText
            if p in pkg_file and pkg_file[p] != k:
                deps[k].add(pkg_file[p])
        for sc in _nodes(t.root, "ScopedName"):
            p = str(sc.left).strip()
            if p in pkg_file and pkg_file[p] != k:
                deps[k].add(pkg_file[p])
    order: list[int] = []
    seen: set[int] = set()

    def place(k: int, stack: tuple[int, ...] = ()) -> None:
        if k in seen or k in stack:
            return
        for d in sorted(deps[k]):
            place(d, stack + (k,))
        seen.add(k)
        order.append(k)

    for k in sorted(set(pkg_file.values())):
        place(k)
    for k in range(len(trees)):
        place(k)
    out_dir.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for n, k in enumerate(order):
        text = _rewrite(trees[k], files[k], members)
        dst = out_dir / f"{n:03d}_{files[k].stem}{files[k].suffix or '.sv'}"
        dst.write_text(text)
        out.append(dst)
    return out


def _all_tokens(node) -> list:
    toks: list = []
    _tokens(node, toks)
    return toks


def _qualified(toks: list, visible: Mapping[str, str]) -> str:
    """Tokens as text with identifiers from imported packages written `pkg::name`."""
    parts = []
    for i, tok in enumerate(toks):
        text = tok.valueText if str(tok.kind) == "TokenKind.Identifier" else tok.rawText
        if _needs_scope(toks, i, visible):
            text = f"{visible[tok.valueText]}::{text}"
        parts.append(text)
    return " ".join(parts)


def _needs_scope(toks: list, i: int, visible: Mapping[str, str]) -> bool:
    tok = toks[i]
    if str(tok.kind) != "TokenKind.Identifier" or tok.valueText not in visible:
        return False
    prev = toks[i - 1] if i else None
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    if prev is not None and str(prev.kind) in ("TokenKind.DoubleColon", "TokenKind.Dot"):
        return False
    return not (nxt is not None and str(nxt.kind) == "TokenKind.DoubleColon")


def _rewrite(tree, path: Path, members: Mapping[str, set[str]]) -> str:
    """The file's text with imports made explicit and port unpacked dimensions packed."""
    src = path.read_bytes()
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in bytes of the file
    for mod in _nodes(tree.root, "ModuleDeclaration") + _nodes(tree.root, "InterfaceDeclaration"):
        visible: dict[str, str] = {}
        for imp in _nodes(mod, "PackageImportDeclaration"):
            for item in _nodes(imp, "PackageImportItem"):
                p, what = item.package.valueText, item.item.valueText
                for nm in (members.get(p, set()) if what == "*" or not what else {what}):
                    visible.setdefault(nm, p)
            r = imp.sourceRange
            edits.append((r.start.offset, r.end.offset, ""))
        removed: list[tuple[int, int]] = []
        for port in _nodes(mod, "ImplicitAnsiPort"):
            dims = list(port.declarator.dimensions)
            if not dims:
                continue
            packed = ""
            for d in dims:
                spec = d.specifier
                text = _qualified(_all_tokens(spec), visible) if spec is not None else ""
                if spec is None or not str(spec.selector.kind).endswith("RangeSelect"):
                    text = f"0:({text})-1"  # an unpacked [N] is [0:N-1]
                packed += f"[{text}]"
                r = d.sourceRange
                edits.append((r.start.offset, r.end.offset, ""))
                removed.append((r.start.offset, r.end.offset))
            # unpacked dimensions are indexed first: they go left of the packed ones
            dtype = getattr(port.header, "dataType", None)
            pdims = list(getattr(dtype, "dimensions", None) or [])
            if pdims:
                off = pdims[0].sourceRange.start.offset
                edits.append((off, off, f" {packed}"))
            else:
                off = port.declarator.name.location.offset
                edits.append((off, off, f"{packed} "))
        toks = _all_tokens(mod)
        for i, tok in enumerate(toks):
            if not _needs_scope(toks, i, visible):
                continue
            off = tok.location.offset
            if any(a <= off < b for a, b in removed):
                continue
            edits.append((off, off + len(tok.valueText.encode()), f"{visible[tok.valueText]}::{tok.valueText}"))
    out = src
    for start, end, rep in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out = out[:start] + rep.encode() + out[end:]
    return out.decode(errors="replace")
