"""Test harness: run the reference OpenSTA 3.1 (built by `make reference-tools`) on a script and
parse its reports."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_reference, require_tool

_NUM = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"


@dataclass
class StaRun:
    stdout: str

    def slacks(self) -> list[float]:
        """Slack (ns) of every path printed by report_checks, in order."""
        return [float(m.group(1)) for m in re.finditer(rf"^\s*({_NUM})\s+slack \((?:MET|VIOLATED)\)", self.stdout, re.M)]

    def value(self, key: str) -> float:
        """`wns X` / `tns X` lines (sta 3.1 writes `tns max X`), or an exact key such as
        `tns min` / `worst slack max`."""
        m = re.search(rf"^{key}(?: max)? ({_NUM})", self.stdout, re.M)
        if m is None:
            raise AssertionError(f"no '{key}' in sta output:\n{self.stdout[-2000:]}")
        return float(m.group(1))

    def power(self) -> dict[str, tuple[float, float, float, float]]:
        """report_power rows: group -> (internal, switching, leakage, total) in W."""
        out = {}
        for m in re.finditer(rf"^(Sequential|Combinational|Clock|Macro|Pad|Total)\s+({_NUM})\s+({_NUM})\s+({_NUM})\s+({_NUM})",
                             self.stdout, re.M):
            out[m.group(1)] = tuple(float(m.group(k)) for k in range(2, 6))
        if "Total" not in out:
            raise AssertionError(f"no report_power table in sta output:\n{self.stdout[-2000:]}")
        return out


def run_sta(script: str, cwd: Path, timeout: float = 600.0) -> StaRun:
    """Run `sta -exit` on a script written into cwd; errors in the output fail the test."""
    sta = require_reference("sta")
    path = Path(cwd) / "run.tcl"
    path.write_text(script)
    proc = subprocess.run([sta, "-no_splash", "-exit", str(path)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    text = proc.stdout + proc.stderr
    errors = [ln for ln in text.splitlines() if ln.startswith("Error")]
    if proc.returncode != 0 or errors:
        raise AssertionError(f"sta failed ({proc.returncode}): {errors[:5]}\n{text[-2000:]}")
    return StaRun(text)


def ours_and_opensta(d: Path, lib: Path, netlist: str, sdc: str, extra_reports: str = ""):
    """Write top.v / top.sdc into d, time them with our STA and with `sta` (worst setup and
    hold paths at 6 digits, plus `extra_reports`): (our TimingResult, StaRun)."""
    from flow.engines import sta

    (d / "top.v").write_text(netlist)
    (d / "top.sdc").write_text(sdc)
    design = sta.load_design([d / "top.v"], "top")
    tc = sta.load_constraints(d / "top.sdc", design)
    ours = sta.analyze(design, sta.load_liberty(lib), tc)
    ref = run_sta(f"read_liberty {lib}\nread_verilog {d / 'top.v'}\nlink_design top\nread_sdc {d / 'top.sdc'}\n"
                  f"report_checks -path_delay max -digits 6\nreport_checks -path_delay min -digits 6\n{extra_reports}", d)
    return ours, ref


def synth_nangate(rtl: str, top: str, liberty: Path, out_dir: Path) -> Path:
    """Synthesise RTL to the liberty's cells with Debian yosys (the lead's synth may not be ready)."""
    yosys = require_tool("yosys")
    src = Path(out_dir) / "rtl.v"
    src.write_text(rtl)
    net = Path(out_dir) / "netlist.v"
    cmd = (f"read_verilog {src}; synth -top {top} -flatten; dfflibmap -liberty {liberty}; "
           f"abc -liberty {liberty}; opt_clean; write_verilog -noattr -noexpr -nohex -nodec {net}")
    proc = subprocess.run([yosys, "-q", "-p", cmd], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f"yosys failed: {proc.stderr[-2000:]}")
    return net
