"""The pytest plugin: a user's three-line benchmark of their model reports to pytest-benchmark."""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import vart_async

pytest_plugins = ["pytester"]

pytest.importorskip("pytest_benchmark", reason="the fixture reports to pytest-benchmark (the bench extra)")

USER_TEST = """
def test_my_model(vart_async_bench):
    vart_async_bench({model!r}, iterations=40, jobs=2, rounds=3)


def test_not_a_benchmark():
    pass
"""


@pytest.fixture
def model(descriptor: Callable[..., Path]) -> str:
    if not vart_async.available_engines()["vart"].available:
        pytest.skip("this build has no VART engine (emulator)")
    return str(descriptor(service_time_us=200))


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    points = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert points.get("vart_async") == "vart_async.pytest_plugin"


def test_the_fixture_reports_throughput_and_latency(pytester: pytest.Pytester, model: str) -> None:
    pytester.makepyfile(test_user=USER_TEST.format(model=model))
    out = pytester.path / "out.json"
    result = pytester.runpytest("--benchmark-only", f"--benchmark-json={out}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)  # the fixture makes a test a benchmark
    [bench] = json.loads(out.read_text())["benchmarks"]
    assert bench["name"] == "test_my_model"
    assert bench["stats"]["rounds"] == 3
    info = bench["extra_info"]
    assert (info["jobs"], info["iterations"], info["mode"]) == (2, 40, "async")
    assert (info["engine"], info["emulated"]) == ("vart", True)
    assert set(info["latency_ms"]) == {"p50", "p90", "p99"}
    assert 0 < info["latency_ms"]["p50"] <= info["latency_ms"]["p90"] <= info["latency_ms"]["p99"]
    # 2 jobs of batch 2 in flight on 2 compute units at 200 us a job: at most 20k FPS.
    assert info["batch_size"] == 2
    assert 2000 < info["throughput_fps"] <= 20_000
    assert len(info["throughput_fps_rounds"]) == 3


def test_the_fixture_returns_the_median_round(pytester: pytest.Pytester, model: str) -> None:
    pytester.makepyfile(test_user=f"""
def test_sync(vart_async_bench):
    r = vart_async_bench({model!r}, iterations=20, jobs=2, rounds=3, mode="sync")
    assert r.mode == "sync" and r.completed == 20 and r.max_in_flight == 1
    assert len(vart_async_bench.results) == 3
    assert sorted(x.fps for x in vart_async_bench.results)[1] == r.fps
""")
    pytester.runpytest("--benchmark-only", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_without_pytest_benchmark_only_the_fixture_fails_and_says_why(
    pytester: pytest.Pytester, model: str
) -> None:
    pytester.makepyfile(test_user=USER_TEST.format(model=model))
    result = pytester.runpytest("-p", "no:benchmark", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    # fnmatch: ? stands for the brackets of 'vart-async[bench]'
    result.stdout.fnmatch_lines(
        ["*vart_async_bench fixture needs the pytest-benchmark plugin: pip install 'vart-async?bench?'*"]
    )
