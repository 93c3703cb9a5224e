"""Metrics as ORFS writes them: names, units, metrics.json/metrics.csv, ORFS rules files."""

from __future__ import annotations

import csv
import json
import math

import pytest

from flow.cli import main
from flow.errors import FormatError
from flow.metrics import (
    METRIC_TABLE,
    UNITS,
    check_rules,
    convert,
    describe,
    display,
    format_number,
    load_rules,
    lookup,
    orfs_name,
    read_run_metrics,
    to_orfs,
    write_run_metrics,
)

STAGE = {
    "timing__setup__ws": 2.95106e-10, "timing__hold__tns": -1.5e-11, "timing__setup__ws__corner:slow": -4e-12,
    "power__total": 0.000786, "power__per_island__isl3": 2.5e-4, "floorplan__design__utilization": 0.399113,
    "route__wirelength__estimate": 3807.235, "synth__design__instance__area__stdcell": 550.354,
    "finevh__timing__setup__ws_mixed": 1e-10, "myplugin__count": 3, "finish__timing__drv__max_slew": 2,
}


def test_units_table():
    # each unit against its SI definition
    assert UNITS["ns"] == 1e-9 and UNITS["ps"] == 1e-12 and UNITS["mW"] == 1e-3 and UNITS["µm²"] == 1e-12
    assert convert(2.95106e-10, "s", "ns") == pytest.approx(0.295106, rel=1e-12)
    assert convert(0.786, "mW", "W") == pytest.approx(7.86e-4)
    assert convert(3.017e4, "µm²", "mm²") == pytest.approx(0.03017)
    assert convert(0.4, "", "%") == pytest.approx(40.0)
    for m in METRIC_TABLE:  # every unit the table uses is in the units table
        assert m.unit in UNITS and m.shown_unit in UNITS and (m.internal_unit or "") in UNITS


def test_every_converted_metric_has_its_own_stage_key():
    # converting twice must be a no-op: a row that changes units may not reuse its ORFS name
    for m in METRIC_TABLE:
        if m.internal_unit is not None and m.internal_unit != m.unit:
            assert m.internal and m.internal != m.name, m.name
    orfs = to_orfs(STAGE)
    assert to_orfs(orfs) == orfs


def test_to_orfs_names_and_units():
    o = to_orfs(STAGE)
    assert o["finish__timing__setup__ws"] == pytest.approx(0.295106)  # ns
    assert o["finish__timing__hold__tns"] == pytest.approx(-0.015)
    assert o["finish__timing__setup__ws__corner:slow"] == pytest.approx(-0.004)
    assert o["finish__power__total"] == 0.000786  # W, as ORFS
    assert o["finish__power__per_island__isl3"] == 2.5e-4
    assert o["floorplan__design__instance__utilization"] == 0.399113  # a fraction, as ORFS
    assert o["globalroute__route__wirelength__estimate"] == 3807.235
    assert o["finevh__timing__setup__ws__mixed"] == pytest.approx(0.1)
    assert o["myplugin__count"] == 3 and o["finish__timing__drv__max_slew"] == 2  # pass through
    assert "timing__setup__ws" not in o and "power__total" not in o
    assert lookup(o, "timing__setup__ws") == pytest.approx(2.95106e-10)  # back in the stage's unit
    assert lookup(STAGE, "power__total") == 0.000786
    assert orfs_name("timing__hold__ws__corner:fast") == "finish__timing__hold__ws__corner:fast"
    assert to_orfs({"repair_timing__hold_buffers": 2, "repair_timing__buffers": 5}) == {
        "cts__design__instance__count__hold_buffer": 2, "cts__design__instance__count__setup_buffer": 5}


def test_display_plain_numbers():
    assert display("finish__power__total", 0.000786) == ("0.786", "mW")
    assert display("floorplan__design__instance__utilization", 0.399113) == ("39.91", "%")
    assert display("finish__timing__setup__ws", -0.0123456) == ("-0.01235", "ns")
    assert display("floorplan__design__core__area", 30170.4) == ("30,170", "µm²")
    assert display("synth__design__instance__count__stdcell", 12345) == ("12,345", "")
    assert display("convnet__inference__energy_j", 3.2e-6) == ("3,200", "nJ")
    assert format_number(1.0) == "1" and format_number(float("inf")) == "∞" and format_number(2.5e-7) == "2.5e-07"
    assert all("e+" not in format_number(v) for v in (1e5, 3.017e4, 48.39, 123456.7))


def test_metrics_files(tmp_path):
    written = write_run_metrics(tmp_path, STAGE)
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert doc == written and doc["finish__timing__setup__ws"] == pytest.approx(0.295106)
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    by = {r["metric"]: r for r in rows}
    assert len(rows) == len(doc)
    assert by["finish__timing__setup__ws"]["unit"] == "ns" and math.isclose(float(by["finish__timing__setup__ws"]["value"]), 0.295106)
    assert by["finish__power__total"]["unit"] == "W" and "headline" in by["finish__power__total"]["meaning"]
    # an old run directory (stage names, seconds) reads back in ORFS names and units
    (tmp_path / "metrics.json").write_text(json.dumps(STAGE))
    assert read_run_metrics(tmp_path)["finish__timing__setup__ws"] == pytest.approx(0.295106)


def test_guide_lists_the_table():
    from pathlib import Path

    from flow.report.metrics_doc import markdown_table

    guide = (Path(__file__).resolve().parents[2] / "docs" / "USER_GUIDE.md").read_text()
    assert markdown_table() in guide
    assert describe("finish__timing__setup__ws__corner:typical").unit == "ns"


RULES_DICT = {
    "finish__timing__setup__ws": {"value": 0.3, "compare": ">="},      # 0.295106 >= 0.3: fails
    "synth__design__instance__area__stdcell": {"value": 633, "compare": "<="},  # passes
    "detailedroute__route__wirelength": {"value": 5000, "compare": "<="},  # not produced: fails
    "myplugin__count": {"value": 3, "compare": "=="},
}


def test_rules_semantics(tmp_path):
    p = tmp_path / "rules-base.json"
    p.write_text(json.dumps(RULES_DICT, indent=4))
    res = {r.field: r for r in check_rules(to_orfs(STAGE), load_rules(p))}
    assert not res["finish__timing__setup__ws"].passed
    assert res["synth__design__instance__area__stdcell"].passed and res["myplugin__count"].passed
    assert not res["detailedroute__route__wirelength"].passed and "not produced" in res["detailedroute__route__wirelength"].note
    # the older {"rules": [...]} form, strict < and a string vs number
    old = tmp_path / "rules-old.json"
    old.write_text(json.dumps({"rules": [{"field": "myplugin__count", "value": 3, "compare": "<"},
                                         {"field": "myplugin__count", "value": "3", "compare": "=="},
                                         {"field": "myplugin__count", "value": "abc", "compare": "=="}]}))
    assert [r.passed for r in check_rules(to_orfs(STAGE), load_rules(old))] == [False, True, False]
    bad = tmp_path / "bad.json"
    bad.write_text('{\n "x": {"value": 1, "compare": "=<"}\n}')
    with pytest.raises(FormatError, match=r"bad.json:2: .*unknown compare"):
        load_rules(bad)
    bad.write_text('{\n "x": {"value": 1,\n}')
    with pytest.raises(FormatError, match=r"bad.json:3: invalid JSON"):
        load_rules(bad)


def test_metrics_command(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    write_run_metrics(run, STAGE)
    rules = tmp_path / "rules-base.json"
    rules.write_text(json.dumps(RULES_DICT))
    with pytest.raises(SystemExit) as e:
        main(["metrics", str(run), "--rules", str(rules)])
    out = capsys.readouterr().out
    assert e.value.code == 3 and "2 of 4 rules passed, 2 failed" in out
    with pytest.raises(SystemExit) as e:
        main(["metrics", str(run), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert e.value.code == 0 and doc["metrics"]["finish__timing__setup__ws"] == {"value": 0.295106, "unit": "ns"}
    rules.write_text(json.dumps({k: v for k, v in RULES_DICT.items() if k == "myplugin__count"}))
    with pytest.raises(SystemExit) as e:
        main(["metrics", str(run), "--rules", str(rules)])
    assert e.value.code == 0
    with pytest.raises(SystemExit) as e:
        main(["metrics", str(tmp_path / "nope")])
    assert e.value.code == 2


def test_not_computed_only_for_what_the_backend_lacks(tmp_path):
    rules = [("detailedroute__route__drc_errors", "<=", 0, 1), ("finish__timing__drv__setup_violation_count", "<=", 5, 2),
             ("detailedroute__route__wirelength", "<=", 5000, 3), ("myplugin__count", "==", 3, 4)]
    emb = {r.field: r for r in check_rules(to_orfs(STAGE), rules, "embedded")}
    assert emb["detailedroute__route__drc_errors"].verdict == "not computed" and not emb["detailedroute__route__drc_errors"].passed
    assert "embedded backend: no detailed router" in emb["detailedroute__route__drc_errors"].note
    # a metric the embedded backend does compute, missing from the run, is a failure, not "not computed"
    assert emb["finish__timing__drv__setup_violation_count"].verdict == "fail"
    assert emb["detailedroute__route__wirelength"].verdict == "fail" and emb["myplugin__count"].verdict == "pass"
    orr = {r.field: r for r in check_rules(to_orfs(STAGE), rules, "openroad")}
    assert orr["detailedroute__route__drc_errors"].verdict == "fail"  # OpenROAD should have written it
    from flow.metrics import rules_summary

    assert rules_summary(list(emb.values())) == "1 of 4 rules passed, 2 failed, 1 not computed (embedded backend)"
