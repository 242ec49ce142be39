"""Plots: the timeline, latency histogram and jobs sweep render readable PNGs from measured runs;
without matplotlib, importing still works and drawing says how to get it."""

from __future__ import annotations

import importlib
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import vart_async
from vart_async import plots

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="plots need matplotlib (the plot extra)"
)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # IHDR is the first chunk
    return width, height


def _ink(path: Path) -> float:
    """Fraction of pixels that are not (nearly) white: a blank or broken figure has almost none."""
    from matplotlib.image import imread

    rgb = imread(path)[..., :3]
    return float(np.mean(rgb.min(axis=-1) < 0.9))


@pytest.fixture
def runs(descriptor: Callable[..., Path]) -> dict[str, vart_async.RunResult]:
    with vart_async.open(descriptor(service_time_us=300), jobs=2) as s:
        return {"async": s.run(iterations=60, warmup=2), "sync": s.run(iterations=60, mode="sync", warmup=2)}


@needs_matplotlib
def test_timeline_draws_one_panel_per_pass(runs: dict[str, vart_async.RunResult], tmp_path: Path) -> None:
    one = plots.timeline([("async", runs["async"])], tmp_path / "one.png", title="tiny")
    both = plots.timeline([("sync", runs["sync"]), ("async", runs["async"])], tmp_path / "sub" / "both.png",
                          max_jobs=10, title="tiny on the emulator")
    assert both == tmp_path / "sub" / "both.png"  # missing folders are created
    (w1, h1), (w2, h2) = _png_size(one), _png_size(both)
    assert w1 == w2 >= 900
    assert h2 > h1 * 1.4  # the second pass got its own panel below the first
    assert both.stat().st_size > 20_000
    assert _ink(both) > 0.03


@needs_matplotlib
def test_timeline_draws_a_run_that_stopped_on_a_failed_job(
    descriptor: Callable[..., Path], tmp_path: Path
) -> None:
    model = descriptor(service_time_us=100, faults={"fail_jobs": [3]})
    with vart_async.open(model, jobs=2) as s, pytest.raises(vart_async.JobFailedError) as e:
        s.run(iterations=10)
    result = e.value.result
    assert result is not None
    assert result.failed == 1
    assert _png_size(plots.timeline([("async", result)], tmp_path / "failed.png"))[0] >= 900


@needs_matplotlib
def test_latency_histogram_and_sweep_render(runs: dict[str, vart_async.RunResult], tmp_path: Path) -> None:
    hist = plots.latency_histogram(runs["async"], tmp_path / "lat.png", title="tiny")
    rows = [  # the CLI's sweep rows and RunResults are both accepted
        {"jobs": 1, "throughput_fps": runs["sync"].fps, "p99_ms": runs["sync"].latency_stats()["p99"]},
        runs["async"],
        {"jobs": 4, "throughput_fps": 3000.0, "latency_ms": {"p99": 1.5}},
    ]
    sweep = plots.sweep_plot(rows, tmp_path / "sweep.png")
    for path in (hist, sweep):
        width, height = _png_size(path)
        assert (width >= 800, height >= 400) == (True, True)
        assert path.stat().st_size > 15_000
        assert _ink(path) > 0.02


def test_bad_arguments_are_value_errors(runs: dict[str, vart_async.RunResult], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        plots.timeline([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="max_jobs"):
        plots.timeline([("a", runs["async"])], tmp_path / "x.png", max_jobs=0)
    with pytest.raises(ValueError, match="at least one row"):
        plots.sweep_plot([], tmp_path / "x.png")
    with pytest.raises(TypeError, match="sweep row"):
        plots.sweep_plot([42], tmp_path / "x.png")  # type: ignore[list-item]
    empty = vart_async.RunResult(
        mode="async", jobs=2, batch_size=1, submitted=0, completed=0, failed=0, cancelled=0, busy_retries=0,
        max_in_flight=0, wall_s=0.0, reason="cancelled", message="", slot=np.zeros(0, np.uint32),
        outcome=np.zeros(0, np.uint8), t_submit=np.zeros(0), t_started=np.zeros(0), t_done=np.zeros(0),
    )
    with pytest.raises(ValueError, match="no job"):
        plots.latency_histogram(empty, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_without_matplotlib_the_error_says_how_to_get_it(
    runs: dict[str, vart_async.RunResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    fresh = importlib.reload(plots)  # importing the module itself never needs matplotlib
    try:
        for draw in (
            lambda: fresh.timeline([("async", runs["async"])], tmp_path / "t.png"),
            lambda: fresh.latency_histogram(runs["async"], tmp_path / "l.png"),
            lambda: fresh.sweep_plot([runs["async"]], tmp_path / "s.png"),
        ):
            with pytest.raises(fresh.PlotUnavailableError, match=r"pip install 'vart-async\[plot\]'") as e:
                draw()
            assert isinstance(e.value, vart_async.VartAsyncError)
            assert isinstance(e.value, ImportError)
        assert not list(tmp_path.glob("*.png"))
    finally:
        monkeypatch.undo()
        importlib.reload(plots)
