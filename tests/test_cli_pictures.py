"""vart-async-bench --timeline / --plot-latency / --sweep-jobs --plot, from a dry-run on the demo model."""

from __future__ import annotations

import importlib.util

import pytest

from vart_async import cli

pytest.importorskip("matplotlib", reason="pictures need the plot extra")

PNG = b"\x89PNG\r\n\x1a\n"


def _demo() -> str:
    return str(cli.default_model("vart")[0])


def test_timeline_and_latency_plot_from_a_benchmark_dry_run(tmp_path, capsys):
    tl, lat = tmp_path / "tl.png", tmp_path / "lat.png"
    code = cli.main(
        [_demo(), "-d", "--benchmark", "-n", "20", "-q", "--timeline", str(tl), "--plot-latency", str(lat)]
    )
    out = capsys.readouterr().out
    assert code == 0
    for path in (tl, lat):
        assert path.read_bytes()[:8] == PNG
        assert path.stat().st_size > 10_000
        assert f"Wrote {path}" in out


def test_sweep_plot(tmp_path, capsys):
    png = tmp_path / "sweep.png"
    assert cli.main([_demo(), "-d", "-n", "20", "-q", "--sweep-jobs", "1,2", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == PNG
    assert "(jobs sweep)" in capsys.readouterr().out


def test_plot_needs_sweep_jobs(tmp_path, capsys):
    assert cli.main([_demo(), "-d", "--plot", str(tmp_path / "x.png")]) == 1
    assert "--plot goes with --sweep-jobs" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_missing_matplotlib_is_a_clear_error_before_running(tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a)
    )
    assert cli.main([_demo(), "-d", "--timeline", str(tmp_path / "t.png")]) == 1
    captured = capsys.readouterr()
    assert "pip install 'vart-async[plot]'" in captured.err
    assert "Async pass" not in captured.out
