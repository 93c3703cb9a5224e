"""The compiled SPEF scanner against the line-by-line Python reader (`read_spef(fast=False)`),
on hostile and unusual files: same nets (names, totals, connections, capacitances in the same
order, resistors), same Parasitics (wire capacitance bit for bit, warnings, trees, the flat RC
arrays the STA takes), same FormatError (file, line, message) on bad input. Each case also says
whether the scanner must take it or hand it to the Python reader, so a scanner that silently
falls back (or silently accepts what it does not understand) fails here."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from flow.engines.parasitics import Parasitics
from flow.errors import FormatError
from flow.formats.spef import SpefNet, read_spef, write_spef

HEAD = ('*SPEF "IEEE 1481-1998"\n*DESIGN "top"\n*DATE "x"\n*DIVIDER /\n*DELIMITER :\n*BUS_DELIMITER [ ]\n'
        "*T_UNIT 1 PS\n*C_UNIT 1 FF\n*R_UNIT 1 OHM\n*L_UNIT 1 HENRY\n\n")

# (id, text, the scanner takes it)
CASES = [
    ("escaped names, ports, bus bits", HEAD + r"""*D_NET dpath\.a_lt_b\$in0[13] 2.5
*CONN
*P in\[3\] I
*I u1\/inv:ZN O
*I u\[2\]:A I
*CAP
1 dpath\.a_lt_b\$in0[13]:1 1.25
2 u\[2\]:A 0.5
3 dpath\.a_lt_b\$in0[13]:1 0.25
*RES
1 in\[3\] dpath\.a_lt_b\$in0[13]:1 12.5
2 u1\/inv:ZN dpath\.a_lt_b\$in0[13]:1 7
3 dpath\.a_lt_b\$in0[13]:1 u\[2\]:A 3.25
*END
""", True),
    ("name map, mixed-case keywords, *N and long *CONN lines", HEAD.replace("*L_UNIT", "*NAME_MAP\n*1 net_a\n*2 u7\n"
                                                                             "*3 \\u8\\.x\n*L_UNIT") + """
*d_net *1 4.5
*conn
*I *2:A I *C 1.0 2.0 *L 0.01 *D INV_X1
*i *3:Z o *C 3 4
*N *1:1 *C 1.5 2.5
*cap
1 *1:1 4.5
2 *2:A 1e-1
*res
1 *1:1 *2:A 12
2 *3:Z *1:1 .5
*end
""", True),
    ("coupling both ways, repeated node, duplicate net, numbers", HEAD + """*D_NET n1 3
*CONN
*I u1:Z O
*I u2:A I
*CAP
1 n1:1 n2:1 0.5
2 n2:7 n1:2 -0.25
3 n1:1 +1.
4 u2:A 1.0000000000000000001
5 n1:1 1e-40
6 u2:A -0
*RES
1 u1:Z n1:1 1E+3
2 n1:1 n1:2 2.5e-3
3 n1:2 u2:A 00012.50
*END
*D_NET n2 1
*CONN
*I u3:Z O
*CAP
1 n2:1 1
*END
*D_NET n2 7
*CONN
*I u3:Z O
*I u4:A I
*CAP
1 n2:1 2
*RES
1 u3:Z n2:1 5
2 n2:1 u4:A 6
*END
*D_NET ghost 1
*END
""", True),
    ("tabs, CRLF, comments, blank lines, delimiter collisions", (HEAD + """*D_NET\tn1\t2 // total
*CONN // pins
\t*I u1:Z O
*I u2:A I

*CAP
1 n1:1 1 // ground
2 n1/1 0.5
3 u2:A 0.5
*RES
1 u1:Z n1:1 10
2 n1:1 n1/1 1
3 n1/1 u2:A 20 // a // b
*END
""").replace("\n", "\r\n"), True),
    ("a comment inside an escaped name", HEAD + r"""*D_NET n1 1
*CONN
*I u1:Z O
*I u2:A I
*CAP
1 u2:A 1
*RES
1 u1:Z u2:A 10 // x\//y
*END
""", True),
    ("a lone backslash at the end of a line", HEAD + "*D_NET n1 1\n*CONN\n*I u1:Z O\n*I u2:A I\\\n*CAP\n1 u2:A 1\n"
     "*RES\n1 u1:Z u2:A 10\n*END\n", True),
    ("non-ASCII bytes", HEAD + "*D_NET n1 1\n*CONN\n*I u1:Z O\n*I u\u00e9:A I\n*CAP\n1 u\u00e9:A 1\n*END\n", False),
    ("python-only numbers", HEAD + "*D_NET n1 1\n*CONN\n*I u1:Z O\n*CAP\n1 u1:Z 1_0\n*END\n", False),
    ("lines between nets", HEAD + "*D_NET n1 1\n*CONN\n*I u1:Z O\n*END\nstray words\n*D_NET n2 1\n*END\n", False),
    ("a unit after the first net", HEAD + "*D_NET n1 1\n*END\n*C_UNIT 1 PF\n*D_NET n2 1\n*CAP\n1 n2:1 1\n*END\n",
     False),
    ("an escaped keyword", HEAD + "*D_NET n1 1\n*CONN\n*I u1:Z O\n*C\\AP\n1 u1:Z 1\n*END\n", False),
]

BAD = [
    ("negative ground cap", HEAD + "*D_NET n1 1\n*CAP\n1 n1:1 -1\n*END\n"),
    ("infinite resistance", HEAD + "*D_NET n1 1\n*RES\n1 n1:1 n1:2 1e999\n*END\n"),
    ("bad total", HEAD + "*D_NET n1 x\n*END\n"),
    ("no *END", HEAD + "*D_NET n1 1\n*CAP\n1 n1:1 1\n"),
    ("two nets without *END", HEAD + "*D_NET n1 1\n*D_NET n2 1\n*END\n"),
    ("undefined name map index", HEAD + "*D_NET n1 1\n*CONN\n*I *77:A I\n*END\n"),
    ("*R_NET", HEAD + "*R_NET n1 1\n*END\n"),
    ("*RES with three fields", HEAD + "*D_NET n1 1\n*RES\n1 n1:1 3\n*END\n"),
    ("*CAP outside a net", HEAD + "*CAP\n1 n1:1 1\n"),
    ("no header", "*D_NET n1 1\n*END\n"),
]


def _write(tmp_path, text: str):
    p = tmp_path / "t.spef"
    p.write_bytes(text.encode("utf-8"))
    return p


def _same_nets(a, b) -> None:
    assert (a.design, a.divider, a.delimiter) == (b.design, b.divider, b.delimiter)
    na, nb = dict(a.nets), dict(b.nets)
    assert list(na) == list(nb)
    for name, y in nb.items():
        x = na[name]
        assert (x.name, x.conns, x.res) == (y.name, y.conns, y.res)
        assert np.float64(x.total_cap).tobytes() == np.float64(y.total_cap).tobytes()
        assert list(x.caps) == list(y.caps)
        assert np.array(list(x.caps.values())).tobytes() == np.array(list(y.caps.values())).tobytes()


def _same_parasitics(a, b) -> None:
    """Parasitics of both readings on a design that has some of the nets (and one extra)."""
    names = sorted(dict(b.nets))
    design = SimpleNamespace(net_names=[nm for nm in names if nm != "ghost"] + ["other"])
    pa, pb = Parasitics.from_spef(a, design), Parasitics.from_spef(b, design)
    assert pa.warnings == pb.warnings
    assert pa.wire_cap.tobytes() == pb.wire_cap.tobytes()
    assert list(pa.trees) == list(pb.trees)
    for k in pb.trees:
        assert pa.trees[k] == pb.trees[k]
    nodes = sorted({nd for tr in pb.trees.values() for nd in list(tr[0]) + [x for r in tr[1] for x in r[:2]]})
    node_index = {nd: 3 * k + 1 for k, nd in enumerate(nodes) if k % 3}  # some nodes are not timing nodes
    for x, y in zip(pa.rc_arrays(node_index), pb.rc_arrays(node_index), strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


@pytest.mark.parametrize(("text", "scanned"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_scanner_equals_python_reader(tmp_path, text, scanned):
    p = _write(tmp_path, text)
    fast, slow = read_spef(p), read_spef(p, fast=False)
    assert (fast.flat is not None) == scanned
    assert slow.flat is None
    _same_nets(fast, slow)
    _same_parasitics(fast, slow)


@pytest.mark.parametrize("text", [c[1] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_same_error_with_line(tmp_path, text):
    p = _write(tmp_path, text)
    with pytest.raises(FormatError) as slow:
        read_spef(p, fast=False)
    with pytest.raises(FormatError) as fast:
        read_spef(p)
    assert str(fast.value) == str(slow.value)
    assert fast.value.line is not None and str(p) in str(fast.value)


def test_writer_output_is_scanned(tmp_path):
    """What we write (escaped names, ports, bus bits) is read by the scanner, identically."""
    nets = [SpefNet("dpath.a_lt_b$in0[13]", 3e-15, [("u1/inv:ZN", "O"), ("u 2;x:A", "I"), ("b.x[0]", "O")],
                    {"dpath.a_lt_b$in0[13]:1": 1e-15, "u 2;x:A": 2e-15},
                    [("u1/inv:ZN", "dpath.a_lt_b$in0[13]:1", 100.0), ("dpath.a_lt_b$in0[13]:1", "u 2;x:A", 50.0),
                     ("dpath.a_lt_b$in0[13]:1", "b.x[0]", 1e-3)]),
            SpefNet("u0.r0.rcnt [2]", 1e-16, [("u0.r0.rcnt [2]", "I")], {"u0.r0.rcnt [2]": 1e-16}, [])]
    p = tmp_path / "w.spef"
    write_spef(p, "top", nets)
    fast, slow = read_spef(p), read_spef(p, fast=False)
    assert fast.flat is not None
    _same_nets(fast, slow)
    _same_parasitics(fast, slow)
