"""The documented Python API (flow.api): run and sta, checked against the run's own files and
against OpenSTA 3.1."""

from __future__ import annotations

import json
import re

import pytest

import flow.api as vhflow
from tests.conftest import DESIGNS


def test_api_run_and_sta_match_opensta(tmp_path, nangate45):
    res = vhflow.run(DESIGNS / "gcd/config.toml", tag="api", out=tmp_path, overrides={"CORE_UTILIZATION": 35},
                     to_stage="synth")
    assert res.status == "stopped" and res.run_dir.name == "api" and res.run_dir.is_relative_to(tmp_path.resolve())
    resolved = json.loads((res.run_dir / "config.resolved.json").read_text())["variables"]
    assert resolved["CORE_UTILIZATION"]["value"] == 35 and resolved["CORE_UTILIZATION"]["source"] == "--set"
    assert res.metrics == json.loads((res.run_dir / "metrics.json").read_text())
    views = json.loads(next(res.run_dir.glob("*_synth/state_out.json")).read_text())["views"]
    netlist, sdc = res.run_dir / views["verilog"], res.run_dir / views["sdc"]
    lib = nangate45.corner("typical").liberty[0]
    t = vhflow.sta(lib=[lib], netlist=[netlist], top="gcd", sdc=sdc, wire_load="none")
    assert t.corner == "default" and t.endpoints > 0 and "slack" in t.report
    import gzip

    from tests.signoff.opensta import run_sta

    plain = tmp_path / "typical.lib"
    plain.write_bytes(gzip.decompress(lib.read_bytes()) if lib.suffix == ".gz" else lib.read_bytes())
    ref = run_sta(f"read_liberty {plain}\nread_verilog {netlist}\nlink_design gcd\nread_sdc {sdc}\n"
                  "report_checks -path_delay max -digits 6\nreport_checks -path_delay min -digits 6\n", tmp_path)
    setup, hold = ref.slacks()[:2]
    assert t.setup_ws_ns == pytest.approx(setup, abs=2e-3)  # ns, as OpenSTA prints with a ns library
    assert t.hold_ws_ns == pytest.approx(hold, abs=2e-3)
    assert re.search(r"slack \((MET|VIOLATED)\)", t.report)
