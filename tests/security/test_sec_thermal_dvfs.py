"""`vhflow thermal-dvfs` on bad JSON and bad numbers: one line, exit 2, never a crash.

Regressions from the adversarial pass: `--dt 0` divided by zero; a task without `cycles`, a
non-object document or a NaN frequency escaped as KeyError/TypeError or ran on."""

from __future__ import annotations

import json

import pytest

GOOD_POINTS = {"t_ref_c": 25, "points": [{"name": "lo", "voltage": 0.9, "frequency_hz": 2e8, "dynamic_w": 0.2},
                                         {"name": "hi", "voltage": 1.1, "frequency_hz": 4e8, "dynamic_w": 0.5}]}
GOOD_TRACE = {"tasks": [{"name": "a", "cycles": 1e6, "activity": 1.0}]}


def _files(tmp_path, points=GOOD_POINTS, trace=GOOD_TRACE):
    (tmp_path / "p.json").write_text(points if isinstance(points, str) else json.dumps(points))
    (tmp_path / "t.json").write_text(trace if isinstance(trace, str) else json.dumps(trace))
    return ["thermal-dvfs", "--points", str(tmp_path / "p.json"), "--trace", str(tmp_path / "t.json"),
            "--duration", "0.05", "--json"]


def test_good_inputs_run(tmp_path, vhflow_real):
    rc, out, err = vhflow_real(*_files(tmp_path))
    assert rc == 0, err
    assert {p["policy"] for p in json.loads(out)["policies"]} >= {"static"}


@pytest.mark.parametrize(("extra", "points", "trace", "needle"), [
    (["--dt", "0"], GOOD_POINTS, GOOD_TRACE, "--dt 0: must be a finite positive number"),
    (["--dt", "nan"], GOOD_POINTS, GOOD_TRACE, "--dt nan"),
    ([], GOOD_POINTS, {"tasks": [{"name": "a"}]}, "t.json: workload: bad phase entry"),
    ([], GOOD_POINTS, "[1, 2]", "t.json: workload needs 'layers'"),
    ([], GOOD_POINTS, {"tasks": 5}, "t.json: workload: bad phase entry"),
    ([], {"points": [{"voltage": 1, "frequency_hz": "nan", "dynamic_w": 1}]}, GOOD_TRACE, "p.json: operating points need finite"),
    ([], {"points": 3}, GOOD_TRACE, "p.json: operating points: TypeError"),
])
def test_bad_inputs_one_line_exit_2(tmp_path, vhflow_real, extra, points, trace, needle):
    rc, _out, err = vhflow_real(*_files(tmp_path, points, trace), *extra)
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("warning", "⚠"))]
    assert rc == 2, err
    assert needle in err and len(lines) == 1 and "Traceback" not in err, err
