"""Functional checks of our example designs in iverilog against Python reference models."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from tests.conftest import DESIGNS, require_tool


def simulate(tmp_path: Path, sources: list[Path], tb: str) -> str:
    iverilog = require_tool("iverilog")
    vvp = require_tool("vvp")
    (tmp_path / "tb.v").write_text(tb)
    out = tmp_path / "sim.vvp"
    subprocess.run([iverilog, "-g2012", "-o", str(out), *map(str, sources), str(tmp_path / "tb.v")],
                   check=True, capture_output=True, text=True)
    return subprocess.run([vvp, "-n", str(out)], check=True, capture_output=True, text=True).stdout


def signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def dot(w: int, a: int, prec: int) -> int:
    bits = {0: 8, 1: 4, 2: 2}[prec]
    return sum(signed(w >> s, bits) * signed(a >> s, bits) for s in range(0, 8, bits))


def test_gcd(tmp_path):
    rng = random.Random(7)
    pairs = [(rng.randrange(1, 65536), rng.randrange(1, 65536)) for _ in range(12)] + [(48, 18), (7, 0), (0, 5)]
    stim = "\n".join(
        f"    do_gcd(16'd{a}, 16'd{b});" for a, b in pairs
    )
    tb = f"""
`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 1, req_valid = 0, resp_ready = 0;
  reg [31:0] req_msg = 0;
  wire req_ready, resp_valid; wire [15:0] resp_msg;
  gcd dut(.clk(clk), .rst(rst), .req_valid(req_valid), .req_ready(req_ready), .req_msg(req_msg),
          .resp_valid(resp_valid), .resp_ready(resp_ready), .resp_msg(resp_msg));
  always #5 clk = ~clk;
  task do_gcd(input [15:0] a, input [15:0] b);
    begin
      @(negedge clk); req_msg = {{a, b}}; req_valid = 1;
      @(negedge clk); req_valid = 0;
      while (!resp_valid) @(negedge clk);
      $display("%0d %0d %0d", a, b, resp_msg);
      resp_ready = 1; @(negedge clk); resp_ready = 0;
    end
  endtask
  initial begin
    repeat (2) @(negedge clk); rst = 0;
{stim}
    $finish;
  end
endmodule
"""
    out = simulate(tmp_path, [DESIGNS / "gcd/src/gcd.v"], tb)
    import math

    got = [tuple(map(int, line.split())) for line in out.split("\n") if line.strip()]
    assert [(a, b) for a, b, _ in got] == pairs
    for a, b, g in got:
        assert g == math.gcd(a, b), (a, b, g)


@pytest.mark.parametrize("prec", [0, 1, 2])
def test_mac_array_all_precisions(tmp_path, prec):
    rows, cols, acc_w, n = 3, 4, 24, 9
    rng = random.Random(100 + prec)
    weights = [[rng.randrange(256) for _ in range(cols)] for _ in range(rows)]
    acts = [[rng.randrange(256) for _ in range(n)] for _ in range(rows)]
    wl = "\n".join(
        "    @(negedge clk); w_we = 1; w_row = {}; w_data = {{{}}};".format(
            r, ", ".join(f"8'd{weights[r][c]}" for c in reversed(range(cols))))
        for r in range(rows)
    )
    al = "\n".join(
        "    a_words[{}] = {{{}}};".format(t, ", ".join(f"8'd{acts[r][t]}" for r in reversed(range(rows))))
        for t in range(n)
    )
    tb = f"""
`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 1, w_we = 0, start = 0;
  reg [1:0] prec = {prec};
  reg [7:0] w_row = 0; reg [{cols * 8 - 1}:0] w_data = 0;
  reg [15:0] n_words = {n}; reg [{rows * 8 - 1}:0] a_data = 0;
  reg [{rows * 8 - 1}:0] a_words [0:{n - 1}];
  wire a_ready, out_valid, busy; wire [7:0] out_row; wire [{cols * acc_w - 1}:0] out_data;
  integer t, k, cycles;
  mac_array #(.ROWS({rows}), .COLS({cols}), .ACC_W({acc_w})) dut(
    .clk(clk), .rst(rst), .prec(prec), .w_we(w_we), .w_row(w_row), .w_data(w_data), .start(start),
    .n_words(n_words), .a_data(a_data), .a_ready(a_ready), .out_valid(out_valid), .out_row(out_row),
    .out_data(out_data), .busy(busy));
  always #5 clk = ~clk;
  initial begin
{al}
    repeat (2) @(negedge clk); rst = 0;
{wl}
    @(negedge clk); w_we = 0; start = 1; cycles = 0;
    @(negedge clk); start = 0; t = 0;
    while (!out_valid) begin
      if (a_ready) begin a_data = a_words[t]; t = t + 1; end else a_data = 0;
      @(negedge clk); cycles = cycles + 1;
    end
    while (out_valid) begin
      for (k = 0; k < {cols}; k = k + 1) $display("%0d %0d %0d", out_row, k, out_data[k*{acc_w} +: {acc_w}]);
      @(negedge clk); cycles = cycles + 1;
    end
    $display("words %0d cycles %0d busy %0d", t, cycles, busy);
    $finish;
  end
endmodule
"""
    src = DESIGNS / "mac_array/src"
    out = simulate(tmp_path, [src / "mac_pe.v", src / "mac_array.v"], tb).strip().splitlines()
    assert out[-1] == f"words {n} cycles {n + cols + rows} busy 0"
    got = {(int(r), int(c)): int(v) for r, c, v in (line.split() for line in out[:-1])}
    assert len(got) == rows * cols
    for r in range(rows):
        for c in range(cols):
            expect = sum(dot(weights[r][c], acts[r][t], prec) for t in range(n))
            assert signed(got[(r, c)], acc_w) == expect, (r, c)
