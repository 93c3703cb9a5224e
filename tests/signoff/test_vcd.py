"""VCD reader per IEEE 1364-2005 §18 and as OpenSTA 3.1 counts: a hand-made dump with every
construct and hand-computed answers, the fast and token paths against a plain reference on
generated dumps (hypothesis), garbage and truncated VCD/SAIF -> FormatError with file:line, and
iverilog's parameter dump (`$comment Show the parameter values. $end`) read like sta 3.1."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flow.errors import FormatError
from flow.formats.saif import read_saif
from flow.formats.vcd import read_vcd

HAND = r"""$date Tue Dec 1 2026 $end $version hand-written
  over two lines $end
$comment a header comment with $var inside it $end
$timescale 10ps $end
$scope module tb $end $var reg 1 ! clk $end
$scope task t0 $end $var integer 32 % cnt [31:0] $end $upscope $end
$scope module dut $end
$var wire 1 " a $end
$var wire 4 # d [3:0] $end
$var wire 1 & \esc.name[2] $end
$var wire 1 ' bus [5] $end
$var real 64 ( r $end
$var parameter 3 ) P [2:0] $end
$var wire 1 " a_alias $end
$scope begin blk $end $var reg 2 * q [0:1] $end $upscope $end
$upscope $end
$upscope $end
$enddefinitions $end
$comment Show the parameter values. $end
$dumpall b101 ) $end
#0
$dumpvars
0! 0" b0101 # x& 1' r1.5 ( b00 *
$end
#5
1! $comment
a comment across
lines $end
#10
0!
0"
b10 #
1&
r2.25 (
B1x *
#20
1"
bx #
z'
$dumpoff
x! x" bx # x& x' bx *
$end
#30
$dumpon
0! 1" b1 # 1& 1' b11 *
$end
#40
"""


def test_hand_vcd_every_construct(tmp_path):
    p = tmp_path / "hand.vcd"
    p.write_text(HAND)
    a = read_vcd(p, "tb/dut")
    assert a.timescale == pytest.approx(10e-12) and a.duration == pytest.approx(400e-12)
    # a: 0 @0, 0 @10, 1 @20, x @20 (dumpoff, same time), 1 @30 -> 0->1, 1->x (½), x->1 (½)
    assert a.toggles["a"] == 2.0 and a.toggles["a_alias"] == 2.0
    assert a.high_time["a"] == pytest.approx(10 * 10e-12 + 0)  # 1 on [30, 40] only (x is not 1)
    # d: 0101 @0, 0010 @10 (left-extended with 0), xxxx @20, xxxx @20, 0001 @30
    assert [a.toggles[f"d[{i}]"] for i in range(3, -1, -1)] == [1.0, 2.0, 2.0, 2.0]
    # escaped identifier without its backslash; a bit select of a 1-bit variable
    assert a.toggles["esc.name[2]"] == 1.5 and a.toggles["bus[5]"] == 1.5  # 1 -> z (½) -> x (½) -> 1 (½)
    assert a.high_time["bus[5]"] == pytest.approx(30 * 10e-12)
    # q [0:1]: ascending range, B upper case, x value, left bit first
    assert a.toggles["blk/q[0]"] == 2.0 and a.toggles["blk/q[1]"] == 1.0
    # real variables have no bits; parameters are ordinary vectors (dumped once: no transitions)
    assert "r" not in a.toggles and a.toggles["P[2]"] == 0 and a.kinds["P[0]"] == "parameter"
    assert a.high_time["P[2]"] == pytest.approx(400e-12)
    full = read_vcd(p)
    assert full.toggles["tb/clk"] == 3.0 and "tb/t0/cnt[31]" in full.toggles


def test_gzip_scope_and_errors_name_the_line(tmp_path):
    p = tmp_path / "hand.vcd.gz"
    p.write_bytes(gzip.compress(HAND.encode()))
    assert read_vcd(p, "tb.dut").toggles["a"] == 2.0
    bad = {"bad token": (HAND.replace("#30\n", "#30\nfoo\n"), r"hand\.vcd:4[0-9]: unexpected token b'foo'"),
           "time back": (HAND.replace("#30\n", "#3\n"), "goes back"),
           "bad vector": (HAND.replace("b10 #", "b12 #"), "bad vector value"),
           "dangling": (HAND.rstrip() + "\nb101", "without an id code"),
           "timescale": (HAND.replace("10ps", "7ps"), r":4: bad \$timescale"),
           "var": (HAND.replace("$var wire 1 \" a $end", "$var wire x \" a $end"), r":8: bad \$var size"),
           "comment": (HAND + "$comment never closed\n", r":48: \$comment without \$end"),
           "header": (HAND.split("$enddefinitions")[0], ":17: no \\$enddefinitions")}
    for name, (text, msg) in bad.items():
        q = tmp_path / "hand.vcd"
        q.write_text(text)
        with pytest.raises(FormatError, match=msg):
            read_vcd(q, "tb/dut")
        assert name


# ---- generated dumps: fast path, token path and a plain reference agree --------------------
def _reference(changes: list[tuple[int, str, str]], widths: dict[str, int], t_end: int):
    """OpenSTA's counting on bit values: 0<->1 one transition, to/from x/z half of one."""
    prev: dict[str, str] = {}
    since: dict[str, int] = {}
    tog: dict[str, float] = {}
    high: dict[str, int] = {}
    for t, code, value in changes:
        w = widths[code]
        v = value.rjust(w, value[0] if value[0] in "xz" else "0")[-w:] if w > 1 else value
        for k, ch in enumerate(v):
            b = f"{code}{k}"
            old = prev.get(b)
            if old is not None and old != ch:
                tog[b] = tog.get(b, 0.0) + (1.0 if old in "01" and ch in "01" else 0.5)
            if old == "1":
                high[b] = high.get(b, 0) + t - since[b]
            prev[b], since[b] = ch, t
    for b, old in prev.items():
        if old == "1":
            high[b] = high.get(b, 0) + t_end - since[b]
    return tog, high


_VALUE = st.sampled_from("01xz")
_CHANGE = st.tuples(st.integers(0, 3), st.integers(0, 4), st.text("01xz", min_size=1, max_size=4))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_CHANGE, min_size=1, max_size=60), st.booleans())
def test_generated_dumps_match_reference(tmp_path, spec, one_line):
    codes = {"!": 1, "#": 1, "ab": 1, "%": 4, "&&&": 3}
    names = list(codes)
    t = 0
    changes = []
    for dt, k, value in spec:
        t += dt
        code = names[k]
        changes.append((t, code, value if codes[code] > 1 else value[0]))
    head = ["$timescale 1ns $end", "$scope module m $end"]
    head += [f"$var wire {w} {c} s{j}{f' [{w - 1}:0]' if w > 1 else ''} $end" for j, (c, w) in enumerate(codes.items())]
    head += ["$upscope $end", "$enddefinitions $end"]
    body = []
    last = None
    for tt, code, value in changes:
        if tt != last:
            body.append(f"#{tt}")
            last = tt
        body.append(f"b{value} {code}" if codes[code] > 1 else f"{value}{code}")
    sep = "  \t" if one_line else "\n"
    p = tmp_path / "g.vcd"
    p.write_text("\n".join(head) + "\n" + sep.join(body) + "\n")
    a = read_vcd(p)
    tog, high = _reference(changes, codes, changes[-1][0])
    for j, (c, w) in enumerate(codes.items()):
        for k in range(w):
            nm = f"m/s{j}[{w - 1 - k}]" if w > 1 else f"m/s{j}"
            assert a.toggles[nm] == tog.get(f"{c}{k}", 0.0), nm
            assert a.high_time[nm] == pytest.approx(high.get(f"{c}{k}", 0) * 1e-9, abs=1e-18), nm
    assert a.duration == pytest.approx((changes[-1][0] - changes[0][0]) * 1e-9)


# ---- hostile input: FormatError, never another exception ------------------------------------
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, len(HAND)), st.binary(max_size=40), st.integers(0, len(HAND)))
def test_vcd_fuzz_truncated_or_garbled(tmp_path, cut, junk, at):
    text = HAND.encode()
    p = tmp_path / "f.vcd"
    p.write_bytes(text[:at] + junk + text[at:cut] if at < cut else text[:cut])
    try:
        read_vcd(p, "tb/dut")
    except FormatError as exc:
        assert str(p) in str(exc)


SAIF = """(SAIFILE
(SAIFVERSION "2.0")
(DIRECTION "backward")
(TIMESCALE 1 ns)
(DURATION 100)
(INSTANCE tb
  (INSTANCE dut
    (NET (clk (T0 50) (T1 50) (TX 0) (TC 20)) (a\\[1\\] (T0 70) (T1 30) (TC 3)))
    (INSTANCE u1 (NET (A (T0 10) (T1 90) (TC 7))))
  )
)
)
"""


def test_saif_hierarchy_and_escapes(tmp_path):
    p = tmp_path / "a.saif"
    p.write_text(SAIF)
    a = read_saif(p, "tb/dut")
    assert a.toggles == {"clk": 20, "a[1]": 3, "u1/A": 7}
    assert a.duty("u1/A") == pytest.approx(0.9) and a.density("clk") == pytest.approx(20 / 100e-9)
    p.write_text(SAIF.replace("(TIMESCALE 1 ns)", "(TIMESCALE 3 ns)"))
    with pytest.raises(FormatError, match=r"a\.saif:4: bad TIMESCALE"):
        read_saif(p, "tb/dut")
    p.write_text(SAIF.replace("(T1 90)", "(T1 990)"))
    with pytest.raises(FormatError, match=r"a\.saif:9: u1/A: T0\+T1\+TX exceeds"):
        read_saif(p, "tb/dut")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, len(SAIF)), st.binary(max_size=30), st.integers(0, len(SAIF)))
def test_saif_fuzz_truncated_or_garbled(tmp_path, cut, junk, at):
    text = SAIF.encode()
    p = tmp_path / "f.saif"
    p.write_bytes(text[:at] + junk + text[at:cut] if at < cut else text[:cut])
    try:
        read_saif(p, "tb/dut")
    except FormatError as exc:
        assert str(p) in str(exc)


# ---- iverilog's parameter dump, read by us and by sta 3.1 -----------------------------------
def test_iverilog_parameter_comment_like_opensta(tmp_path, sky130hd):
    """Icarus Verilog 12 writes parameters after `$enddefinitions` inside `$comment Show the
    parameter values. $end` + `$dumpall`; our 11 does not, so the block is added to a real
    iverilog dump: the reader gives the same transitions as without it, and power and
    annotation counts still match sta 3.1 on that file."""
    from tests.signoff.test_power_opensta3 import CLOCKED_SKY130, _lib, _simulate, compare

    lib = _lib(tmp_path, sky130hd)
    net = tmp_path / "top.v"
    net.write_text(CLOCKED_SKY130)
    sdc = tmp_path / "top.sdc"
    sdc.write_text("create_clock -name clk -period 2.0 [get_ports clk]\n"
                   "set_input_delay 0.3 -clock clk [get_ports {rst a b}]\n")
    vcd = _simulate("iverilog", tmp_path, lib, net, "top", 2.0, 40)
    text = vcd.read_text()
    assert "$display" not in text and "$scope module dut $end" in text
    head, body = text.split("$enddefinitions $end", 1)
    head = head.replace("$scope module dut $end", "$scope module dut $end\n$var parameter 32 !!p WIDTH [31:0] $end", 1)
    body = "\n$comment Show the parameter values. $end\n$dumpall\nb10000 !!p\n$end" + body
    with_params = tmp_path / "params.vcd"
    with_params.write_text(head + "$enddefinitions $end" + body)
    plain, extended = read_vcd(vcd, "tb/dut"), read_vcd(with_params, "tb/dut")
    assert {k: v for k, v in extended.toggles.items() if not k.startswith("WIDTH")} == plain.toggles
    assert extended.toggles["WIDTH[4]"] == 0 and extended.high_time["WIDTH[4]"] == pytest.approx(extended.duration)
    compare(tmp_path, lib, net, "top", sdc, activity=with_params, scope="tb/dut")


def test_bench_vcd_generator_reads(tmp_path):
    """The benchmark's generator and reader agree on a small dump (speed is measured in
    benchmarks/bench_vcd.py)."""
    from benchmarks.bench_vcd import make_vcd

    p = tmp_path / "b.vcd"
    make_vcd(p, target_mb=0.02, n_scalar=30, n_vec=4, seed=5)
    a = read_vcd(p, "tb/dut")
    assert len(a.toggles) == 30 + 4 * 8 and sum(a.toggles.values()) > 100
    assert Path(p).stat().st_size > 10_000
