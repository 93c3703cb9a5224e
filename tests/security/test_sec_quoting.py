"""One quoting function per language, checked against the language itself (Tcl by a real Tcl
interpreter) with hostile strings."""

from __future__ import annotations

import tkinter
from pathlib import Path

import pytest

from flow.backends.openroad import _make_value, tcl_list, tcl_word
from flow.errors import ConfigError
from flow.synth import render_script, yosys_word

HOSTILE = ["plain", "a b", "x;exec touch F", "[exec touch F]", "{", "}", "a}b{", "gcd\\{} ; exec touch F ; list {\\}",
           "trail\\", "\\", "$env(HOME)", 'say "hi"', "tab\there", "new\nline", "cr\rx", "#comment", "{*}{a b}",
           "", "é ü", "\x01\x7f", "a\\\nb"]


@pytest.fixture(scope="module")
def tcl():
    return tkinter.Tcl()


@pytest.mark.parametrize("value", HOSTILE)
def test_tcl_word_evaluates_to_the_value(tcl, value):
    tcl.eval(f"set v {tcl_word(value)}")  # one word: `set` would fail on two
    assert tcl.getvar("v") == value
    assert list(tcl.splitlist(tcl.eval(f"list {tcl_word(value)}"))) == [value]


def test_tcl_list_keeps_every_element(tcl):
    got = tcl.splitlist(tcl.eval(f"set l {tcl_list(HOSTILE)}"))
    assert list(got) == HOSTILE


def test_tcl_word_refuses_nul():
    with pytest.raises(ConfigError, match="ACTIVITY_SCOPE = 'a\\\\x00b': a NUL"):
        tcl_word("a\0b", "ACTIVITY_SCOPE")


@pytest.mark.parametrize("value", ["a\nb", "a\0b", "x\\", "a\\#b", "c\rd"])
def test_config_mk_refuses_what_make_would_reinterpret(value):
    with pytest.raises(ConfigError, match="^ACTIVITY_SCOPE = "):
        _make_value(value, "ACTIVITY_SCOPE")


def test_config_mk_escapes_dollar_and_hash():
    assert _make_value("a$b#c", "X") == "a$$b\\#c"


@pytest.mark.parametrize("value", ["top\n!touch F", "top;tee -o x", "a b", 'q"uote', "top\0", "#x", "!sh"])
def test_yosys_identifier_refuses_hostile(value):
    with pytest.raises(ConfigError, match="^DESIGN_NAME = "):
        yosys_word(value, "DESIGN_NAME", identifier=True)


def test_yosys_file_names_are_quoted_or_refused():
    assert yosys_word("src/my design.v", "VERILOG_FILES", filename=True) == '"src/my design.v"'
    assert yosys_word("a;b.v", "VERILOG_FILES", filename=True) == '"a;b.v"'
    for bad in ('a"b.v', "a\\b.v", "a\nb.v"):
        with pytest.raises(ConfigError, match="^VERILOG_FILES = "):
            yosys_word(bad, "VERILOG_FILES", filename=True)


def test_yosys_script_has_one_command_per_line(nangate45):
    text = render_script([Path("a b.v")], "top", Path("x.lib"), Path("o.v"), Path("s.txt"), nangate45,
                         clock_period_ns=2.0, params={"W": 8, "S": "x;y"}, defines={"D": "1"})
    assert '"a b.v"' in text and 'chparam -set W 8 -set S "x;y" top' in text and "-DD=1" in text
    for define in ({"D": "1\n!touch F"}, {"D;x": "1"}, {"D": "a b"}):
        with pytest.raises(ConfigError, match="VERILOG_DEFINES"):
            render_script([Path("a.v")], "top", Path("x.lib"), Path("o.v"), Path("s.txt"), nangate45,
                          clock_period_ns=2.0, params=None, defines=define)
    with pytest.raises(ConfigError, match="VERILOG_TOP_PARAMS"):
        render_script([Path("a.v")], "top", Path("x.lib"), Path("o.v"), Path("s.txt"), nangate45,
                      clock_period_ns=2.0, params={"S": 'a"\nb'})
    with pytest.raises(ConfigError, match="CLOCK_PERIOD"):
        render_script([Path("a.v")], "top", Path("x.lib"), Path("o.v"), Path("s.txt"), nangate45,
                      clock_period_ns=-1.0, params=None)
