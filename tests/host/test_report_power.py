"""Power sign-off report per island and per supply: every instance counted once (one analysis,
never corners or rails added together), rows that name their rail, corner and voltage, and
islands plus the rest summing to the total."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pytest

from flow.state import State
from plugins.power_signoff import plugin

# instance -> (island or None, supply corner the mixed analysis powered it from, W)
INSTANCES = {"a": ("isl2", "slow", 1.0e-3), "b": ("isl2", "slow", 0.5e-3), "ls": ("isl2", "typical", 0.25e-3),
             "c": ("isl10", "typical", 2.0e-3), "d": (None, "typical", 0.125e-3)}
TOTAL = sum(w for _, _, w in INSTANCES.values())  # 3.875 mW


def _state(tmp_path):
    names = list(INSTANCES)
    np.savez(tmp_path / "power_instances.npz", inst_names=np.array(names),
             total_w=np.array([INSTANCES[n][2] for n in names]), supply=np.array([INSTANCES[n][1] for n in names]))
    per_supply = {}
    for _, sup, w in INSTANCES.values():
        per_supply[sup] = per_supply.get(sup, 0.0) + w
    groups = {"Combinational": {"internal": TOTAL / 2, "switching": TOTAL / 2, "leakage": 0.0, "total": TOTAL}}
    # other corners in the file: a table that added them would show 3x the total
    (tmp_path / "power.json").write_text(json.dumps({
        "corner": "mixed", "total_w": TOTAL, "internal_w": TOTAL / 2, "switching_w": TOTAL / 2, "leakage_w": 0.0,
        "groups": groups, "per_supply": per_supply, "instances_npz": "power_instances.npz",
        "corners": {"mixed": {"total_w": TOTAL, "per_supply": per_supply},
                    "slow": {"total_w": TOTAL * 0.8, "per_supply": {"slow": TOTAL * 0.8}},
                    "typical": {"total_w": TOTAL * 1.2, "per_supply": {"typical": TOTAL * 1.2}}}}))
    (tmp_path / "islands.json").write_text(json.dumps({
        "instances": {n: isl for n, (isl, _, _) in INSTANCES.items() if isl},
        "rails": {"isl2": "slow", "isl10": "typical"}, "vddh": "typical", "vddl": "slow",
        "rail_voltage": {"slow": 0.95, "typical": 1.1}, "switch_width_um": {"isl10": 4.0},
        "switch_r_on_ohm_um": 1500.0}))
    return State({"power": tmp_path / "power.json", "islands": tmp_path / "islands.json"})


def _island_rows(text: str) -> list[list[str]]:
    table = re.search(r"<th>island</th>.*?</table>", text, re.S).group(0)
    return [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(<td.*?)</tr>", table)]


def test_island_rows_count_each_instance_once(tmp_path):
    st = _state(tmp_path)
    per = plugin.island_supply_power(st)
    assert per == pytest.approx({("isl2", "slow"): 1.5e-3, ("isl2", "typical"): 0.25e-3,
                                 ("isl10", "typical"): 2.0e-3, ("none", "typical"): 0.125e-3})
    m = plugin.vhflow_metrics(st, tmp_path)
    assert m["power__per_island__isl2"] == pytest.approx(1.75e-3) and m["power__per_island__none"] == 0.125e-3
    assert sum(v for k, v in m.items() if k.startswith("power__per_island__")) == pytest.approx(TOTAL, rel=1e-12)
    assert sum(v for k, v in m.items() if k.startswith("power__per_supply__")) == pytest.approx(TOTAL, rel=1e-12)
    assert m["power__ir_drop__worst"] == pytest.approx(2.0e-3 / 1.1 * 1500.0 / 4.0)  # isl10 on VDDH


def test_island_table_labels_rail_corner_voltage_and_sums(tmp_path):
    text = plugin.vhflow_report_sections(_state(tmp_path), tmp_path, {})[0].html
    rows = _island_rows(text)
    assert [r[:3] for r in rows] == [
        ["isl2", "VDDL · slow (0.95 V)", "1.5000"],
        ["isl2", "VDDH · typical (1.10 V)", "0.2500"],  # a level shifter of isl2 on VDDH: its own row
        ["isl10", "VDDH · typical (1.10 V)", "2.0000"],  # natural order: isl2 before isl10
        ["rest (cells in no island)", "VDDH · typical (1.10 V)", "0.1250"],
        ["Σ islands + rest", "", "3.8750"]]
    assert sum(float(r[2]) for r in rows[:-1]) == pytest.approx(TOTAL * 1e3, abs=5e-4 * len(rows))
    assert rows[2][3] == "51.6" and rows[2][4] == f"{2.0e-3 / 1.1 * 1500.0 / 4.0 * 1e3:.2f}"
    assert "sum to" not in text and "own clock" not in text  # no inconsistency to flag
    sup = dict(re.findall(r"<tr><td>((?:VDD[HL]|default)[^<]*)</td><td class='num'>([\d.]+)</td></tr>", text))
    assert sup == {"VDDL · slow (0.95 V)": "1.5000", "VDDH · typical (1.10 V)": "2.3750"}


def test_rest_on_a_corner_no_island_uses_is_labelled_default():
    labels = plugin.rail_labels({"rails": {"i0": "ss_1v28", "i1": "ss_1v76"},
                                 "rail_voltage": {"ss_1v28": 1.28, "ss_1v76": 1.76}}, ["ss_1v28", "ss_1v76", "tt_1v80"])
    assert labels == {"ss_1v28": "VDDL", "ss_1v76": "VDDH", "tt_1v80": "default (cells in no island)"}


def test_mixed_supply_signoff_table_sums_to_the_total(tmp_path, nangate45):
    """The real sign-off stage, u1 on the slow (0.95 V) rail and the rest typical: the report's
    island rows add up to the power table's total within the 4-decimal rounding."""
    from flow.stage import StageContext
    from flow.stages.signoff import SignoffStage
    from tests.signoff.test_sta_hand import NETLIST, SDC

    (tmp_path / "top.v").write_text(NETLIST)
    (tmp_path / "top.sdc").write_text(SDC)
    isl = tmp_path / "islands.json"
    isl.write_text(json.dumps({"instances": {"u1": "i1", "r1": "i0", "u2": "i0"},
                               "rails": {"i0": "typical", "i1": "slow"}, "rail_voltage": {"typical": 1.1, "slow": 0.95}}))
    state = State({"verilog": tmp_path / "top.v", "sdc": tmp_path / "top.sdc", "islands": isl})
    cfg = {"DESIGN_NAME": "top", "ACTIVITY": None, "ACTIVITY_SCOPE": None, "INPUT_ACTIVITY": 0.1,
           "SIGNOFF_CORNERS": ["typical", "slow", "fast"], "CLOCK_PROPAGATED": None, "PLATFORM": "nangate45"}
    ctx = StageContext(cfg, nangate45, tmp_path / "stage", tmp_path, tmp_path, log=logging.getLogger("t"))
    res = SignoffStage().run(state, ctx)
    st = state.updated(res.views, res.metrics)
    text = plugin.vhflow_report_sections(st, tmp_path, cfg)[0].html
    total = float(re.search(r"<tr><td>Total</td>(?:<td[^>]*>[^<]*</td>){3}<td class='num'>([\d.]+)</td>", text).group(1))
    rows = _island_rows(text)
    assert {r[0] for r in rows} == {"i0", "i1", "rest (cells in no island)", "Σ islands + rest"}
    assert sum(float(r[2]) for r in rows[:-1]) == pytest.approx(total, abs=5e-5 * len(rows))
    assert float(rows[-1][2]) == pytest.approx(total, abs=1e-4)
    assert next(r for r in rows if r[0] == "i1")[1] == "VDDL · slow (0.95 V)"  # the platform's voltage
    # r2 is in no island: on the platform's default corner
    assert next(r for r in rows if r[0].startswith("rest"))[1] == "VDDH · typical (1.10 V)"


def test_fine_vh_clock_differs_from_the_sdc_clock_is_said(tmp_path):
    """FINE-VH's island table is at FINE-VH's clock (gcd: 0.749 ns beside the SDC's 2.8 ns: its
    rows added to 3.06× the sign-off total); the sign-off section says which clock is which."""
    st = _state(tmp_path)
    doc = json.loads((tmp_path / "islands.json").read_text())
    doc.update(clock_period_s=7.485038e-10, sdc_period_s=2.8e-9)  # the gcd run's
    (tmp_path / "islands.json").write_text(json.dumps(doc))
    text = plugin.vhflow_report_sections(st, tmp_path, {})[0].html
    assert "SDC clock (2.800 ns)" in text and "own clock (0.749 ns, 3.74× the frequency)" in text
