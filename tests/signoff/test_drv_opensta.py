"""Max slew / capacitance / fanout checks against `report_check_types -max_slew
-max_capacitance -max_fanout -violators` of OpenSTA 3.1 on the same files: Liberty limits
(Nangate45's default_max_transition on outputs, sky130's pin max_transition/max_capacitance)
and SDC design limits."""

from __future__ import annotations

import pytest

from flow.engines import sta
from tests.signoff.opensta import run_sta, synth_nangate
from tests.signoff.test_sta_opensta import RTL, SDC
from tests.signoff.test_sta_opensta3 import _lib


def _sections(text: str) -> dict[str, list[tuple[str, float]]]:
    """report_check_types -violators: section title -> [(pin, slack)]."""
    out: dict[str, list[tuple[str, float]]] = {}
    cur = None
    for line in text.splitlines():
        if line in ("max slew", "max capacitance", "max fanout"):
            cur = out.setdefault(line, [])
        elif cur is not None and line.endswith("(VIOLATED)"):
            f = line.split()
            cur.append((f[0], float(f[3]) if len(f) > 4 else -1.0))
    return out


def _check(d, lib, net, sdc: str, expect_some: tuple[str, ...]):
    (d / "drv.sdc").write_text(sdc)
    library = sta.load_liberty(lib)
    design = sta.load_design([net], "top")
    t = sta.analyze(design, library, sta.load_constraints(d / "drv.sdc", design, library))
    rules = t.design_rules()
    ref = run_sta(f"read_liberty {lib}\nread_verilog {net}\nlink_design top\nread_sdc {d / 'drv.sdc'}\n"
                  "report_check_types -max_slew -max_capacitance -max_fanout -violators\n", d)
    theirs = _sections(ref.stdout)
    ours = {"max slew": rules.max_slew, "max capacitance": rules.max_capacitance, "max fanout": rules.max_fanout}
    for title, chk in ours.items():
        want = theirs.get(title, [])
        assert chk.violations == len(want), (title, chk.violations, len(want))
        assert {p for p, *_ in chk.violators()} == {p for p, _ in want}, title
    for title in expect_some:
        assert ours[title].violations > 0, title
    # our report has OpenSTA's layout: the same pin lines (order of ties aside)
    mine = _sections(rules.report())
    assert {k: sorted(p for p, _ in v) for k, v in mine.items()} == {k: sorted(p for p, _ in v) for k, v in theirs.items()}
    return rules, theirs


@pytest.fixture(scope="module")
def nangate_net(tmp_path_factory, nangate45):
    d = tmp_path_factory.mktemp("drv_ng")
    lib = _lib(nangate45, "typical", d)
    return d, lib, synth_nangate(RTL, "top", lib, d)


def test_nangate45_sdc_limits(nangate_net):
    d, lib, net = nangate_net
    rules, theirs = _check(d, lib, net, SDC + "set_max_transition 0.02 [current_design]\nset_max_capacitance 5 [current_design]\n"
                   "set_max_fanout 3 [current_design]\n", ("max slew", "max capacitance", "max fanout"))
    m = rules.metrics()
    assert m["finish__timing__drv__max_slew"] == len(theirs["max slew"])
    assert m["finish__timing__drv__max_fanout"] == len(theirs["max fanout"])
    assert m["finish__timing__drv__max_cap"] == len(theirs["max capacitance"])
    # worst slacks as OpenSTA prints them (2 digits, ns / fF / count); the metric is in ns / pF
    assert m["finish__timing__drv__max_slew_slack"] == pytest.approx(theirs["max slew"][0][1], abs=0.005)
    assert m["finish__timing__drv__max_cap_slack"] * 1e3 == pytest.approx(theirs["max capacitance"][0][1], abs=0.005)
    assert m["finish__timing__drv__max_fanout_slack"] == theirs["max fanout"][0][1]


def test_nangate45_library_default_max_transition(nangate_net):
    """Nangate45 default_max_transition 0.198535 ns applies to output pins only; a 1 ns input
    transition on a port violates nothing (ports have no Liberty limit) but the outputs of heavily
    loaded drivers do."""
    d, lib, net = nangate_net
    sdc = SDC.replace("set_load 3.0", "set_load 150.0")
    rules, _ = _check(d, lib, net, sdc, ("max slew",))
    assert all("/" in p for p, *_ in rules.max_slew.violators())
    assert rules.max_slew.limit.max() == pytest.approx(0.198535e-9, rel=1e-6, abs=0)


def test_sky130hd_pin_limits(tmp_path, sky130hd):
    lib = _lib(sky130hd, sky130hd.default_corner, tmp_path)
    net = synth_nangate(RTL.replace("ra * rb + ", ""), "top", lib, tmp_path)
    sdc = SDC.replace("0.9", "1.5").replace("set_load 3.0", "set_load 0.2")
    _check(tmp_path, lib, net, sdc, ("max capacitance",))
