"""Run directories stay inside the runs root, one run at a time, and never look complete after
a failure; exit codes as promised."""

from __future__ import annotations

import json

import pytest

from flow.errors import ConfigError, PluginError
from flow.runner import RunLock, run_directory, run_flow
from tests.security.conftest import RaisingPlugin, run_json, sec_pm


def _run(design, **kw):
    return run_flow(design, pm=kw.pop("pm", None) or sec_pm(), runs_dir=design.parent / "runs", **kw)


@pytest.mark.parametrize("tag", ["..", "/tmp/elsewhere", "a/b", "", "x" * 200])
def test_bad_tags_refused_before_anything_exists(design, tag):
    victim = design.parent / "runs" / "other" / "keep.txt"
    victim.parent.mkdir(parents=True)
    victim.write_text("keep")
    with pytest.raises(ConfigError, match="--tag"):
        _run(design, tag=tag)
    assert victim.read_text() == "keep"
    assert sorted(p.name for p in (design.parent / "runs").iterdir()) == ["other"]


@pytest.mark.parametrize("name", ["/some/dir", "../x", "a\nb", "top;x", "."])
def test_bad_design_names_refused(design, name):
    design.write_text(design.read_text().replace('"top"', json.dumps(name)))
    with pytest.raises(ConfigError, match="DESIGN_NAME"):
        _run(design, tag="t")
    assert not (design.parent / "runs").exists()


def test_run_dir_has_platform_and_is_confined(design, tmp_path):
    res = _run(design, tag="t")
    assert res.run_dir == (tmp_path / "runs" / "top" / "nangate45" / "t").resolve()
    assert res.status == "completed"
    info = run_json(res.run_dir)
    assert info["stage_order"] == ["write", "check"] and [s["dir"] for s in info["stages"]] == ["00a_write", "00b_check"]
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "runs" / "top" / "nangate45" / "link").symlink_to(outside)
    with pytest.raises(ConfigError, match="outside the runs root"):
        run_directory(tmp_path / "runs", "top", "nangate45", "link")


def test_second_run_with_same_tag_fails_clearly(design):
    first = _run(design, tag="t")
    lock = RunLock(first.run_dir)
    try:
        with pytest.raises(ConfigError, match="in use by another vhflow run"):
            _run(design, tag="t")
        assert (first.run_dir / "00a_write" / "out.txt").exists()  # the running one's files survive
    finally:
        lock.release()
    assert _run(design, tag="t").status == "completed"


def test_violations_status_and_exit_code(design, vhflow):
    runs = design.parent / "runs"
    code, out, err = vhflow("run", design, "--runs-dir", runs, "--tag", "v", "--set", "SEC_MODE=violate", "-q")
    assert code == 3, err
    assert "violation: setup slack" in err
    run_dir = runs / "top" / "nangate45" / "v"
    info = run_json(run_dir)
    assert info["status"] == "completed_with_violations" and info["violations"]
    assert (run_dir / "report.html").exists()
    assert "completed_with_violations" in (run_dir / "report.html").read_text()
    code, _, _ = vhflow("run", design, "--runs-dir", runs, "--tag", "v", "--set", "SEC_MODE=violate", "-q",
                        "--allow-violations")
    assert code == 0
    code, _, _ = vhflow("run", design, "--runs-dir", runs, "--tag", "v", "-q")
    assert code == 0 and run_json(run_dir)["status"] == "completed"


def test_ctrl_c_is_130_and_interrupted(design, vhflow):
    runs = design.parent / "runs"
    code, _, err = vhflow("run", design, "--runs-dir", runs, "--tag", "i", "--set", "SEC_MODE=interrupt", "-q")
    assert code == 130 and "interrupted" in err
    info = run_json(runs / "top" / "nangate45" / "i")
    assert info["status"] == "interrupted" and info["stages"][0]["status"] == "interrupted"


def test_failed_stage_is_1_and_never_completed(design, vhflow):
    runs = design.parent / "runs"
    code, _, err = vhflow("run", design, "--runs-dir", runs, "--tag", "f", "--set", "SEC_MODE=crash", "-q")
    assert code == 1 and "stage write failed: RuntimeError: boom" in err
    run_dir = runs / "top" / "nangate45" / "f"
    assert run_json(run_dir)["status"] == "failed" and not (run_dir / "report.html").exists()


def test_plugin_errors_name_the_plugin_and_help_survives(design, vhflow):
    with pytest.raises(PluginError, match="plugin 'rogue' failed in vhflow_metrics: ValueError: rogue metrics hook"):
        _run(design, tag="p", pm=sec_pm((RaisingPlugin(), "rogue")))
    assert run_json(design.parent / "runs" / "top" / "nangate45" / "p")["status"] == "failed"
    code, out, err = vhflow("--help", plugins=[(RaisingPlugin(), "rogue")])
    assert code == 0 and "Usage" in out and "plugin 'rogue' failed in vhflow_cli" in err


@pytest.mark.parametrize("argv", [[], ["--bogus"], ["run"], ["run", "x.toml", "--backend"], ["platforms", "--nope"]])
def test_usage_errors_are_2_with_usage(vhflow, argv):
    code, out, err = vhflow(*argv)
    assert code == 2
    assert "Usage" in out + err


def test_resume_reruns_stage_whose_variable_changed(design):
    first = _run(design, tag="r", overrides=["SEC_LEVEL=3"])
    assert first.metrics["check__seen"] == 3
    marker = first.run_dir / "00a_write" / "out.txt"
    mtime = marker.stat().st_mtime_ns
    res = _run(design, tag="r", from_stage="check", overrides=["SEC_LEVEL=7"])  # declared by `write`
    assert res.metrics["check__seen"] == 7 and marker.stat().st_mtime_ns != mtime
    res = _run(design, tag="r", from_stage="check", overrides=["SEC_LEVEL=7", "SEC_CHECK=5"])  # only `check`
    assert res.metrics["check__value"] == 5 and res.metrics["check__seen"] == 7


def test_read_only_run_dir_fails_clearly(design, tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    runs = tmp_path / "ro"
    runs.mkdir()
    runs.chmod(0o500)
    try:
        with pytest.raises(Exception, match="cannot"):
            run_flow(design, pm=sec_pm(), runs_dir=runs, tag="t")
    finally:
        runs.chmod(0o700)


def test_completed_only_after_report(design, monkeypatch):
    import flow.runner

    seen = {}

    def report(run_dir, pm, logger):
        seen["status"] = run_json(run_dir)["status"]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(flow.runner, "_build_report", report)
    with pytest.raises(Exception, match="No space left on device"):
        _run(design, tag="d")
    assert seen["status"] == "reporting"
    assert run_json(design.parent / "runs" / "top" / "nangate45" / "d")["status"] == "failed"
