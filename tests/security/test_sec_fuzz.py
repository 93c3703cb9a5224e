"""Short mutation fuzz of the host's readers (the long run is benchmarks/fuzz_readers.py):
every mutated input gives a FormatError (or another VhflowError), never another exception or a
hang. Seeded, so a failure reproduces."""

from __future__ import annotations

import pytest

from tests.security.conftest import load_fuzz

CASES = {"sdc": 10, "verilog": 40, "lef": 40, "def": 40, "upf": 40, "config": 20}


@pytest.mark.parametrize("fmt", list(CASES))
def test_reader_survives_mutations(fmt, tmp_path):
    fuzz = load_fuzz()
    problems = fuzz.fuzz(fmt, CASES[fmt], seed=18, timeout_s=15.0, workdir=tmp_path)
    assert problems == []


def test_mutations_do_change_the_input():
    import random

    fuzz = load_fuzz()
    rng = random.Random(1)
    seed = fuzz.FORMATS["lef"][1]
    assert sum(fuzz.mutate(rng, seed) != seed for _ in range(50)) >= 45
