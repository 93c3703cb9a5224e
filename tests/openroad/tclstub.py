"""Evaluate rendered OpenROAD scripts in a real Tcl interpreter with stub commands.

Each OpenROAD command is a stub that checks its options against the command's synopsis (keys
taking a value, flags, positional count, required keys) and records the call; a few state rules
of a real session are enforced too (a design must be loaded — `link_design` or `read_db` —
before commands that need one, `read_liberty -corner` needs `define_corners`, `tapcell` and
`place_pins` need rows). The odb objects the scripts' helper procs use (block, region, group,
inst) are small Tcl fakes backed by what `create_voltage_domain` / `read_upf` created, so those
procs run for real. Every script runs in a fresh "session", but the fake database carries over
(as `write_db` / `read_db` would carry it).
"""

from __future__ import annotations

import re
import tkinter
from dataclasses import dataclass, field
from pathlib import Path

# command -> (keys with a value, flags, (min, max) positional args, required keys)
SPECS: dict[str, tuple[set[str], set[str], tuple[int, int], set[str]]] = {
    "read_lef": (set(), {"-tech", "-library"}, (1, 1), set()),
    "read_liberty": ({"-corner"}, {"-min", "-max", "-infer_latches"}, (1, 1), set()),
    "read_verilog": (set(), set(), (1, 1), set()),
    "link_design": (set(), {"-hier"}, (1, 1), set()),
    "read_sdc": (set(), {"-echo"}, (1, 1), set()),
    "read_upf": ({"-file"}, set(), (0, 0), {"-file"}),
    "read_db": (set(), set(), (1, 1), set()),
    "read_def": (set(), {"-floorplan_initialize", "-incremental", "-continue_on_errors", "-child"}, (1, 1), set()),
    "write_db": (set(), set(), (1, 1), set()),
    "write_def": (set(), set(), (1, 1), set()),
    "write_verilog": (set(), set(), (1, 1), set()),
    "create_voltage_domain": ({"-area"}, set(), (1, 1), {"-area"}),
    "initialize_floorplan": ({"-utilization", "-aspect_ratio", "-core_space", "-die_area", "-core_area", "-site",
                              "-additional_sites", "-row_parity"}, {"-flip_sites"}, (0, 0), {"-site"}),
    "make_tracks": ({"-x_pitch", "-y_pitch", "-x_offset", "-y_offset"}, set(), (0, 1), set()),
    "tapcell": ({"-distance", "-tapcell_master", "-endcap_master", "-halo_width_x", "-halo_width_y"}, set(), (0, 0),
                {"-tapcell_master"}),
    "place_pins": ({"-hor_layers", "-ver_layers", "-corner_avoidance", "-min_distance", "-exclude"},
                   {"-random", "-min_distance_in_tracks"}, (0, 0), {"-hor_layers", "-ver_layers"}),
    "report_design_area": (set(), set(), (0, 0), set()),
    "set_layer_rc": ({"-layer", "-via", "-resistance", "-capacitance", "-corner"}, set(), (0, 0), set()),
    "set_wire_rc": ({"-layer", "-resistance", "-capacitance", "-corner"}, {"-clock", "-signal"}, (0, 0), set()),
    "set_dont_use": (set(), set(), (1, 1), set()),
    "add_global_connection": ({"-net", "-inst_pattern", "-pin_pattern", "-region"},
                              {"-power", "-ground", "-defer_connection"}, (0, 0), {"-net", "-pin_pattern"}),
    "global_connect": (set(), set(), (0, 0), set()),
    "set_voltage_domain": ({"-name", "-power", "-ground", "-region", "-secondary_power", "-switched_power"}, set(),
                           (0, 0), {"-power", "-ground"}),
    "define_power_switch_cell": ({"-name", "-control", "-acknowledge", "-power_switchable", "-power", "-ground"},
                                 set(), (0, 0), {"-name", "-control", "-power_switchable", "-power", "-ground"}),
    "define_pdn_grid": ({"-name", "-voltage_domains", "-pins", "-starts_with", "-power_switch_cell",
                         "-power_control", "-power_control_network", "-obstructions", "-cells", "-halo"},
                        {"-macro", "-grid_over_pg_pins", "-grid_over_boundary"}, (0, 0), set()),
    "add_pdn_stripe": ({"-grid", "-layer", "-width", "-pitch", "-spacing", "-offset", "-starts_with",
                        "-number_of_straps", "-nets"}, {"-followpins", "-extend_to_core_ring", "-extend_to_boundary",
                                                         "-snap_to_grid"}, (0, 0), {"-layer"}),
    "add_pdn_connect": ({"-grid", "-layers", "-cut_pitch", "-fixed_vias", "-max_rows", "-max_columns"},
                        {"-ongrid"}, (0, 0), {"-layers"}),
    "pdngen": (set(), {"-skip_trim", "-dont_add_pins", "-reset", "-ripup", "-report_only", "-verbose"}, (0, 0), set()),
    "global_placement": ({"-density", "-pad_left", "-pad_right", "-init_density_penalty", "-overflow"},
                         {"-skip_io", "-routability_driven", "-timing_driven", "-incremental"}, (0, 0), set()),
    "estimate_parasitics": ({"-spef_file"}, {"-placement", "-global_routing"}, (0, 0), set()),
    "repair_design": ({"-max_wire_length", "-slew_margin", "-cap_margin"}, {"-verbose"}, (0, 0), set()),
    "repair_tie_fanout": ({"-separation", "-max_fanout"}, {"-verbose"}, (1, 1), set()),
    "set_placement_padding": ({"-left", "-right", "-instances", "-masters"}, {"-global"}, (0, 0), set()),
    "detailed_placement": ({"-max_displacement"}, {"-disallow_one_site_gaps"}, (0, 0), set()),
    "check_placement": ({"-report_file_name"}, {"-verbose", "-disallow_one_site_gaps"}, (0, 0), set()),
    "clock_tree_synthesis": ({"-root_buf", "-buf_list", "-wire_unit", "-clk_nets", "-sink_clustering_size",
                              "-sink_clustering_max_diameter", "-distance_between_buffers"},
                             {"-sink_clustering_enable", "-balance_levels"}, (0, 0), {"-buf_list"}),
    "set_propagated_clock": (set(), set(), (1, 1), set()),
    "repair_clock_nets": ({"-max_wire_length"}, set(), (0, 0), set()),
    "repair_timing": ({"-setup_margin", "-hold_margin", "-repair_tns", "-sequence"}, {"-setup", "-hold"}, (0, 0), set()),
    "remove_buffers": (set(), set(), (0, 1), set()),
    "buffer_ports": ({"-buffer_cell", "-max_utilization"}, {"-inputs", "-outputs", "-verbose"}, (0, 0), set()),
    "repair_clock_inverters": (set(), set(), (0, 0), set()),
    "repair_antennas": ({"-iterations", "-ratio_margin"}, {"-jumper_only", "-diode_only", "-allow_congestion"},
                        (0, 1), set()),
    "check_antennas": ({"-report_file", "-net"}, {"-verbose", "-report_violating_nets"}, (0, 0), set()),
    "define_process_corner": ({"-ext_model_index"}, set(), (1, 1), set()),
    "extract_parasitics": ({"-ext_model_file", "-corner", "-corner_cnt", "-max_res", "-coupling_threshold"},
                           {"-lef_res", "-lef_rc"}, (0, 0), set()),
    "write_spef": ({"-net_id", "-nets"}, {"-coordinates"}, (1, 1), set()),
    "report_worst_slack": ({"-digits", "-corner"}, {"-max", "-min"}, (0, 0), set()),
    "report_tns": ({"-digits", "-corner"}, {"-max", "-min"}, (0, 0), set()),
    "report_wns": ({"-digits", "-corner"}, {"-max", "-min"}, (0, 0), set()),
    "report_checks": ({"-path_delay", "-format", "-fields", "-digits", "-group_count", "-endpoint_count", "-corner"},
                      {"-unique_paths_to_endpoint"}, (0, 0), set()),
    "set_routing_layers": ({"-signal", "-clock"}, set(), (0, 0), set()),
    "set_global_routing_layer_adjustment": (set(), set(), (2, 2), set()),
    "global_route": ({"-guide_file", "-congestion_iterations", "-congestion_report_file", "-grid_origin"},
                     {"-verbose", "-allow_congestion", "-start_incremental", "-end_incremental"}, (0, 0), set()),
    "detailed_route": ({"-output_drc", "-output_maze", "-droute_end_iter", "-verbose"}, set(), (0, 0), set()),
    "filler_placement": ({"-prefix"}, set(), (1, 1), set()),
    "define_corners": (set(), set(), (1, 99), set()),
    "read_guides": (set(), set(), (1, 1), set()),
    "read_vcd": ({"-scope"}, set(), (1, 1), set()),
    "read_saif": ({"-scope"}, set(), (1, 1), set()),
    "set_power_activity": ({"-activity", "-duty", "-input_ports", "-pins"}, {"-global", "-input"}, (0, 0),
                           {"-activity"}),
    "report_power": ({"-corner", "-digits"}, set(), (0, 0), set()),
    "get_lib_cells": (set(), set(), (1, 1), set()),
    "get_property": (set(), set(), (2, 2), set()),
    "get_name": (set(), set(), (1, 1), set()),
    "all_clocks": (set(), set(), (0, 0), set()),
}

REFERENCE_COMMANDS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "openroad-commands.txt"

#: Commands OpenROAD has that its `sta::define_cmd_args` list (openroad-commands.txt) does not
#: name: OpenSTA's own commands and OpenDB's readers/writers (checked by SPECS alone).
NOT_IN_REFERENCE = {"read_lef", "read_liberty", "read_sdc", "read_db", "read_def", "write_db", "write_def",
                    "add_global_connection", "global_connect", "set_propagated_clock", "report_worst_slack",
                    "report_tns", "report_wns", "report_checks", "define_corners", "read_vcd", "read_saif",
                    "set_power_activity", "report_power", "get_lib_cells", "get_property", "get_name", "all_clocks",
                    "report_clock_skew", "report_check_types"}


def reference_synopses(path: Path = REFERENCE_COMMANDS) -> dict[str, tuple[set[str], str]]:
    """OpenROAD command -> (every -option its synopsis names, the synopsis), from
    openroad-commands.txt (FILE<TAB>COMMAND<TAB>ARGS)."""
    out: dict[str, tuple[set[str], str]] = {}
    for line in path.read_text().splitlines():
        if line.startswith("#") or line.count("\t") < 2:
            continue
        _, name, args = line.split("\t", 2)
        out[name] = (set(re.findall(r"(?<![\w-])-[A-Za-z_][\w]*", args)), args)
    return out


def check_reference(name: str, options: list[str], synopses: dict[str, tuple[set[str], str]]) -> None:
    """Raise unless OpenROAD has `name` and every -option in `options` is in its synopsis."""
    if name in NOT_IN_REFERENCE:
        return
    if name not in synopses:
        raise ValueError(f"{name}: not an OpenROAD command (not in openroad-commands.txt)")
    known, args = synopses[name]
    bad = [o for o in options if o not in known]
    if bad:
        raise ValueError(f"{name}: OpenROAD's {name} has no option {bad[0]} (synopsis {args})")


NEEDS_DESIGN = set(SPECS) - {"read_lef", "read_liberty", "read_verilog", "link_design", "read_db", "define_corners",
                             "set_layer_rc", "set_wire_rc", "set_dont_use", "get_lib_cells", "get_property",
                             "get_name"}
NEEDS_ROWS = {"make_tracks", "tapcell", "place_pins", "global_placement", "detailed_placement", "pdngen",
              "global_route"}
RETURNS = {"all_clocks": "core_clock", "get_lib_cells": "libcell0", "get_property": "lib0",
           "get_name": "StdCellLib"}

_FAKE_ODB = r"""
namespace eval ord {}
namespace eval gpl {}
proc ord::get_db_block {} { return ::fake_block }
# the placer's density lower bound (cell area / free core area): a fixed stand-in value
proc gpl::get_global_placement_uniform_density {args} { return 0.5 }
proc ord::microns_to_dbu {v} { return [expr {round($v * 1000)}] }
proc ::fake_block {method args} {
  set name [lindex $args 0]
  switch -- $method {
    findRegion { if {[info exists ::regions($name)]} { return [::fake_obj region $name] } ; return NULL }
    findGroup  { if {[info exists ::regions($name)]} { return [::fake_obj group $name] } ; return NULL }
    findInst   { if {[lsearch -exact $::missing_insts $name] >= 0} { return NULL } ; return [::fake_obj inst $name] }
    findNet    { return NULL }
    default    { error "fake block: no method $method" }
  }
}
proc ::fake_obj {kind name} {
  set cmd "::fake_${kind}_[incr ::fake_seq]"
  interp alias {} $cmd {} ::fake_${kind}_method $name
  return $cmd
}
proc ::fake_region_method {name method args} {
  switch -- $method {
    getBoundaries { return [list [::fake_obj box $name]] }
    getName { return $name }
    setRegionType { _record setRegionType $name {*}$args }
    default { error "fake region: no method $method" }
  }
}
proc ::fake_box_method {name method args} {
  lassign $::regions($name) x0 y0 x1 y1
  switch -- $method {
    xMin { return [expr {round($x0 * 1000)}] }
    yMin { return [expr {round($y0 * 1000)}] }
    xMax { return [expr {round($x1 * 1000)}] }
    yMax { return [expr {round($y1 * 1000)}] }
    default { error "fake box: no method $method" }
  }
}
proc ::fake_group_method {name method args} {
  switch -- $method {
    getName { return $name }
    addInst { set inst [[lindex $args 0] getName] ; set ::inst_group($inst) $name ; _record_member add $name $inst }
    removeInst { set inst [[lindex $args 0] getName] ; unset ::inst_group($inst) ; _record_member remove $name $inst }
    default { error "fake group: no method $method" }
  }
}
proc ::fake_inst_method {name method args} {
  switch -- $method {
    getName { return $name }
    getGroup { if {[info exists ::inst_group($name)]} { return [::fake_obj group $::inst_group($name)] } ; return NULL }
    setLocation - setOrient - setPlacementStatus { _record $method $name {*}$args }
    default { error "fake inst: no method $method" }
  }
}
namespace eval odb {}
proc odb::dbNet_create {block name} { _record odb::dbNet_create $name ; return ::fake_net }
proc odb::dbBTerm_create {net name} { _record odb::dbBTerm_create $name ; return ::fake_bterm }
"""


@dataclass
class Call:
    name: str
    args: list[str]
    keys: dict[str, str]
    flags: set[str]
    positional: list[str]


@dataclass
class ScriptRun:
    calls: list[Call] = field(default_factory=list)
    output: list[str] = field(default_factory=list)

    def of(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.name == name]

    def one(self, name: str) -> Call:
        found = self.of(name)
        assert len(found) == 1, f"expected one {name}, got {len(found)}"
        return found[0]

    def names(self) -> list[str]:
        return [c.name for c in self.calls]

    def log(self) -> str:
        return "\n".join(self.output) + "\n"


def _is_number(tok: str) -> bool:
    return re.fullmatch(r"-?\d+(\.\d*)?([eE][-+]?\d+)?", tok) is not None


class Session:
    """A fake OpenROAD: run scripts one after another, as separate processes sharing a db."""

    def __init__(self, *, missing_insts: tuple[str, ...] = (), reports: dict[str, str] | None = None) -> None:
        self.tcl = tkinter.Tcl()
        self.synopses = reference_synopses()
        self.members: list[tuple[str, str, str]] = []
        self.reports = reports or {}
        self.run: ScriptRun = ScriptRun()
        self.state: dict[str, object] = {}
        self.tcl.createcommand("_record", self._record)
        self.tcl.createcommand("_stub", self._stub)
        self.tcl.createcommand("_record_member", lambda *a: self.members.append(tuple(a)) or "")
        self.tcl.createcommand("_puts", lambda *a: self.run.output.append(a[-1]) or "")
        self.tcl.eval("array set ::regions {}")
        self.tcl.eval("array set ::inst_group {}")
        self.tcl.eval("set ::fake_seq 0")
        self.tcl.eval("set ::missing_insts {" + " ".join(missing_insts) + "}")
        self.tcl.eval(_FAKE_ODB)
        self.tcl.eval('proc _check {r} { if {[string match "ERR:*" $r]} { error [string range $r 4 end] } ; return $r }')
        self.tcl.eval("rename puts _tcl_puts")
        self.tcl.eval("proc puts {args} { _puts {*}$args }")
        for name in SPECS:
            self.tcl.eval(f"proc {name} {{args}} {{ return [_check [_stub {name} {{*}}$args]] }}")

    def _record(self, name: str, *args: str) -> str:
        self.run.calls.append(Call(name, list(args), {}, set(), list(args)))
        return ""

    def _stub(self, name: str, *args: str) -> str:
        # an exception raised in a Tcl callback loses its message: hand it back as a value
        try:
            return self._stub_checked(name, *args)
        except (tkinter.TclError, AssertionError, ValueError) as exc:
            return f"ERR:{exc}"

    def _stub_checked(self, name: str, *args: str) -> str:
        keys, flags, (lo, hi), required = SPECS[name]
        call = Call(name, list(args), {}, set(), [])
        i = 0
        while i < len(args):
            tok = args[i]
            if tok in keys:
                if i + 1 >= len(args):
                    raise ValueError(f"{name}: {tok} needs a value")
                call.keys[tok] = args[i + 1]
                i += 2
                continue
            if tok in flags:
                call.flags.add(tok)
            elif tok.startswith("-") and not _is_number(tok):
                raise ValueError(f"{name}: unknown option {tok}")
            else:
                call.positional.append(tok)
            i += 1
        if not lo <= len(call.positional) <= hi:
            raise ValueError(f"{name}: {len(call.positional)} positional args {call.positional}, expected {lo}..{hi}")
        if required - set(call.keys):
            raise ValueError(f"{name}: missing {sorted(required - set(call.keys))}")
        check_reference(name, list(call.keys) + sorted(call.flags), self.synopses)
        self._semantics(call)
        self.run.calls.append(call)
        if name in self.reports:
            for line in self.reports[name].splitlines():
                self.run.output.append(line)
        return RETURNS.get(name, "")

    def _semantics(self, call: Call) -> None:
        st = self.state
        if call.name in NEEDS_DESIGN and not st.get("design"):
            raise ValueError(f"{call.name}: no design loaded (link_design or read_db first)")
        if call.name in NEEDS_ROWS and not st.get("rows"):
            raise ValueError(f"{call.name}: the floorplan has no rows (initialize_floorplan or read_db first)")
        if call.name in {"link_design", "read_db"}:
            st["design"] = True
        if call.name == "read_db":
            st["rows"] = True
            if not Path(call.positional[0]).name.endswith(".odb"):
                raise ValueError(f"read_db {call.positional[0]}: not an .odb")
        if call.name == "read_def" and "-floorplan_initialize" in call.flags:
            st["rows"] = True  # die, core and rows come from the DEF
        if call.name == "initialize_floorplan":
            util = "-utilization" in call.keys
            area = "-die_area" in call.keys and "-core_area" in call.keys
            if util == area:
                raise ValueError("initialize_floorplan: give -utilization or -die_area/-core_area")
            st["rows"] = True
        if call.name == "define_corners":
            st["corners"] = set(call.positional)
        if call.name == "read_liberty" and "-corner" in call.keys and call.keys["-corner"] not in st.get("corners", set()):
            raise ValueError(f"read_liberty: corner {call.keys['-corner']} not defined")
        if call.name == "create_voltage_domain":
            area = call.keys["-area"].split()
            if len(area) != 4 or not all(_is_number(v) and float(v) > 0 for v in area):
                raise ValueError(f"create_voltage_domain: -area {area}")
            self.tcl.eval(f"set ::regions({call.positional[0]}) {{{' '.join(area)}}}")
        if call.name == "read_upf":
            from flow.formats.upf import read_upf

            upf = read_upf(Path(call.keys["-file"]))
            for c in upf.commands:  # OpenROAD's read_upf sources the file: only its UPF commands exist
                check_reference(c.name, [a for a in c.args if isinstance(a, str) and a.startswith("-")
                                         and not _is_number(a)], self.synopses)
            for c in upf.of("set_domain_area"):
                self.tcl.eval(f"set ::regions({c.positional()[0]}) {{{' '.join(c.option('-area'))}}}")

    def source(self, script: Path) -> ScriptRun:
        """Run one script as a new openroad process would (fresh design state, same fake db)."""
        self.run = ScriptRun()
        self.state = {}
        self.tcl.eval(f"source {{{Path(script)}}}")
        return self.run

    def regions(self) -> dict[str, list[float]]:
        names = self.tcl.eval("array names ::regions").split()
        return {n: [float(v) for v in self.tcl.eval(f"set ::regions({n})").split()] for n in names}
