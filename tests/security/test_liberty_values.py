"""Liberty values that are not numbers: one FormatError naming file and line, never a ValueError.

Regression for the fuzz findings at liberty.py (a `6-nan` capacitance, a `1e309` table entry,
stray bytes in an index) that used to escape as bare ValueError/OverflowError."""

from __future__ import annotations

import pytest

from flow.errors import FormatError
from flow.formats.liberty import read_liberty

LIB = """library (tiny) {
  time_unit : "1ns" ;
  capacitive_load_unit (1, pf) ;
  leakage_power_unit : "1nW" ;
  nom_voltage : 1.1 ;
  cell (INV) {
    area : 1.0 ;
    pin (A) { direction : input ; capacitance : CAP ; }
    pin (Y) { direction : output ; function : "!A" ;
      timing () { related_pin : "A" ; timing_sense : negative_unate ;
        cell_rise (scalar) { values ("RISE") ; }
        cell_fall (scalar) { values ("0.01") ; }
        rise_transition (scalar) { values ("0.01") ; }
        fall_transition (scalar) { values ("0.01") ; }
      }
    }
  }
}
"""


def _lib(tmp_path, cap="0.001", rise="0.01"):
    p = tmp_path / "tiny.lib"
    p.write_text(LIB.replace("CAP", cap).replace("RISE", rise))
    return p


def test_good_tiny_library_reads(tmp_path):
    lib = read_liberty(_lib(tmp_path))
    assert lib["cells"]["INV"]["pins"]["A"]["capacitance"] == pytest.approx(1e-15)


@pytest.mark.parametrize(("cap", "rise", "line"), [("6-nan", "0.01", 8), ("0.001", "0.0\x01", 11),
                                                  ("0.001", "1e309x", 11)])
def test_bad_numbers_name_file_and_line(tmp_path, cap, rise, line):
    with pytest.raises(FormatError) as err:
        read_liberty(_lib(tmp_path, cap, rise))
    assert err.value.path.name == "tiny.lib" and err.value.line == line, str(err.value)
