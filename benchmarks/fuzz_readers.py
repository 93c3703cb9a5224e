"""Mutation fuzzing of every file reader: a reader may only raise FormatError (or another
VhflowError) on bad input — never another exception, never hang.

Each format has a small valid seed; a case applies 1-4 random mutations (byte flips, deleted /
duplicated / truncated ranges, hostile tokens: NaN, huge numbers, braces, Latin-1 and NUL bytes,
gzip wrapping, Tcl commands) and calls the reader on the result. A case is a *crash* when the
reader raises anything but a VhflowError, a *hang* when it runs longer than --timeout.

    .venv/bin/python benchmarks/fuzz_readers.py                  # 10,000 cases per format
    .venv/bin/python benchmarks/fuzz_readers.py --cases 500 --formats sdc lef

tests/security/test_fuzz.py runs the same harness with a few dozen cases per reader it owns.
Exit status 1 when any case crashed or hung; the crashes are listed with a reproducer path.
"""

from __future__ import annotations

import argparse
import gzip
import random
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flow.errors import VhflowError  # noqa: E402

SDC_SEED = b"""# ORFS-style constraints
set clk_name core_clock
set clk_period 2.8
create_clock -name $clk_name -period $clk_period [get_ports clk]
set non_clock_inputs [lsearch -inline -all -not -exact [all_inputs] clk]
set_input_delay [expr $clk_period * 0.2] -clock $clk_name $non_clock_inputs
set_output_delay [expr {$clk_period * 0.2}] -clock $clk_name [all_outputs]
set_load 2.0 [all_outputs]
set_clock_uncertainty 0.05 [get_clocks core_clock]
foreach p {a b} { set_input_transition 0.1 [get_ports $p] }
"""

VERILOG_SEED = b"""// gate-level netlist
module top (clk, a, b, y);
  input clk;
  input [1:0] a;
  input b;
  output y;
  wire n1, n2;
  NAND2_X1 u1 (.A1(a[0]), .A2(b), .ZN(n1));
  INV_X1 u2 (.A(n1), .ZN(n2));
  DFF_X1 r1 (.D(n2), .CK(clk), .Q(y), .QN());
  assign n3 = a[1];
endmodule
"""

LEF_SEED = b"""VERSION 5.8 ;
BUSBITCHARS "[]" ;
DIVIDERCHAR "/" ;
UNITS
  DATABASE MICRONS 2000 ;
END UNITS
SITE FreePDK45_38x28_10R_NP_162NW_34O
  SYMMETRY y ;
  CLASS core ;
  SIZE 0.19 BY 1.4 ;
END FreePDK45_38x28_10R_NP_162NW_34O
LAYER metal1
  TYPE ROUTING ;
  DIRECTION HORIZONTAL ;
  PITCH 0.14 ;
  WIDTH 0.07 ;
END metal1
MACRO INV_X1
  CLASS CORE ;
  ORIGIN 0 0 ;
  SIZE 0.38 BY 1.4 ;
  SITE FreePDK45_38x28_10R_NP_162NW_34O ;
  PIN A
    DIRECTION INPUT ;
    PORT
      LAYER metal1 ;
        RECT 0.06 0.525 0.15 0.7 ;
    END
  END A
  PIN ZN
    DIRECTION OUTPUT ;
    PORT
      LAYER metal1 ;
        RECT 0.23 0.15 0.32 1.25 ;
    END
  END ZN
END INV_X1
END LIBRARY
"""

DEF_SEED = b"""VERSION 5.8 ;
DIVIDERCHAR "/" ;
BUSBITCHARS "[]" ;
DESIGN top ;
UNITS DISTANCE MICRONS 2000 ;
DIEAREA ( 0 0 ) ( 20000 20000 ) ;
ROW ROW_0 FreePDK45_38x28_10R_NP_162NW_34O 1000 1000 N DO 40 BY 1 STEP 380 0 ;
TRACKS X 190 DO 50 STEP 380 LAYER metal1 ;
COMPONENTS 2 ;
  - u1 INV_X1 + PLACED ( 1000 1000 ) N ;
  - u2 INV_X1 + UNPLACED ;
END COMPONENTS
PINS 1 ;
  - a + NET a + DIRECTION INPUT + USE SIGNAL + LAYER metal3 ( 0 0 ) ( 100 100 ) + PLACED ( 0 5000 ) N ;
END PINS
NETS 1 ;
  - a ( PIN a ) ( u1 A ) ;
END NETS
END DESIGN
"""

UPF_SEED = b"""upf_version 2.0
create_power_domain PD_TOP
create_supply_port VDD
create_supply_net VDD -domain PD_TOP
connect_supply_net VDD -ports VDD
create_power_domain PD_isl0 -elements {u1 u2}
create_supply_net VDDH -domain PD_isl0
create_power_switch sw0 -domain PD_isl0 -output_supply_port {out VDD_isl0} \\
    -input_supply_port {in VDDH} -control_port {ctrl sel0} -on_state {on in {ctrl}}
set_domain_supply_net PD_isl0 -primary_power_net VDD_isl0 -primary_ground_net VSS
"""

CONFIG_SEED = b"""DESIGN_NAME = "top"
PLATFORM = "nangate45"
VERILOG_FILES = ["top.v"]
SDC_FILE = "top.sdc"
CLOCK_PERIOD = 2.5
CORE_UTILIZATION = 40
PLACE_ITERATIONS = 40
VERILOG_DEFINES = { WIDTH = 8 }
"""

VCD_SEED = b"""$date today $end
$timescale 1ps $end
$scope module top $end
$var wire 1 ! clk $end
$var wire 2 " a [1:0] $end
$upscope $end
$enddefinitions $end
#0
0!
b00 "
#500
1!
b01 "
#1000
0!
#1500
1!
b10 "
#2000
"""

SAIF_SEED = b"""(SAIFILE
(SAIFVERSION "2.0")
(DIRECTION "backward")
(DESIGN )
(TIMESCALE 1 ps)
(DURATION 2000)
(INSTANCE top
  (NET
    (clk (T0 1000) (T1 1000) (TX 0) (TC 4) (IG 0))
    (a\\[0\\] (T0 1500) (T1 500) (TX 0) (TC 1) (IG 0))
  )
)
)
"""

SPEF_SEED = b"""*SPEF "IEEE 1481-1998"
*DESIGN "top"
*DATE "today"
*VENDOR "vhflow"
*PROGRAM "fuzz"
*VERSION "1"
*DESIGN_FLOW "PIN_CAP NONE"
*DIVIDER /
*DELIMITER :
*BUS_DELIMITER [ ]
*T_UNIT 1 NS
*C_UNIT 1 PF
*R_UNIT 1 OHM
*L_UNIT 1 HENRY

*NAME_MAP
*1 n1
*2 u1
*3 u2

*D_NET *1 0.0021
*CONN
*I *2:ZN O
*I *3:A I
*CAP
1 *2:ZN 0.001
2 *3:A 0.0011
*RES
1 *2:ZN *3:A 12.5
*END
"""

LIBERTY_SEED = b"""library (fuzz) {
  delay_model : table_lookup ;
  time_unit : "1ns" ;
  voltage_unit : "1V" ;
  current_unit : "1mA" ;
  capacitive_load_unit (1, ff) ;
  pulling_resistance_unit : "1kohm" ;
  leakage_power_unit : "1nW" ;
  nom_voltage : 1.1 ;
  lu_table_template (t2) {
    variable_1 : input_net_transition ;
    variable_2 : total_output_net_capacitance ;
    index_1 ("0.01, 0.1") ;
    index_2 ("1, 10") ;
  }
  cell (INV_X1) {
    area : 0.532 ;
    cell_leakage_power : 10.0 ;
    pin (A) { direction : input ; capacitance : 1.7 ; }
    pin (ZN) {
      direction : output ;
      function : "!A" ;
      max_capacitance : 60.0 ;
      timing () {
        related_pin : "A" ;
        timing_sense : negative_unate ;
        cell_rise (t2) { values ("0.01, 0.02", "0.03, 0.04") ; }
        cell_fall (t2) { values ("0.01, 0.02", "0.03, 0.04") ; }
        rise_transition (t2) { values ("0.01, 0.02", "0.03, 0.04") ; }
        fall_transition (t2) { values ("0.01, 0.02", "0.03, 0.04") ; }
      }
    }
  }
}
"""

FLP_SEED = b"""# name width height left bottom
core0 0.002 0.002 0 0
core1 0.002 0.002 0.002 0
cache 0.004 0.001 0 0.002
"""

PTRACE_SEED = b"""core0 core1 cache
1.5 1.2 0.4
1.4 1.3 0.5
"""


def _empty_design():
    import numpy as np

    from flow.engines.model import FlatDesign

    empty = np.zeros(0, dtype=np.int64)
    return FlatDesign([], [], np.zeros(1, dtype=np.int64), empty, [], empty, [], [], [], empty)


def _sdc(path: Path) -> object:
    from flow.formats.sdc import read_sdc

    return read_sdc(path, _empty_design())


def _verilog(path: Path) -> object:
    from flow.formats.verilog import read_verilog

    return read_verilog([path], "top")


def _lef(path: Path) -> object:
    from flow.formats.lef import read_lef

    return read_lef(path)


def _def(path: Path) -> object:
    from flow.formats.deflib import read_def

    return read_def(path)


def _upf(path: Path) -> object:
    from flow.formats.upf import read_upf

    return read_upf(path)


def _config(path: Path) -> object:
    from flow.config import FLOW_VARIABLES, resolve_config
    from flow.stage import Variable

    (path.parent / "top.v").write_text("module top; endmodule\n")
    (path.parent / "top.sdc").write_text("")
    extra = (Variable("CORE_UTILIZATION", float, "", 40.0), Variable("PLACE_ITERATIONS", int, "", 40))
    return resolve_config(path, {v.name: v for v in (*FLOW_VARIABLES, *extra)})


def _vcd(path: Path) -> object:
    from flow.formats.vcd import read_vcd

    return read_vcd(path)


def _saif(path: Path) -> object:
    from flow.formats.saif import read_saif

    return read_saif(path)


def _spef(path: Path) -> object:
    from flow.formats.spef import read_spef

    return read_spef(path)


def _liberty(path: Path) -> object:
    from flow.formats.liberty import read_liberty

    return read_liberty(path)


def _flp(path: Path) -> object:
    from flow.formats.hotspot import read_flp

    return read_flp(path)


def _ptrace(path: Path) -> object:
    from flow.formats.hotspot import read_ptrace

    return read_ptrace(path)


#: format -> (file suffix, seed, reader); the first six are the host's readers
FORMATS: dict[str, tuple[str, bytes, Callable[[Path], object]]] = {
    "sdc": (".sdc", SDC_SEED, _sdc),
    "verilog": (".v", VERILOG_SEED, _verilog),
    "lef": (".lef", LEF_SEED, _lef),
    "def": (".def", DEF_SEED, _def),
    "upf": (".upf", UPF_SEED, _upf),
    "config": (".toml", CONFIG_SEED, _config),
    "vcd": (".vcd", VCD_SEED, _vcd),
    "saif": (".saif", SAIF_SEED, _saif),
    "spef": (".spef", SPEF_SEED, _spef),
    "liberty": (".lib", LIBERTY_SEED, _liberty),
    "flp": (".flp", FLP_SEED, _flp),
    "ptrace": (".ptrace", PTRACE_SEED, _ptrace),
}

HOSTILE = [b"nan", b"-nan", b"inf", b"-1", b"0", b"1e999", b"-1e309", b"99999999999999999999999", b"{", b"}",
           b"[", b"]", b"\\", b'"', b";", b"$", b"\x00", b"\xe9", b"\xff\xfe", b"\n", b"(", b")",
           b"[exec touch /tmp/vhflow_fuzz_pwned]", b"[open /etc/passwd]", b"while {1} {}", b"#", b"*",
           b"END", b"end", b"endmodule", b"module", b"-", b"+", b"/*", b"*/", b"//"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """1-4 random edits of `data` (see the module docstring)."""
    for _ in range(rng.randint(1, 4)):
        n = len(data)
        op = rng.randrange(9)
        i = rng.randrange(n + 1) if n else 0
        j = min(n, i + rng.randint(1, 40))
        if op == 0 and n:  # flip a byte
            data = data[:i % n] + bytes([rng.randrange(256)]) + data[i % n + 1:]
        elif op == 1:  # delete a range
            data = data[:i] + data[j:]
        elif op == 2:  # duplicate a range
            data = data[:j] + data[i:j] + data[j:]
        elif op == 3:  # truncate
            data = data[:i]
        elif op in (4, 5):  # insert a hostile token
            data = data[:i] + rng.choice(HOSTILE) + data[i:]
        elif op == 6:  # replace a number by a hostile one
            k = data.find(b".", i)
            if k > 0:
                data = data[:k - 1] + rng.choice(HOSTILE[:8]) + data[k + 2:]
        elif op == 7:  # swap two lines
            lines = data.split(b"\n")
            if len(lines) > 2:
                a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
                lines[a], lines[b] = lines[b], lines[a]
                data = b"\n".join(lines)
        elif op == 8 and rng.random() < 0.3:  # gzip, sometimes corrupt
            data = gzip.compress(data)
            if rng.random() < 0.5 and len(data) > 12:
                k = rng.randrange(10, len(data))
                data = data[:k] + bytes([rng.randrange(256)]) + data[k + 1:]
    return data


class Hang(BaseException):
    """Raised by the alarm: the reader ran past the timeout."""


def _alarm(signum, frame):  # noqa: ARG001 - signal handler signature
    raise Hang()


def fuzz(fmt: str, cases: int, *, seed: int = 0, timeout_s: float = 10.0, workdir: Path | None = None,
         keep: Path | None = None) -> list[str]:
    """Run `cases` mutated inputs through the reader of `fmt`; returns one line per crash/hang."""
    suffix, data, reader = FORMATS[fmt]
    rng = random.Random(f"{fmt}:{seed}")
    problems: list[str] = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / f"case{suffix}"
        path.write_bytes(data)
        try:  # the seed, untimed: the first call imports and compiles (numba) what the reader needs
            reader(path)
        except Exception as exc:
            problems.append(f"{fmt} seed: {type(exc).__name__}: {str(exc)[:120]}")
        old = signal.signal(signal.SIGALRM, _alarm)
        try:
            for case in range(cases):
                blob = data if case == 0 else mutate(rng, data)
                path.write_bytes(blob)
                signal.setitimer(signal.ITIMER_REAL, timeout_s)
                try:
                    reader(path)
                except VhflowError:
                    pass
                except Hang:
                    problems.append(f"{fmt} case {case}: hang (> {timeout_s:g} s)")
                except Exception as exc:
                    where = traceback.extract_tb(exc.__traceback__)[-1]
                    problems.append(f"{fmt} case {case}: {type(exc).__name__}: {str(exc)[:120]} "
                                    f"at {Path(where.filename).name}:{where.lineno}")
                else:
                    continue
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                if keep is not None:
                    keep.mkdir(parents=True, exist_ok=True)
                    (keep / f"{fmt}_{case}{suffix}").write_bytes(blob)
        finally:
            signal.signal(signal.SIGALRM, old)
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10_000, help="cases per format (default 10,000)")
    ap.add_argument("--formats", nargs="*", default=list(FORMATS), choices=list(FORMATS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds before a case counts as a hang")
    ap.add_argument("--keep", type=Path, default=None, help="write crashing inputs here")
    args = ap.parse_args(argv)
    bad = 0
    for fmt in args.formats:
        t0 = time.perf_counter()
        problems = fuzz(fmt, args.cases, seed=args.seed, timeout_s=args.timeout, keep=args.keep)
        kinds: dict[str, int] = {}
        for p in problems:
            key = p.split(": ", 1)[1].split(":")[0]
            kinds[key] = kinds.get(key, 0) + 1
        print(f"{fmt:8s} {args.cases} cases in {time.perf_counter() - t0:6.1f} s: {len(problems)} crashes/hangs"
              + (f" {kinds}" if kinds else ""), flush=True)
        for p in problems[:10]:
            print("   ", p)
        bad += len(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
