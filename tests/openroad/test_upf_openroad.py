"""UPF for OpenROAD: only `read_upf`'s commands and options (checked against OpenROAD's own
command list, openroad-commands.txt), with FINE-VH's domains, areas and switches kept."""

from __future__ import annotations

import pytest

from flow.errors import FormatError
from flow.formats.upf import OPENROAD_UPF, Upf, UpfCommand, to_openroad
from tests.openroad.tclstub import REFERENCE_COMMANDS, check_reference, reference_synopses


def test_openroad_upf_table_is_openroads():
    ref = reference_synopses()
    for name, options in OPENROAD_UPF.items():
        assert name in ref and ref[name][0] == options, name
    # and every UPF command OpenROAD defines (src/upf/src/upf.tcl) is in the table
    upf_tcl = {ln.split("\t")[1] for ln in REFERENCE_COMMANDS.read_text().splitlines()
               if ln.startswith("src/upf/src/upf.tcl\t")}
    assert upf_tcl - {"read_upf", "write_upf"} == set(OPENROAD_UPF)

def test_finevh_upf_becomes_read_upf_commands():
    from plugins.finevh.plugin import build_upf

    names = ["isl0", "isl1"]
    members = {"isl0": ["_1_", "_2_"], "isl1": ["_3_"]}
    rects = [(1e-6, 1e-6, 10e-6, 5e-6), (1e-6, 5e-6, 10e-6, 9e-6)]
    doc = {"rail_voltage": {"VDDH": 1.1, "VDDL": 0.95}, "vddh": "VDDH", "vddl": "VDDL"}
    src = build_upf(names, members, rects, doc)
    src.commands.append(UpfCommand("map_power_switch", ["-domain", "PD_isl0", "-lib_cells", ["HEADER_X1"]], 0))
    out, notes = to_openroad(src)
    ref = reference_synopses()
    for c in out.commands:
        check_reference(c.name, [a for a in c.args if isinstance(a, str) and a.startswith("-")], ref)
    names_out = [c.name for c in out.commands]
    assert not {"upf_version", "create_supply_net", "create_supply_port", "connect_supply_net",
                "set_domain_supply_net"} & set(names_out)
    assert len(notes) == sum(c.name in {"upf_version", "create_supply_net", "create_supply_port", "connect_supply_net",
                                        "set_domain_supply_net"} for c in src.commands)
    assert out.domains() == {"PD_TOP": [], "PD_isl0": ["_1_", "_2_"], "PD_isl1": ["_3_"]}
    assert set(out.switches()) == {"SW_isl0_H", "SW_isl0_L", "SW_isl1_H", "SW_isl1_L"}
    areas = {c.positional()[0]: c.option("-area") for c in out.of("set_domain_area")}
    assert areas["PD_isl1"] == ["1.000", "5.000", "10.000", "9.000"]
    (mp,) = out.of("map_power_switch")
    assert mp.option("-switch_name_list") == ["SW_isl0_H", "SW_isl0_L"]
    assert [c.option("-voltage") for c in out.of("set_domain_voltage")] == ["1.1", "1.1"]


def test_option_openroad_lacks_is_an_error():
    bad = Upf([UpfCommand("create_power_domain", ["PD", "-supply", ["primary", "SS"]], 7)])
    with pytest.raises(FormatError, match="create_power_domain: OpenROAD's read_upf has no option -supply"):
        to_openroad(bad)
