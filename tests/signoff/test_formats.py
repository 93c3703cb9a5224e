"""SPEF / VCD / SAIF readers and activity math, on hand-made files with hand-computed answers."""

from __future__ import annotations

import gzip

import pytest

from flow.engines import activity as act
from flow.errors import FormatError
from flow.formats.saif import read_saif
from flow.formats.spef import SpefNet, read_spef, write_spef
from flow.formats.vcd import read_vcd

VCD = """$date today $end
$timescale 1ns $end
$scope module tb $end
$var wire 1 ! clk $end
$scope module dut $end
$var wire 1 " a $end
$var wire 4 # d [3:0] $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
$dumpvars
0!
1"
b0101 #
$end
#5
1!
#10
0!
0"
b0110 #
#20
1"
b1 #
#40
"""


def test_vcd_toggles_and_duty(tmp_path):
    p = tmp_path / "a.vcd"
    p.write_text(VCD)
    a = read_vcd(p, "tb/dut")
    assert a.duration == pytest.approx(40e-9)
    # a: 1 on [0,10), 0 on [10,20), 1 on [20,40] -> 2 toggles, 30 ns high
    assert a.toggles["a"] == 2 and a.high_time["a"] == pytest.approx(30e-9)
    # d: 0101 -> 0110 (t=10) -> 0001 (t=20, left-extended with 0)
    assert [a.toggles[f"d[{i}]"] for i in range(4)] == [2, 2, 1, 0]
    assert a.high_time["d[2]"] == pytest.approx(20e-9)
    assert a.high_time["d[0]"] == pytest.approx(30e-9)
    assert a.density("a") == pytest.approx(2 / 40e-9)
    full = read_vcd(p)
    assert full.toggles["tb/clk"] == 2 and "tb/dut/a" in full.toggles


def test_vcd_gzip_and_wrong_scope(tmp_path):
    p = tmp_path / "a.vcd.gz"
    p.write_bytes(gzip.compress(VCD.encode()))
    assert read_vcd(p, "tb.dut").toggles["a"] == 2
    with pytest.raises(FormatError, match="scope 'tb/nope' not in the VCD"):
        read_vcd(p, "tb/nope")
    bad = tmp_path / "bad.vcd"
    bad.write_text("$scope module x $end\n")
    with pytest.raises(FormatError, match="enddefinitions"):
        read_vcd(bad)


def test_vcd_aliased_id_codes(tmp_path):
    """iverilog gives one id code to nets that are the same wire (port and its internal name):
    every alias gets the code's toggles; a code reused with another width is an error."""
    text = VCD.replace('$var wire 1 " a $end', '$var wire 1 " a $end\n$var wire 1 " a_alias $end\n'
                       '$var wire 4 # d_alias [3:0] $end')
    p = tmp_path / "alias.vcd"
    p.write_text(text)
    a = read_vcd(p, "tb/dut")
    assert a.toggles["a_alias"] == a.toggles["a"] == 2
    assert [a.toggles[f"d_alias[{i}]"] for i in range(4)] == [2, 2, 1, 0]
    assert a.high_time["a_alias"] == pytest.approx(30e-9)
    bad = tmp_path / "bad_alias.vcd"
    bad.write_text(VCD.replace('$var wire 1 " a $end', '$var wire 1 " a $end\n$var wire 2 " b [1:0] $end'))
    with pytest.raises(FormatError, match="reused with width 2"):
        read_vcd(bad, "tb/dut")


SAIF = """(SAIFILE
(SAIFVERSION "2.0")
(DIRECTION "backward")
(DESIGN )
(DIVIDER / )
(TIMESCALE 1 ns)
(DURATION 1000)
(INSTANCE tb
  (INSTANCE dut
    (NET
      (n1 (T0 600) (T1 400) (TX 0) (TC 25) (IG 0))
      (d\\[3\\] (T0 900) (T1 100) (TX 0) (TC 4))
    )
  )
)
)
"""


def test_saif(tmp_path):
    p = tmp_path / "a.saif"
    p.write_text(SAIF)
    a = read_saif(p, "tb/dut")
    assert a.duration == pytest.approx(1e-6)
    assert a.toggles == {"n1": 25, "d[3]": 4}
    assert a.duty("n1") == pytest.approx(0.4)
    assert a.density("n1") == pytest.approx(25 / 1e-6)
    with pytest.raises(FormatError, match="scope 'tb/x'"):
        read_saif(p, "tb/x")
    p.write_text(SAIF.replace("(T0 600)", "(T0 -600)"))
    with pytest.raises(FormatError, match="negative T0"):
        read_saif(p, "tb/dut")
    p.write_text(SAIF.replace("(DURATION 1000)", "(DURATION -5)"))
    with pytest.raises(FormatError, match="DURATION"):
        read_saif(p)


def test_spef_roundtrip_units_and_errors(tmp_path):
    net = SpefNet("n1", 3e-15, [("u1:Z", "O"), ("u2:A", "I"), ("out", "O")],
                  {"n1:1": 1e-15, "u2:A": 2e-15}, [("u1:Z", "n1:1", 100.0), ("n1:1", "u2:A", 50.0)])
    p = tmp_path / "a.spef"
    write_spef(p, "top", [net])
    s = read_spef(p)
    got = s.nets["n1"]
    assert got.total_cap == pytest.approx(3e-15)
    assert got.caps["u2:A"] == pytest.approx(2e-15)
    assert got.res[1] == ("n1:1", "u2:A", pytest.approx(50.0))
    # name map and fF / OHM units
    p.write_text('*SPEF "IEEE 1481-1998"\n*DESIGN "t"\n*T_UNIT 1 PS\n*C_UNIT 1 FF\n*R_UNIT 1 OHM\n'
                 "*NAME_MAP\n*1 net_a\n*2 u7\n*D_NET *1 4.5\n*CONN\n*I *2:A I\n*CAP\n1 *1:1 4.5\n"
                 "*RES\n1 *1:1 *2:A 12\n*END\n")
    s = read_spef(p)
    assert s.nets["net_a"].total_cap == pytest.approx(4.5e-15)
    assert s.nets["net_a"].res == [("net_a:1", "u7:A", 12.0)]
    p.write_text('*SPEF "x"\n*D_NET *9 1\n*END\n')
    with pytest.raises(FormatError, match="name map index"):
        read_spef(p)
    p.write_text('*SPEF "x"\n*C_UNIT 1 QF\n')
    with pytest.raises(FormatError, match=r"a\.spef:2: bad unit"):
        read_spef(p)


def test_function_parse_and_sta_rules():
    e = act.parse_function("!(A1 & A2)")
    assert e == ("not", ("and", ("port", "A1"), ("port", "A2")))
    assert act.parse_function("(A B)+C'") == ("or", ("and", ("port", "A"), ("port", "B")), ("not", ("port", "C")))
    # OpenSTA inferred condition: A1 switches ZN of a NAND only when A2 = 1
    assert act.infered_when(e, "A1") == ("port", "A2")
    assert act.infered_when(act.parse_function("A ^ B"), "A") == ("not", ("port", "B"))
    # OpenSTA tree formulas on AND: D = D1 P2 + D2 P1, P = P1 P2
    d, p = act.sta_eval(e, lambda n: {"A1": (3.0, 0.2), "A2": (5.0, 0.5)}[n])
    assert d == pytest.approx(3.0 * 0.5 + 5.0 * 0.2) and p == pytest.approx(1 - 0.1)
    with pytest.raises(FormatError):
        act.parse_function("A & (B")


@pytest.mark.parametrize("text", ["A & B", "A | B", "A ^ B", "!(A & B | C)", "(A ^ B) & C | !A & D"])
def test_najm_density_matches_enumeration(text):
    """Exact per-gate density vs brute force over all input pairs (before, after) of a
    memoryless lag-one model: each input toggles independently with probability t_i per step."""
    import itertools

    e = act.parse_function(text)
    names = act.ports(e)
    duty = {n: 0.5 for n in names}
    tog = {n: 0.1 * (k + 1) for k, n in enumerate(names)}
    # with duty 1/2 and symmetric toggling, P(before, after) = 1/2 * (t if flip else 1-t)
    exp = 0.0
    for before in itertools.product((0, 1), repeat=len(names)):
        for flips in itertools.product((0, 1), repeat=len(names)):
            w = 1.0
            for n, f in zip(names, flips, strict=True):
                w *= 0.5 * (tog[n] if f else 1 - tog[n])
            after = [b ^ f for b, f in zip(before, flips, strict=True)]
            y0 = act.evaluate(e, dict(zip(names, map(bool, before), strict=True)))
            y1 = act.evaluate(e, dict(zip(names, map(bool, after), strict=True)))
            exp += w * (y0 != y1)
    # Najm's density is the first-order (one input switching at a time) limit: compare on
    # the single-toggle part, which is exact when at most one input switches per step
    single = 0.0
    for k, n in enumerate(names):
        others = names[:k] + names[k + 1:]
        for bits in itertools.product((0, 1), repeat=len(others)):
            v = dict(zip(others, map(bool, bits), strict=True))
            if act.evaluate(e, {**v, n: True}) != act.evaluate(e, {**v, n: False}):
                single += tog[n] * 0.5 ** len(others)
    assert act.najm_density(e, duty, tog) == pytest.approx(single)
    assert act.exact_probability(e, duty) == pytest.approx(
        sum(act.evaluate(e, dict(zip(names, map(bool, b), strict=True)))
            for b in itertools.product((0, 1), repeat=len(names))) / 2 ** len(names))
    assert exp <= single + 1e-12  # simultaneous flips can only cancel transitions


def _reference_vcd(text: str) -> tuple[dict[str, int], dict[str, int], int, int]:
    """Plain line-by-line reference: per bit toggles and time at 1 (timescale units)."""
    ids: dict[str, list[str]] = {}
    for m in __import__("re").finditer(r"\$var \w+ (\d+) (\S+) (\S+)(?: \[(\d+):(\d+)\])? \$end", text):
        w, code, name = int(m.group(1)), m.group(2), m.group(3)
        ids[code] = [name] if w == 1 else [f"{name}[{k}]" for k in range(w - 1, -1, -1)]
    val: dict[str, int] = {}
    since: dict[str, int] = {}
    tog = {b: 0 for v in ids.values() for b in v}
    high = dict.fromkeys(tog, 0)
    t = t0 = None
    body = text.split("$enddefinitions $end", 1)[1].split()
    k = 0

    def setbit(b: str, nv: int) -> None:
        old = val.get(b, -1)
        if nv != old:
            if old == 1:
                high[b] += t - since[b]
            if nv == 1:
                since[b] = t
            if old >= 0 and nv >= 0:
                tog[b] += 1
            val[b] = nv

    while k < len(body):
        tok = body[k]
        if tok.startswith("#"):
            t = int(tok[1:])
            t0 = t if t0 is None else t0
        elif tok[0] in "01xz" and len(tok) > 1:
            setbit(ids[tok[1:]][0], {"0": 0, "1": 1}.get(tok[0], -1))
        elif tok[0] == "b":
            bits = ids[body[k + 1]]
            v = tok[1:].rjust(len(bits), "0")[-len(bits):]
            for b, ch in zip(bits, v, strict=True):
                setbit(b, {"0": 0, "1": 1}.get(ch, -1))
            k += 1
        k += 1
    for b, v in val.items():
        if v == 1:
            high[b] += t - since[b]
    return tog, high, t0, t


def test_vcd_vectorised_reader_matches_reference_across_chunks(tmp_path, monkeypatch):
    from benchmarks.bench_vcd import make_vcd
    from flow.formats import vcd as vcd_mod

    p = tmp_path / "r.vcd"
    make_vcd(p, target_mb=0.05, n_scalar=40, n_vec=6, seed=3)
    tog, high, t0, t1 = _reference_vcd(p.read_text())
    for chunk in (vcd_mod._CHUNK, 97):
        monkeypatch.setattr(vcd_mod, "_CHUNK", chunk)
        a = read_vcd(p, "tb/dut")
        assert a.toggles == tog
        assert a.duration == pytest.approx((t1 - t0) * 1e-12)
        for b, h in high.items():
            assert a.high_time[b] == pytest.approx(h * 1e-12, abs=1e-18)
