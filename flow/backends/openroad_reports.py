"""Parsers for OpenROAD / OpenSTA report text and ORFS metrics files, into our metric keys.

The openroad backend cannot ask OpenROAD for numbers through an API: it runs `openroad` as a
subprocess and reads what it prints. So every report the rendered scripts print has a parser
here, pinned by tests against real output (OpenSTA 2019 as Debian ships it, and the layout of
current OpenROAD where it differs: `tns max -1.2`, `worst slack max 0.1`, a `Clock` power row,
`(Watts)` in the header, `um^2` in `report_design_area`).

Units: OpenSTA prints times in the Liberty time unit (ns for Nangate45 and Sky130) and power
in W; metric values are SI (s, W), with lengths in µm and areas in µm² as elsewhere in the flow.

A report that is present but unreadable raises FormatError naming the report and line: a
number silently dropped would look like a passing design.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flow.errors import FormatError

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_VAL = rf"(?:{_NUM}|-?INF|-?inf)"

#: marker the rendered scripts print before each report (see templates/_common.tcl.j2)
SECTION_MARK = "vhflow-section:"

POWER_GROUPS = ("Sequential", "Combinational", "Clock", "Macro", "Pad", "Total")


def _float(tok: str, what: str, path: Path | str | None, line: int | None) -> float:
    t = tok.strip()
    if t.lower() in {"inf", "+inf"}:
        return math.inf
    if t.lower() == "-inf":
        return -math.inf
    try:
        return float(t)
    except ValueError:
        raise FormatError(path, line, f"{what}: {tok!r} is not a number") from None


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


# ---- sections --------------------------------------------------------------------------------
def split_sections(text: str) -> dict[str, str]:
    """Log text cut at the `vhflow-section: <name>` markers the scripts print; text before the
    first marker is under "". A name printed twice keeps its last section (the final report)."""
    out: dict[str, str] = {}
    name = ""
    buf: list[str] = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(SECTION_MARK):
            out[name] = "\n".join(buf)
            name = s[len(SECTION_MARK):].strip()
            buf = []
        else:
            buf.append(line)
    out[name] = "\n".join(buf)
    return out


# ---- slack summaries ----------------------------------------------------------------------------
def _summary(text: str, word: str, path: Path | str | None, *, required: bool, strict: bool = True) -> dict[str, float]:
    """`tns -1.23`, `tns max -1.23` (current OpenSTA), `worst slack min 0.1` -> {"max": v, ...};
    a value without min/max is the max (setup) one, as old OpenSTA printed only that."""
    pat = re.compile(rf"^\s*{word}(?:\s+(max|min))?\s+(\S+)\s*$", re.M)
    out: dict[str, float] = {}
    for m in pat.finditer(text):
        if not strict and not re.fullmatch(_VAL, m.group(2)):
            continue
        out[m.group(1) or "max"] = _float(m.group(2), f"report_{word.replace(' ', '_')}", path,
                                          _line_of(text, m.start()))
    if required and not out:
        raise FormatError(path, None, f"no '{word} <value>' line (report_{word.replace(' ', '_')} output) found")
    return out


def _lenient(text: str, word: str) -> dict[str, float]:
    """The same lines scanned in a whole log: lines that do not read are someone else's."""
    return _summary(text, word, None, required=False, strict=False)


def parse_tns(text: str, path: Path | str | None = None) -> dict[str, float]:
    """`report_tns` -> {"max": tns} (and "min" when printed), in Liberty time units."""
    return _summary(text, "tns", path, required=True)


def parse_wns(text: str, path: Path | str | None = None) -> dict[str, float]:
    """`report_wns` -> {"max": wns} (and "min")."""
    return _summary(text, "wns", path, required=True)


def parse_worst_slack(text: str, path: Path | str | None = None) -> dict[str, float]:
    """`report_worst_slack -max/-min` -> {"max": ws, "min": ws} (INF when unconstrained)."""
    return _summary(text, "worst slack", path, required=True)


# ---- report_power -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PowerRow:
    internal: float
    switching: float
    leakage: float
    total: float


def parse_power(text: str, path: Path | str | None = None) -> dict[str, PowerRow]:
    """The `report_power` design table: group -> PowerRow in W. Needs the header and a Total
    row; a group row whose numbers do not read is an error, not a skipped row."""
    head = re.search(r"^\s*Group\s+Internal\s+Switching\s+Leakage\s+Total\s*$", text, re.M)
    if head is None:
        raise FormatError(path, None, "no report_power table (header 'Group Internal Switching Leakage Total') found")
    rows: dict[str, PowerRow] = {}
    groups = "|".join(POWER_GROUPS)
    row_re = re.compile(rf"^\s*({groups})\s+(.*)$")
    base = _line_of(text, head.start())
    for k, line in enumerate(text[head.start():].splitlines()):
        m = row_re.match(line)
        if not m:
            if rows.get("Total") is not None:
                break
            continue
        toks = m.group(2).split()
        nums = [t for t in toks if not t.endswith("%")]
        if len(nums) < 4:
            raise FormatError(path, base + k, f"report_power: {m.group(1)} row has {len(nums)} values, expected 4 "
                                              f"(internal switching leakage total): {line.strip()!r}")
        vals = [_float(t, f"report_power {m.group(1)}", path, base + k) for t in nums[:4]]
        rows[m.group(1)] = PowerRow(*vals)
        if m.group(1) == "Total":
            break
    if "Total" not in rows:
        raise FormatError(path, None, "report_power: table has no Total row (truncated report?)")
    return rows


# ---- report_checks ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimingPath:
    startpoint: str
    endpoint: str
    path_group: str | None
    path_type: str | None  # "max" (setup) or "min" (hold)
    arrival: float | None
    required: float | None
    slack: float
    met: bool


def parse_checks(text: str, path: Path | str | None = None) -> list[TimingPath]:
    """Every path `report_checks` printed (any -format); [] for "No paths found."."""
    starts = [m.start() for m in re.finditer(r"^\s*Startpoint:", text, re.M)]
    out: list[TimingPath] = []
    for i, s in enumerate(starts):
        block = text[s: starts[i + 1] if i + 1 < len(starts) else len(text)]
        line = _line_of(text, s)

        def field(name: str, block: str = block) -> str | None:
            m = re.search(rf"^\s*{name}:\s*(.+?)\s*$", block, re.M)
            return m.group(1) if m else None

        sp, ep = field("Startpoint"), field("Endpoint")
        if ep is None:
            raise FormatError(path, line, "report_checks: path has a Startpoint but no Endpoint")
        sl = re.search(rf"^\s*({_VAL})\s+slack\s+\((MET|VIOLATED)\)", block, re.M)
        if sl is None:
            bad = re.search(r"^\s*(\S+)\s+slack\s+\(", block, re.M)
            if bad:
                _float(bad.group(1), "report_checks slack", path, line + block.count("\n", 0, bad.start()))
            raise FormatError(path, line, f"report_checks: path to {ep} has no 'slack (MET|VIOLATED)' line")
        arr = re.findall(rf"^\s*({_VAL})\s+data arrival time\s*$", block, re.M)
        req = re.findall(rf"^\s*({_VAL})\s+data required time\s*$", block, re.M)
        out.append(TimingPath(
            startpoint=(sp or "").split(" (")[0], endpoint=ep.split(" (")[0],
            path_group=field("Path Group"), path_type=field("Path Type"),
            arrival=_float(arr[0], "data arrival time", path, line) if arr else None,
            required=_float(req[0], "data required time", path, line) if req else None,
            slack=_float(sl.group(1), "slack", path, line), met=sl.group(2) == "MET",
        ))
    if not out and "No paths found" not in text and re.search(r"\bslack\b", text):
        raise FormatError(path, None, "report_checks: slack printed but no 'Startpoint:' path header found")
    return out


# ---- area, placement, routing -------------------------------------------------------------------
def parse_design_area(text: str, path: Path | str | None = None) -> tuple[float, float]:
    """`Design area 1928 um^2 40% utilization.` (older: `u^2`) -> (area µm², utilisation 0..1)."""
    m = re.search(r"Design area\s+(\S+)\s+u(?:m)?\^2\s+(\S+)%\s+utilization", text)
    if m is None:
        if "Design area" in text:
            line = _line_of(text, text.index("Design area"))
            raise FormatError(path, line, "report_design_area: expected 'Design area <n> um^2 <p>% utilization.'")
        raise FormatError(path, None, "no report_design_area line ('Design area ...') found")
    line = _line_of(text, m.start())
    return (_float(m.group(1), "design area", path, line), _float(m.group(2), "utilization", path, line) / 100.0)


@dataclass(frozen=True)
class PlacementCheck:
    """`check_placement` result: failures per check ("Overlap", "Site aligned", ...)."""

    failures: dict[str, int]
    failed: bool

    @property
    def violations(self) -> int:
        return sum(self.failures.values())


def parse_check_placement(text: str) -> PlacementCheck:
    """`[WARNING DPL-0005] Overlap check failed (3).` lines and `[ERROR DPL-0033] detailed
    placement checks failed.`; silence means the placement is legal."""
    failures: dict[str, int] = {}
    for m in re.finditer(r"([A-Za-z][A-Za-z ]*?) check failed \((\d+)\)", text):
        failures[m.group(1).strip()] = failures.get(m.group(1).strip(), 0) + int(m.group(2))
    failed = bool(failures) or bool(re.search(r"DPL-0033|detailed placement checks failed", text))
    return PlacementCheck(failures, failed)


def parse_hpwl(text: str) -> dict[str, float]:
    """Detailed placement's HPWL lines (`original HPWL 4516.1 u`, `legalized HPWL 4633.4 u`;
    older: `HPWL before 14519.2 u` / `HPWL after 14469.4 u`), µm."""
    out: dict[str, float] = {}
    for key, pats in (("before", ("original HPWL", "HPWL before")), ("after", ("legalized HPWL", "HPWL after"))):
        for p in pats:
            found = re.findall(rf"{p}\s+({_NUM})\s*u", text)
            if found:
                out[key] = float(found[-1])
    return out


def parse_wirelength(text: str) -> dict[str, float]:
    """Routed wire length, µm: `[INFO GRT-0018] Total wirelength: 10537 um` (global route) and
    `Total wire length = 9876 um.` (detailed route)."""
    out: dict[str, float] = {}
    g = re.findall(rf"Total wirelength:\s*({_NUM})\s*um", text)
    if g:
        out["global"] = float(g[-1])
    d = re.findall(rf"Total wire length\s*=\s*({_NUM})\s*um", text)
    if d:
        out["detailed"] = float(d[-1])
    return out


# ---- ORFS metrics json ----------------------------------------------------------------------------
def flatten_metrics(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested ORFS metrics ({"floorplan": {"design__instance__area": ..}}) -> flat `a__b` keys."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}__{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(flatten_metrics(v, key))
        else:
            out[key] = v
    return out


#: our key <- ORFS key suffix, searched in stage order (last stage wins)
_ORFS_MAP = {
    "timing__setup__ws": ("timing__setup__ws",),
    "timing__setup__tns": ("timing__setup__tns",),
    "timing__hold__ws": ("timing__hold__ws",),
    "timing__hold__tns": ("timing__hold__tns",),
    "power__internal__total": ("power__internal__total",),
    "power__switching__total": ("power__switching__total",),
    "power__leakage__total": ("power__leakage__total",),
    "power__total": ("power__total",),
    "design__instance__area": ("design__instance__area",),
    "design__instance__utilization": ("design__instance__utilization",),
    "route__wirelength": ("route__wirelength",),
}
_STAGE_ORDER = ("floorplan", "globalplace", "detailedplace", "placeopt", "cts", "globalroute", "grt",
                "detailedroute", "finish")
_TIME_KEYS = {"timing__setup__ws", "timing__setup__tns", "timing__hold__ws", "timing__hold__tns"}


def parse_metrics_json(data: Mapping[str, Any] | str | Path, *, time_unit_s: float = 1e-9,
                       path: Path | str | None = None) -> dict[str, Any]:
    """An ORFS/OpenROAD metrics file (flat `globalplace__hpwl` keys or nested per stage) ->
    its flattened keys plus ours (timing in s). Our key takes the value of the latest stage."""
    if isinstance(data, str | Path):
        path = Path(data)
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise FormatError(path, None, f"cannot read metrics: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise FormatError(path, exc.lineno, f"invalid metrics JSON: {exc.msg}") from None
    if not isinstance(data, Mapping):
        raise FormatError(path, None, "metrics JSON is not an object")
    flat = flatten_metrics(data)
    out: dict[str, Any] = dict(flat)

    def rank(key: str) -> int:
        stage = key.split("__", 1)[0]
        return _STAGE_ORDER.index(stage) if stage in _STAGE_ORDER else -1

    for ours, suffixes in _ORFS_MAP.items():
        cands = [(rank(k), k) for k in flat for s in suffixes if k == s or k.endswith("__" + s)]
        cands = [(r, k) for r, k in cands if isinstance(flat[k], int | float) and not isinstance(flat[k], bool)]
        if not cands:
            continue
        _, key = max(cands)
        v = float(flat[key])
        out[ours] = v * time_unit_s if ours in _TIME_KEYS else v
    return out


# ---- whole logs ----------------------------------------------------------------------------
def _fin(v: float) -> float | None:
    return v if math.isfinite(v) else None


def parse_log(text: str, *, time_unit_s: float = 1e-9, path: Path | str | None = None) -> dict[str, Any]:
    """One stage's OpenROAD log -> our metrics. Uses the `vhflow-section:` markers when the log
    has them (each report parsed strictly), else scans the whole text for what it recognises."""
    sections = split_sections(text)
    marked = len(sections) > 1
    m: dict[str, Any] = {}

    def sec(name: str) -> str | None:
        if marked:
            return sections.get(name)
        return text

    t = sec("report_tns")
    if t is not None:
        v = parse_tns(t, path) if marked else _lenient(t, "tns")
        if "max" in v and _fin(v["max"]) is not None:
            m["timing__setup__tns"] = v["max"] * time_unit_s
        if "min" in v and _fin(v["min"]) is not None:
            m["timing__hold__tns"] = v["min"] * time_unit_s
    t = sec("report_wns")
    if t is not None:
        v = parse_wns(t, path) if marked else _lenient(t, "wns")
        if "max" in v:
            m["timing__setup__wns"] = v["max"] * time_unit_s
    for mode, key in (("max", "timing__setup__ws"), ("min", "timing__hold__ws")):
        t = sec(f"report_worst_slack_{mode}")
        if t is None:
            continue
        v = parse_worst_slack(t, path) if marked else _lenient(t, "worst slack")
        if not marked:
            if mode in v:
                m[key] = _fin(v[mode] * time_unit_s)
        else:
            val = v.get(mode, v.get("max"))  # old OpenSTA prints no mode word
            m[key] = _fin(val * time_unit_s) if val is not None else None
    for mode, key in (("max", "timing__setup__ws"), ("min", "timing__hold__ws")):
        t = sec(f"report_checks_{mode}")
        if t is None or key in m:
            continue
        paths = [p for p in parse_checks(t, path) if (p.path_type or mode) == mode]
        if paths:
            m[key] = min(p.slack for p in paths) * time_unit_s
    t = sec("report_power")
    if t is not None and (marked or re.search(r"^\s*Group\s+Internal", t, re.M)):
        tot = parse_power(t, path)["Total"]
        m.update({"power__internal__total": tot.internal, "power__switching__total": tot.switching,
                  "power__leakage__total": tot.leakage, "power__total": tot.total})
    t = sec("report_design_area")
    if t is not None and (marked or "Design area" in t):
        area, util = parse_design_area(t, path)
        m["design__instance__area"] = area
        m["design__instance__utilization"] = util
    t = sec("check_placement")
    if t is not None:
        pc = parse_check_placement(t)
        if marked or pc.failed:
            m["detailedplace__design__violations"] = pc.violations if pc.failures else int(pc.failed)
    hp = parse_hpwl(text)
    if "after" in hp:
        m["detailedplace__hpwl"] = hp["after"]
    wl = parse_wirelength(text)
    if wl:
        m["route__wirelength"] = wl.get("detailed", wl.get("global"))
        if "global" in wl:
            m["globalroute__wirelength"] = wl["global"]
    return m


def collect_metrics(log_dir: Path, stages: Iterable[str], *, time_unit_s: float = 1e-9) -> dict[str, Any]:
    """Metrics of a run: each stage's `<stage>.metrics.json` (what OpenROAD wrote with
    `-metrics`) then its `<stage>.log`, in flow order, later stages overriding earlier ones."""
    out: dict[str, Any] = {}
    for stage in stages:
        js = Path(log_dir) / f"{stage}.metrics.json"
        if js.exists() and js.stat().st_size > 0:
            out.update(parse_metrics_json(js, time_unit_s=time_unit_s))
        log = Path(log_dir) / f"{stage}.log"
        if log.exists():
            out.update(parse_log(log.read_text(errors="replace"), time_unit_s=time_unit_s, path=log))
    return out
