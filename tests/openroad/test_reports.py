"""Parsers of OpenROAD / OpenSTA report text and ORFS metrics files.

Fixtures are real tool output: REAL_STA_2019 was captured from Debian's OpenSTA (`sta`) on gcd
synthesised to Nangate45 (max path shortened in the middle; the lines parsed are verbatim); the
MODERN_* texts are in the layout current OpenROAD prints (`tns max`, `worst slack max`, a Clock
power row, `(Watts)`, `um^2`), as in OpenROAD's and ORFS's own documentation and logs. A live
test also runs `sta` itself when it is installed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from flow.backends.openroad_reports import (
    collect_metrics,
    parse_check_placement,
    parse_checks,
    parse_design_area,
    parse_hpwl,
    parse_log,
    parse_metrics_json,
    parse_power,
    parse_tns,
    parse_wirelength,
    parse_wns,
    parse_worst_slack,
    split_sections,
)
from flow.errors import FormatError

REAL_STA_2019 = """\
Startpoint: _549_ (rising edge-triggered flip-flop clocked by core_clock)
Endpoint: _548_ (rising edge-triggered flip-flop clocked by core_clock)
Path Group: core_clock
Path Type: max

Fanout      Cap     Slew    Delay     Time   Description
--------------------------------------------------------------------------------
                  0.000    0.000    0.000   clock core_clock (rise edge)
                           0.000    0.000   clock network delay (ideal)
                  0.000    0.000    0.000 ^ _549_/CK (DFF_X1)
                  0.028    0.105    0.105 ^ _549_/Q (DFF_X1)
    5   10.982                              b[1] (net)
                  0.028    0.000    0.105 ^ _345_/A (XOR2_X1)
                  0.036    0.066    0.171 ^ _345_/Z (XOR2_X1)
    1    1.450                              _019_ (net)
                  0.049    0.000    1.322 ^ _548_/D (DFF_X1)
                                    1.322   data arrival time

                  0.000    2.800    2.800   clock core_clock (rise edge)
                           0.000    2.800   clock network delay (ideal)
                           0.000    2.800   clock reconvergence pessimism
                                    2.800 ^ _548_/CK (DFF_X1)
                          -0.042    2.758   library setup time
                                    2.758   data required time
--------------------------------------------------------------------------------
                                    2.758   data required time
                                   -1.322   data arrival time
--------------------------------------------------------------------------------
                                    1.436   slack (MET)


Startpoint: _547_ (rising edge-triggered flip-flop clocked by core_clock)
Endpoint: _547_ (rising edge-triggered flip-flop clocked by core_clock)
Path Group: core_clock
Path Type: min

   Delay     Time   Description
-----------------------------------------------------------
   0.000    0.000   clock core_clock (rise edge)
   0.000    0.000   clock network delay (ideal)
   0.000    0.000 ^ _547_/CK (DFF_X1)
   0.083    0.083 v _547_/Q (DFF_X1)
   0.015    0.098 ^ _459_/ZN (NAND2_X1)
   0.013    0.111 v _463_/ZN (AOI21_X1)
   0.000    0.111 v _547_/D (DFF_X1)
            0.111   data arrival time

   0.000    0.000   clock core_clock (rise edge)
   0.000    0.000   clock network delay (ideal)
   0.000    0.000   clock reconvergence pessimism
            0.000 ^ _547_/CK (DFF_X1)
   0.002    0.002   library hold time
            0.002   data required time
-----------------------------------------------------------
            0.002   data required time
           -0.111   data arrival time
-----------------------------------------------------------
            0.109   slack (MET)


tns 0.00
wns 0.00
Group                  Internal  Switching    Leakage      Total
                          Power      Power      Power      Power
----------------------------------------------------------------
Sequential             1.47e-04   1.27e-05   2.77e-06   1.63e-04  51.7%
Combinational          1.07e-04   3.86e-05   6.18e-06   1.52e-04  48.3%
Macro                  0.00e+00   0.00e+00   0.00e+00   0.00e+00   0.0%
Pad                    0.00e+00   0.00e+00   0.00e+00   0.00e+00   0.0%
----------------------------------------------------------------
Total                  2.54e-04   5.13e-05   8.95e-06   3.15e-04 100.0%
                          80.8%      16.3%       2.8%
"""

MODERN_CHECKS_MAX = """\
Startpoint: _692_ (rising edge-triggered flip-flop clocked by core_clock)
Endpoint: resp_msg[15] (output port clocked by core_clock)
Path Group: core_clock
Path Type: max

Fanout     Cap    Slew   Delay    Time   Description
-----------------------------------------------------------------------------
                          0.00    0.00   clock core_clock (rise edge)
                          0.00    0.00   clock source latency
     1    1.89    0.00    0.00    0.00 ^ clk (in)
                                         clk (net)
                  0.00    0.00    0.00 ^ clkbuf_0_clk/A (BUF_X4)
                  0.04    0.07    0.38 ^ _692_/CK (DFF_X1)
                  0.02    0.11    2.46 v _692_/Q (DFF_X1)
                  0.01    0.02    2.62 ^ resp_msg[15] (out)
                                  2.62   data arrival time

                          2.80    2.80   clock core_clock (rise edge)
                          0.00    2.80   clock network delay (propagated)
                          0.00    2.80   clock reconvergence pessimism
                         -0.56    2.24   output external delay
                                  2.24   data required time
-----------------------------------------------------------------------------
                                  2.24   data required time
                                 -2.62   data arrival time
-----------------------------------------------------------------------------
                                 -0.38   slack (VIOLATED)

"""

MODERN_POWER = """\
Group                  Internal  Switching    Leakage      Total
                          Power      Power      Power      Power (Watts)
----------------------------------------------------------------
Sequential             4.53e-04   9.97e-05   2.80e-06   5.56e-04  23.4%
Combinational          6.94e-04   7.17e-04   1.11e-05   1.42e-03  59.8%
Clock                  1.90e-04   2.10e-04   4.59e-07   4.00e-04  16.8%
Macro                  0.00e+00   0.00e+00   0.00e+00   0.00e+00   0.0%
Pad                    0.00e+00   0.00e+00   0.00e+00   0.00e+00   0.0%
----------------------------------------------------------------
Total                  1.34e-03   1.03e-03   1.44e-05   2.38e-03 100.0%
                          56.2%      43.2%       0.6%
"""

MODERN_SIGNOFF_LOG = f"""\
[INFO ODB-0227] LEF file: NangateOpenCellLibrary.tech.lef, created 22 layers, 27 vias
vhflow-section: report_checks_max
{MODERN_CHECKS_MAX}vhflow-section: report_checks_min
No paths found.
vhflow-section: report_tns
tns max -0.27
vhflow-section: report_wns
wns max -0.38
vhflow-section: report_worst_slack_max
worst slack max -0.38
vhflow-section: report_worst_slack_min
worst slack min 0.05
vhflow-section: report_power
{MODERN_POWER}
vhflow-section: report_design_area
Design area 1928 um^2 40% utilization.
vhflow-section: end
"""

PLACEMENT_FAIL = """\
[INFO DPL-0021] HPWL before           14519.2 u
[INFO DPL-0022] HPWL after            14469.4 u
[INFO DPL-0023] HPWL delta               -0.3 %
[WARNING DPL-0005] Overlap check failed (1).
 ra overlaps TAP_180
[WARNING DPL-0006] Site aligned check failed (1).
 ra
[ERROR DPL-0033] detailed placement checks failed.
"""

DPL_REPORT = """\
Placement Analysis
---------------------------------
total displacement        812.4 u
average displacement        1.4 u
max displacement            9.1 u
original HPWL            4516.1 u
legalized HPWL           4633.4 u
delta HPWL                    3 %
"""

ROUTE_LOG = """\
[INFO GRT-0096] Final congestion report:
Layer         Resource        Demand        Usage (%)    Max H / Max V / Total Overflow
---------------------------------------------------------------------------------------
metal2           25870          4528           17.50%             0 /  0 /  0
Total            98765         12345           12.50%             0 /  0 /  0

[INFO GRT-0018] Total wirelength: 10537 um
[INFO GRT-0014] Routed nets: 512
[INFO DRT-0198] Complete detail routing.
Total wire length = 9876 um.
Total wire length on LAYER metal1 = 12 um.
"""


# ---- summaries -------------------------------------------------------------------------------
def test_slack_summaries_old_and_new_layout():
    assert parse_tns("tns 0.00") == {"max": 0.0}
    assert parse_tns("tns max -1.23\ntns min -0.01") == {"max": -1.23, "min": -0.01}
    assert parse_wns("wns max -0.5") == {"max": -0.5}
    assert parse_worst_slack("worst slack 0.12") == {"max": 0.12}
    assert parse_worst_slack("worst slack max -707.03\nworst slack min 0.05") == {"max": -707.03, "min": 0.05}
    assert parse_worst_slack("worst slack max INF") == {"max": math.inf}


def test_slack_summaries_malformed():
    with pytest.raises(FormatError, match="report_tns.*'abc' is not a number") as exc:
        parse_tns("[INFO] x\ntns max abc\n")
    assert exc.value.line == 2
    with pytest.raises(FormatError, match="no 'worst slack <value>' line"):
        parse_worst_slack("nothing here")


# ---- report_power ------------------------------------------------------------------------------
def test_power_table_modern():
    p = parse_power(MODERN_POWER)
    assert set(p) == {"Sequential", "Combinational", "Clock", "Macro", "Pad", "Total"}
    assert p["Clock"].switching == pytest.approx(2.10e-4)
    assert p["Total"].total == pytest.approx(2.38e-3)
    assert sum(p[g].total for g in ("Sequential", "Combinational", "Clock")) == pytest.approx(p["Total"].total, rel=0.01)


def test_power_table_sta_2019_without_clock_row():
    p = parse_power(REAL_STA_2019)
    assert "Clock" not in p and p["Total"].leakage == pytest.approx(8.95e-6)
    assert p["Total"].internal + p["Total"].switching + p["Total"].leakage == pytest.approx(p["Total"].total, rel=0.01)


def test_power_malformed():
    with pytest.raises(FormatError, match="no report_power table"):
        parse_power("Group Power\n")
    bad = MODERN_POWER.replace("Total                  1.34e-03   1.03e-03", "Total                  1.34e-03   oops")
    with pytest.raises(FormatError, match="report_power Total: 'oops' is not a number") as exc:
        parse_power(bad, path="signoff.log")
    assert exc.value.line == 10 and str(exc.value).startswith("signoff.log:10")
    short = MODERN_POWER.replace("2.80e-06   5.56e-04", "")
    with pytest.raises(FormatError, match="Sequential row has 2 values, expected 4"):
        parse_power(short)
    with pytest.raises(FormatError, match="no Total row"):
        parse_power(MODERN_POWER.split("----------------------------------------------------------------\nTotal")[0])


# ---- report_checks -------------------------------------------------------------------------------
def test_checks_real_and_modern():
    paths = parse_checks(REAL_STA_2019)
    assert [(p.startpoint, p.endpoint, p.path_type, p.slack) for p in paths] == [
        ("_549_", "_548_", "max", 1.436), ("_547_", "_547_", "min", 0.109)]
    assert paths[0].arrival == 1.322 and paths[0].required == 2.758 and paths[0].met
    assert paths[1].required - paths[1].arrival == pytest.approx(-paths[1].slack)
    (m,) = parse_checks(MODERN_CHECKS_MAX)
    assert (m.endpoint, m.path_group, m.slack, m.met) == ("resp_msg[15]", "core_clock", -0.38, False)
    assert parse_checks("No paths found.") == []


def test_checks_malformed():
    with pytest.raises(FormatError, match="no 'slack"):
        parse_checks("Startpoint: a\nEndpoint: b\n  1.0 data arrival time\n")
    with pytest.raises(FormatError, match="slack: '1.2.3' is not a number"):
        parse_checks("Startpoint: a\nEndpoint: b\n  1.2.3   slack (MET)\n")
    with pytest.raises(FormatError, match="no Endpoint"):
        parse_checks("Startpoint: a\n 1.0 slack (MET)\n")


# ---- area, placement, routing ------------------------------------------------------------------
def test_design_area():
    assert parse_design_area("Design area 1928 um^2 40% utilization.") == (1928.0, 0.40)
    assert parse_design_area("Design area 123 u^2 45% utilization.") == (123.0, 0.45)
    with pytest.raises(FormatError, match="expected 'Design area <n> um\\^2"):
        parse_design_area("x\nDesign area unknown")
    with pytest.raises(FormatError, match="no report_design_area"):
        parse_design_area("")


def test_check_placement_and_hpwl():
    pc = parse_check_placement(PLACEMENT_FAIL)
    assert pc.failed and pc.failures == {"Overlap": 1, "Site aligned": 1} and pc.violations == 2
    ok = parse_check_placement("[INFO DPL-0034] Detailed placement passed.\n")
    assert not ok.failed and ok.violations == 0
    assert parse_hpwl(PLACEMENT_FAIL) == {"before": 14519.2, "after": 14469.4}
    assert parse_hpwl(DPL_REPORT) == {"before": 4516.1, "after": 4633.4}


def test_wirelength():
    assert parse_wirelength(ROUTE_LOG) == {"global": 10537.0, "detailed": 9876.0}
    assert parse_wirelength("[INFO GRT-0018] Total wirelength: 10537 um") == {"global": 10537.0}


# ---- whole logs and metrics files ---------------------------------------------------------------
def test_split_sections():
    s = split_sections("pre\nvhflow-section: a\nx\nvhflow-section: b\ny\nz\n")
    assert s == {"": "pre", "a": "x", "b": "y\nz"}


def test_parse_log_marked_signoff():
    m = parse_log(MODERN_SIGNOFF_LOG)
    assert m["timing__setup__ws"] == pytest.approx(-0.38e-9)
    assert m["timing__setup__tns"] == pytest.approx(-0.27e-9)
    assert m["timing__hold__ws"] == pytest.approx(0.05e-9)
    assert m["power__internal__total"] == pytest.approx(1.34e-3)
    assert m["power__switching__total"] == pytest.approx(1.03e-3)
    assert m["power__leakage__total"] == pytest.approx(1.44e-5)
    assert m["power__total"] == pytest.approx(2.38e-3)
    assert m["design__instance__area"] == 1928 and m["design__instance__utilization"] == pytest.approx(0.4)
    # picoseconds libraries: values scale with the Liberty time unit
    assert parse_log(MODERN_SIGNOFF_LOG, time_unit_s=1e-12)["timing__setup__ws"] == pytest.approx(-0.38e-12)


def test_parse_log_unmarked_and_checks_fallback():
    m = parse_log(REAL_STA_2019)
    assert m["timing__setup__tns"] == 0.0 and m["power__total"] == pytest.approx(3.15e-4)
    # no report_worst_slack: the worst printed path of each kind gives the slack
    assert m["timing__setup__ws"] == pytest.approx(1.436e-9) and m["timing__hold__ws"] == pytest.approx(0.109e-9)
    m = parse_log(PLACEMENT_FAIL + ROUTE_LOG + "[INFO RSZ-0040] tns improvement stalled\n")
    assert m["detailedplace__design__violations"] == 2 and m["detailedplace__hpwl"] == 14469.4
    assert m["route__wirelength"] == 9876.0 and m["globalroute__wirelength"] == 10537.0
    assert "timing__setup__tns" not in m


def test_parse_log_marked_section_malformed():
    log = MODERN_SIGNOFF_LOG.replace("tns max -0.27", "tns max nan?")
    with pytest.raises(FormatError, match="report_tns"):
        parse_log(log, path="signoff.log")


def test_metrics_json_flat_and_nested(tmp_path):
    flat = {"floorplan__design__instance__area": 100.0, "globalplace__hpwl": 5000.0,
            "cts__timing__setup__ws": -0.1, "finish__timing__setup__ws": 0.2, "finish__timing__hold__ws": 0.03,
            "finish__power__total": 0.0024, "detailedroute__route__wirelength": 9876,
            "finish__design__instance__utilization": 0.41, "flow__warnings__count": 3}
    m = parse_metrics_json(flat)
    assert m["timing__setup__ws"] == pytest.approx(0.2e-9) and m["timing__hold__ws"] == pytest.approx(0.03e-9)
    assert m["power__total"] == 0.0024 and m["route__wirelength"] == 9876
    assert m["design__instance__area"] == 100.0 and m["design__instance__utilization"] == 0.41
    assert m["globalplace__hpwl"] == 5000.0 and m["flow__warnings__count"] == 3
    nested = {"floorplan": {"design__instance__area": 90}, "cts": {"timing__setup__tns": -1.5},
              "finish": {"timing__setup__tns": -0.5}}
    p = tmp_path / "metrics.json"
    p.write_text(json.dumps(nested))
    m = parse_metrics_json(p)
    assert m["timing__setup__tns"] == pytest.approx(-0.5e-9) and m["floorplan__design__instance__area"] == 90
    p.write_text('{"a": 1,\n "b": }')
    with pytest.raises(FormatError, match="invalid metrics JSON") as exc:
        parse_metrics_json(p)
    assert exc.value.line == 2
    p.write_text("[1, 2]")
    with pytest.raises(FormatError, match="not an object"):
        parse_metrics_json(p)


def test_collect_metrics_later_stage_wins(tmp_path):
    (tmp_path / "place.log").write_text("vhflow-section: report_design_area\nDesign area 500 um^2 30% utilization.\n"
                                        "vhflow-section: check_placement\n")
    (tmp_path / "signoff.log").write_text(MODERN_SIGNOFF_LOG)
    (tmp_path / "signoff.metrics.json").write_text(json.dumps({"finish__timing__setup__ws": 9.0, "x__y": 1}))
    m = collect_metrics(tmp_path, ["floorplan", "place", "signoff"])
    assert m["design__instance__area"] == 1928  # signoff's report, after place's
    assert m["detailedplace__design__violations"] == 0  # silent check_placement: legal
    assert m["timing__setup__ws"] == pytest.approx(-0.38e-9)  # the log is read after the json
    assert m["x__y"] == 1


# ---- live: parse what OpenSTA itself prints ---------------------------------------------------------
def test_parsers_on_live_opensta(tmp_path, nangate45):
    import gzip

    from tests.conftest import DESIGNS
    from tests.signoff.opensta import run_sta, synth_nangate

    src = Path(nangate45.corner("typical").liberty[0])
    lib = tmp_path / "typ.lib"
    lib.write_bytes(gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes())
    net = synth_nangate((DESIGNS / "gcd/src/gcd.v").read_text(), "gcd", lib, tmp_path)
    out = run_sta(f"""read_liberty {lib}
read_verilog {net}
link_design gcd
read_sdc {DESIGNS / 'gcd/src/constraint.sdc'}
set_wire_load_model -name 5K_hvratio_1_1
puts "vhflow-section: report_checks_max"
report_checks -path_delay max -format full_clock_expanded -fields {{slew cap input_pins nets fanout}} -digits 3
puts "vhflow-section: report_checks_min"
report_checks -path_delay min -format full_clock_expanded -digits 3
puts "vhflow-section: report_tns"
report_tns
puts "vhflow-section: report_wns"
report_wns
puts "vhflow-section: report_power"
report_power
puts "vhflow-section: end"
""", tmp_path).stdout
    paths = parse_checks(out)
    assert [p.path_type for p in paths] == ["max", "min"]
    for p in paths:
        sign = 1 if p.path_type == "max" else -1
        assert sign * (p.required - p.arrival) == pytest.approx(p.slack, abs=2e-3)
    m = parse_log(out)
    assert m["timing__setup__ws"] == pytest.approx(paths[0].slack * 1e-9)
    assert m["timing__setup__tns"] == pytest.approx(min(0.0, paths[0].slack) * 1e-9, abs=1e-14)
    assert m["power__total"] > 0
    t = parse_power(out)["Total"]
    assert t.internal + t.switching + t.leakage == pytest.approx(t.total, rel=0.02)
