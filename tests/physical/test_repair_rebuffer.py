"""Setup rebuffering in repair_timing (ORFS `repair_timing -setup` buffers critical nets as well
as sizing), checked by OpenSTA 3.1 on the final netlist + CTS SDC + route SPEF.

Design `critfan` (written here): one flop `s` starts the critical path (the carry-in of an 8-bit
add into `ry`) and also gates 24 flops through AND gates (`rz`, short paths with slack). Its
Q (DFF_X1, family X1/X2 only) drives ~30 fF, within every design rule, so repair_design leaves
it alone and sizing can at best make it DFF_X2. The same run is repaired twice from the same
CTS result: sizing only (SETUP_MOVE_SEQUENCE = "sizeup") misses the clock; with rebuffering the
24 off-path loads go behind one buffer, with gate cloning onto a copy of the flop, and either
meets the clock by a margin sizing cannot reach.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.physical.test_repair import _equivalent, _stage_dir
from tests.signoff.opensta import run_sta

RTL = """
module critfan (input clk, input en, input [7:0] a, input [7:0] b, input [23:0] c,
                output [8:0] y, output [23:0] z);
  reg s;
  reg [7:0] ra, rb;
  reg [8:0] ry;
  reg [23:0] rc, rz;
  always @(posedge clk) begin
    s <= en;
    ra <= a;
    rb <= b;
    rc <= c;
    ry <= ra + rb + {8'd0, s};
    rz <= rc & {24{s}};
  end
  assign y = ry;
  assign z = rz;
endmodule
"""

SDC = """create_clock -name clk -period 0.43 [get_ports clk]
set_input_delay 0.1 -clock clk [delete_from_list [all_inputs] [get_ports clk]]
set_output_delay 0.05 -clock clk [all_outputs]
"""


def _config(tmp_path: Path, sequence: str) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text('DESIGN_NAME = "critfan"\nPLATFORM = "nangate45"\nVERILOG_FILES = ["critfan.v"]\n'
                   'SDC_FILE = "critfan.sdc"\nCORE_UTILIZATION = 40\nSIGNOFF_CORNERS = ["typical"]\n'
                   f'SETUP_MOVE_SEQUENCE = "{sequence}"\n')
    return cfg


def _opensta_setup(run_dir: Path, lib: Path, tmp: Path) -> tuple[float, str]:
    """OpenSTA's worst setup slack (ns) on the final netlist, the CTS SDC and the route SPEF."""
    final = _stage_dir(run_dir, "repair_timing") / "critfan.v"
    script = (f"read_liberty {lib}\nread_verilog {final}\nlink_design critfan\n"
              f"read_sdc {_stage_dir(run_dir, 'cts') / 'critfan.cts.sdc'}\n"
              f"read_spef {_stage_dir(run_dir, 'route') / 'critfan.est.spef'}\n"
              "report_worst_slack -max -digits 6\nreport_checks -path_delay max -fields {fanout cap} -digits 4\n")
    out = run_sta(script, tmp).stdout
    m = re.search(r"^worst slack max (\S+)", out, re.M)
    assert m, out
    return float(m.group(1)), out


def _launch(report: str) -> tuple[int, str]:
    """Fanout and cell of the worst path's launching flop output (report_checks -fields fanout)."""
    m = re.search(r"^\s+(\d+)\s+\S+\s+\S+\s+\S+ [\^v] \S+/Q \((\w+)\)", report, re.M)
    assert m, report
    return int(m.group(1)), m.group(2)


def test_rebuffering_closes_what_sizing_cannot(tmp_path, nangate45):
    from flow.platform import load_platform
    from flow.runner import run_flow

    (tmp_path / "critfan.v").write_text(RTL)
    (tmp_path / "critfan.sdc").write_text(SDC)
    lib = nangate45.corner("typical").liberty[0]
    runs = tmp_path / "runs"
    run = run_flow(_config(tmp_path, "sizeup"), runs_dir=runs, tag="t", to_stage="signoff")
    sized = json.loads((run.run_dir / "metrics.json").read_text())
    ws_sized, out_sized = _opensta_setup(run.run_dir, lib, tmp_path)
    # the critical path starts at the heavily loaded flop, which sizing made as strong as it gets
    fanout, cell = _launch(out_sized)
    assert fanout >= 24 and cell == "DFF_X2", out_sized
    assert ws_sized < -0.015, out_sized  # sizing alone misses the clock
    assert sized["cts__design__instance__count__setup_buffer"] == 0 and sized["repair_timing__resized"] >= 1
    assert sized["finish__timing__setup__ws"] == pytest.approx(ws_sized, abs=0.005)

    # same placement and clock tree (only repair_timing and later stages re-run)
    run = run_flow(_config(tmp_path, "sizeup,buffer"), runs_dir=runs, tag="t", from_stage="repair_timing",
                   to_stage="signoff")
    m = json.loads((run.run_dir / "metrics.json").read_text())
    ws_buf, out_buf = _opensta_setup(run.run_dir, lib, tmp_path)
    assert m["cts__design__instance__count__setup_buffer"] >= 1
    assert ws_buf >= 0.0, out_buf
    assert ws_buf >= ws_sized + 0.03  # the margin over sizing only
    assert m["finish__timing__setup__ws"] == pytest.approx(ws_buf, abs=0.005)
    # the off-path loads moved behind the buffer: the flop's Q net keeps only the critical sinks
    fanout, _ = _launch(out_buf)
    assert fanout <= 4, out_buf
    final = (_stage_dir(run.run_dir, "repair_timing") / "critfan.v").read_text()
    assert re.search(r"\brebuffer_\d+", final)
    lib_typ = load_platform("nangate45").liberty("typical")
    assert _equivalent(_stage_dir(run.run_dir, "synth") / "critfan.v",
                       _stage_dir(run.run_dir, "repair_timing") / "critfan.v", "critfan", lib_typ) > 1000

    # gate cloning instead: a copy of the flop (same D and clock) takes the off-path loads
    run = run_flow(_config(tmp_path, "sizeup,clone"), runs_dir=runs, tag="t", from_stage="repair_timing",
                   to_stage="signoff")
    m = json.loads((run.run_dir / "metrics.json").read_text())
    ws_clone, out_clone = _opensta_setup(run.run_dir, lib, tmp_path)
    assert m["repair_timing__clones"] >= 1 and m["cts__design__instance__count__setup_buffer"] == 0
    assert ws_clone >= 0.0 and ws_clone >= ws_sized + 0.03, out_clone
    assert m["finish__timing__setup__ws"] == pytest.approx(ws_clone, abs=0.005)
    assert _launch(out_clone)[0] <= 4, out_clone
    final = _stage_dir(run.run_dir, "repair_timing") / "critfan.v"
    assert re.search(r"^\s*DFF_X\d clone_\d+ ", final.read_text(), re.M)
    assert _equivalent(_stage_dir(run.run_dir, "synth") / "critfan.v", final, "critfan", lib_typ) > 1000


def test_setup_move_sequence_names():
    from flow.errors import ConfigError
    from flow.stages.repair import setup_moves

    assert setup_moves(None) == ("sizeup", "buffer", "clone") and setup_moves(" buffer , sizeup") == ("buffer", "sizeup")
    assert setup_moves("unbuffer,size,swap,buffer,split") == ("sizeup", "buffer")  # OpenROAD names we lack: skipped
    with pytest.raises(ConfigError, match="unknown move 'sizup'"):
        setup_moves("sizup,buffer")
