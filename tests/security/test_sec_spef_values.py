"""SPEF values that cannot be physical, and truncated files: FormatError with the line.

Regressions: negative ground capacitances and a file cut inside a *D_NET were accepted."""

from __future__ import annotations

import pytest

from flow.errors import FormatError
from flow.formats.spef import read_spef

HEAD = """*SPEF "IEEE 1481-1998"
*DESIGN "top"
*DIVIDER /
*DELIMITER :
*BUS_DELIMITER [ ]
*T_UNIT 1 NS
*C_UNIT 1 FF
*R_UNIT 1 OHM
*L_UNIT 1 HENRY
"""
NET = """*D_NET n1 TOTALV
*CONN
*I u1:ZN O
*I u2:A I
*CAP
1 u1:ZN CAPV
2 u2:A 0.5
*RES
1 u1:ZN u2:A RESV
*END
"""


def _spef(tmp_path, total="1.5", cap1="1.0", res="10", tail=""):
    p = tmp_path / "t.spef"
    p.write_text(HEAD + "\n" + NET.replace("TOTALV", total).replace("CAPV", cap1).replace("RESV", res) + tail)
    return p


def test_good_net_reads(tmp_path):
    net = read_spef(_spef(tmp_path)).nets["n1"]
    assert net.total_cap == pytest.approx(1.5e-15) and sum(net.caps.values()) == pytest.approx(1.5e-15)


@pytest.mark.parametrize(("kw", "line", "needle"), [
    ({"cap1": "-1.0"}, 16, "bad *CAP entry"),
    ({"total": "-2"}, 11, "total capacitance -2 must be finite"),
    ({"total": "nan"}, 11, "total capacitance nan must be finite"),
    ({"res": "inf"}, 19, "resistance inf must be finite"),
    ({"tail": "*D_NET n2 1.0\n*CONN\n*I u3:ZN O\n"}, 23, "file ends inside *D_NET n2"),
])
def test_unphysical_or_truncated_is_format_error(tmp_path, kw, line, needle):
    with pytest.raises(FormatError) as err:
        read_spef(_spef(tmp_path, **kw))
    assert err.value.line == line and needle in err.value.message, str(err.value)
