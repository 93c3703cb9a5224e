"""SDC semantics as OpenSTA 3.1 reads them, checked by running `sta` 3.1 on the same files:
`set_input_delay`/`set_output_delay` replace a port's delays unless `-add_delay` (which merges:
larger max, smaller min), `-clock_fall` delays are a separate launch edge, a clock redefined by
name or on the same port replaces the old one, `set_clock_groups` with one group is asynchronous
to every other clock. Constraints the embedded STA cannot time as OpenSTA does are refused with
file:line (never silently dropped)."""

from __future__ import annotations

import pytest

from flow.engines import sta
from flow.errors import FormatError
from tests.signoff.test_parity_hunt_clocks import _netlist, _sdc, assert_matches_opensta

CASES = {
    # a later set_input_delay on another clock replaces the (violating) vclk one (was: both kept)
    "replace_other_clock": "set_input_delay 1.5 -clock vclk [get_ports a]\nset_input_delay 0.0 -clock core_clock [get_ports a]\n",
    # -clock_fall -add_delay adds a falling-edge launch, which violates (was: overwrote the rising one)
    "clock_fall_add": "set_input_delay 0.6 -clock vclk -clock_fall -add_delay [get_ports a]\n",
    # -add_delay on the same clock edge merges: max 0.5, min stays at 0.2 * period
    "add_merges": "set_output_delay 0.5 -clock vclk -add_delay [get_ports {y z}]\n"
                  "set_input_delay -0.05 -clock vclk -add_delay [get_ports rst_n]\n",
    # -max then -min on the same clock: one delay with both values
    "max_then_min": "set_output_delay -max 0.45 -clock vclk [get_ports y]\nset_output_delay -min -0.1 -clock vclk [get_ports y]\n",
    # one group: asynchronous to all other clocks (was: nothing)
    "one_group": "set_clock_groups -asynchronous -group [get_clocks clk2]\n",
    # the same name again redefines the clock (was: two clocks on one port)
    "redefine_by_name": "create_clock [get_ports clk1] -name core_clock -period 0.95\n",
    # another clock on the same port without -add replaces it
    "replace_on_port": "create_clock [get_ports clk1] -name fast -period 0.85\nset_clock_latency 0.05 [get_clocks fast]\n",
    # multicycle paths between clocks (were refused, before that ignored with a warning): setup
    # alone (hold moves with it), setup + hold, a plain one (-to only), -start/-end periods, the
    # more specific exception over a general one, and a form without -from/-to that OpenSTA
    # applies to no path
    "mcp_setup": "set_multicycle_path 2 -setup -from [get_clocks clk2] -to [get_clocks core_clock]\n",
    "mcp_setup_hold": "set_multicycle_path 3 -setup -from clk2 -to core_clock\n"
                      "set_multicycle_path 1 -hold -from clk2 -to core_clock\n",
    "mcp_plain": "set_multicycle_path 3 -to [get_clocks clk2]\n",
    "mcp_start_end": "set_multicycle_path 2 -setup -start -from [get_clocks core_clock] -to [get_clocks clk2]\n"
                     "set_multicycle_path 1 -hold -end -from [get_clocks core_clock] -to [get_clocks clk2]\n",
    "mcp_specific": "set_multicycle_path 4 -setup -to [get_clocks vclk]\n"
                    "set_multicycle_path 2 -setup -from [get_clocks clk2] -to [get_clocks vclk]\n"
                    "set_multicycle_path 1 -hold -from [get_clocks vclk]\n",
    "mcp_no_from_to": "set_multicycle_path 2 -setup\nset_multicycle_path 1 -hold\n",
}


@pytest.mark.parametrize("plat", ["nangate45", "sky130hd"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_sdc_semantics_match_opensta(plat, case, request, tmp_path):
    assert_matches_opensta(plat, lambda buf: _sdc(1.2, 1.7, (0.2, 1.0), 1.2, buf) + CASES[case], request, tmp_path)


REFUSED = [  # (extra SDC line, words of the error): each changes OpenSTA's numbers on this design
    ("set_multicycle_path 2 -setup -to [get_pins r2/D]", "set_multicycle_path"),
    ("set_multicycle_path 2 -through [get_pins u1/ZN] -to [get_clocks clk2]", "set_multicycle_path -through"),
    ("set_timing_derate -late 1.05", "set_timing_derate"),
    ("set_min_delay 0.1 -to [get_ports y]", "set_min_delay"),
    ("set_disable_timing [get_cells u1]", "set_disable_timing"),
    ("create_generated_clock -name div2 -source [get_ports clk1] -divide_by 2 [get_pins r1/Q]", "create_generated_clock"),
    ("set_false_path -through [get_pins u1/ZN]", "set_false_path -through"),
    ("set_false_path -setup -to [get_ports y]", "set_false_path -setup"),
    ("set_false_path -from [get_clocks vclk] -to [get_ports y]", "between a clock and pins"),
    ("set_max_delay 0.5 -from [get_ports a] -to [get_pins r1/D]", "set_max_delay -from"),
    ("set_clock_uncertainty -from [get_clocks core_clock] -to [get_clocks clk2] 0.2", "between clocks"),
    ("set_clock_latency -min 0.05 [get_clocks vclk]", "different rise/fall or min/max"),
    ("set_clock_latency -source -late 0.08 [get_clocks core_clock]", "different rise/fall or min/max"),
    ("set_clock_transition -rise 0.02 [get_clocks core_clock]", "different rise/fall or min/max"),
    ("set_clock_latency 0.1 [get_ports clk1]", "on pins or ports"),
    ("set_input_transition -fall 0.2 [get_ports a]", "different rise/fall or min/max"),
    ("set_load -min 0.5 [get_ports y]", "different rise/fall or min/max"),
    ("set_input_delay 0.1 -rise -clock vclk [get_ports a]", "set_input_delay -rise"),
    ("set_output_delay 0.1 -clock vclk -network_latency_included [get_ports y]", "-network_latency_included"),
    ("create_clock -add [get_ports clk1] -name other -period 2.0", "create_clock -add"),
]


@pytest.mark.parametrize("line, words", REFUSED)
def test_unsupported_constraints_are_refused_with_file_line(line, words, tmp_path):
    (tmp_path / "top.v").write_text(_netlist("nangate45"))
    base = _sdc(1.2, 1.7, (0.2, 1.0), 1.2, "BUF_X1")
    sdc = tmp_path / "top.sdc"
    sdc.write_text(base + line + "\n")
    design = sta.load_design([tmp_path / "top.v"], "top")
    with pytest.raises(FormatError) as exc:
        sta.load_constraints(sdc, design)
    assert exc.value.line == base.count("\n") + 1, str(exc.value)
    assert words in str(exc.value) and "not supported" in str(exc.value), str(exc.value)


def test_refusals_are_warnings_when_not_strict(tmp_path):
    """Readers that only want the clocks (the flow's clock period) still read such an SDC."""
    from flow.formats.sdc import read_sdc

    (tmp_path / "top.v").write_text(_netlist("nangate45"))
    sdc = tmp_path / "top.sdc"
    sdc.write_text(_sdc(1.2, 1.7, (0.2, 1.0), 1.2, "BUF_X1") + "set_timing_derate -late 1.05\n"
                   "set_clock_latency -min 0.05 [get_clocks vclk]\n")
    tc = read_sdc(sdc, sta.load_design([tmp_path / "top.v"], "top"), strict=False)
    assert [c.name for c in tc.clocks] == ["core_clock", "clk2", "vclk"]
    assert any("set_timing_derate is not modelled" in w for w in tc.warnings)
    assert any("different rise/fall or min/max values; the last one is used" in w for w in tc.warnings)
