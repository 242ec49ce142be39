"""pytest plugin (entry point `pytest11: vart_async`): the `vart_async_bench` fixture.

A throughput regression test of your model in three lines::

    def test_my_model(vart_async_bench):
        vart_async_bench("model.onnx", iterations=2000, jobs=2)

It opens the model, fills every slot's inputs (random unless `inputs=` is given), runs
`iterations` jobs per round in the C++ loop (async by default), and hands the rounds to
pytest-benchmark, so `--benchmark-autosave` / `--benchmark-compare-fail` work on it. One
pytest-benchmark round = one run of `iterations` jobs (time per round ∝ 1 / throughput).
`extra_info` carries throughput_fps, latency_ms {p50, p90, p99}, jobs, engine, emulated and more.

Importing this module is cheap on purpose — pytest imports it in every session of everyone who
has vart-async installed: pytest-benchmark is never imported here (its `benchmark` fixture is only
requested when its plugin is active), nor are numpy-heavy helpers, engines or matplotlib.
"""

from __future__ import annotations

import os
import statistics
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:

    from vart_async.results import RunResult
    from vart_async.session import Session

__all__ = ["VartAsyncBench", "fill_random"]

_NEEDS_BENCHMARK = (
    "the vart_async_bench fixture needs the pytest-benchmark plugin: pip install 'vart-async[bench]' "
    "(or pytest-benchmark), and do not disable it with -p no:benchmark"
)


def fill_random(session: Session, seed: int = 0) -> None:
    """Session.fill_random: every slot's inputs get reproducible random values by dtype (floats
    uniform in [0, 1) with no NaN, Inf or denormals; integers over their range; booleans 0/1)."""
    session.fill_random(seed)


class VartAsyncBench:
    """The callable behind the fixture. After the call, `results` holds every measured round."""

    def __init__(self, benchmark: Any) -> None:
        self.benchmark = benchmark
        self.results: list[RunResult] = []

    def __call__(
        self,
        model: str | os.PathLike[str],
        *,
        iterations: int = 1000,
        jobs: int = 2,
        rounds: int = 5,
        mode: Literal["async", "sync"] = "async",
        warmup: int | None = None,
        engine: str = "auto",
        inputs: Any = None,
        seed: int = 0,
        **options: Any,
    ) -> RunResult:
        """Benchmarks `model`: `rounds` runs of `iterations` jobs with `jobs` in flight.

        mode: "async" (every slot kept in flight) or "sync" (one job at a time). warmup: jobs run
        once before the first round, outside every measurement (default: one per slot). inputs: an
        array, a list of arrays or a name→array dict staged into every slot (default: random data
        from `seed`). Other keyword arguments are engine options (e.g. OpenVINO's streams=2,
        threads=2, hint="none", precision="f32"). Returns the round with the median throughput;
        `.results` has them all. A failed job fails the test (RunError).
        """
        import vart_async

        if rounds < 1:
            raise ValueError(f"rounds must be >= 1 (got {rounds})")
        if mode not in ("async", "sync"):
            raise ValueError(f"mode must be 'async' or 'sync' (got {mode!r})")
        with vart_async.open(model, engine, jobs, **options) as session:
            if inputs is None:
                fill_random(session, seed)
            else:
                for k in range(session.jobs):
                    session._stage(k, inputs)
            warm = session.jobs if warmup is None else warmup
            if warm > 0:  # compile caches, first-touch page faults, thread pools: not measured
                session.run(iterations=warm, mode=mode)
            results = self.results

            def one_round() -> None:
                results.append(session.run(iterations=iterations, mode=mode))

            self.benchmark.pedantic(one_round, rounds=rounds, iterations=1, warmup_rounds=0)
            self.benchmark.extra_info.update(_extra_info(session, results, iterations))
        by_fps = sorted(results, key=lambda r: r.fps)
        return by_fps[len(by_fps) // 2]


def _extra_info(session: Session, results: list[RunResult], iterations: int) -> dict[str, Any]:
    import numpy as np

    from vart_async.results import PERCENTILES, percentile

    latencies = np.sort(np.concatenate([r.latencies_ms for r in results]))
    fps = [r.fps for r in results]
    return {
        "throughput_fps": statistics.median(fps),
        "throughput_fps_rounds": fps,
        "latency_ms": {f"p{p}": percentile(latencies, p) for p in PERCENTILES},
        "jobs": session.jobs,
        "mode": results[0].mode,
        "iterations": iterations,
        "rounds": len(results),
        "batch_size": session.batch_size,
        "output_batch_size": session.output_batch_size,
        "max_in_flight": max(r.max_in_flight for r in results),
        "engine": session.engine,
        "runtime": session.runtime,
        "emulated": session.emulated,
        "model": session.model,
        "model_name": session.model_name,
    }


class _WithBenchmark:
    @pytest.fixture
    def vart_async_bench(self, benchmark: Any) -> VartAsyncBench:
        """Benchmarks a model through vart_async, reported to pytest-benchmark (see the module doc)."""
        return VartAsyncBench(benchmark)


class _WithoutBenchmark:
    @pytest.fixture
    def vart_async_bench(self) -> VartAsyncBench:
        """Fails with how to get pytest-benchmark, which this fixture reports to."""
        pytest.fail(_NEEDS_BENCHMARK, pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    # The fixture depends on pytest-benchmark's `benchmark` fixture statically (that is how
    # --benchmark-only/--benchmark-skip recognise a benchmark), so which variant is registered is
    # decided once the plugins are known, never by importing pytest-benchmark here.
    with_benchmark = config.pluginmanager.hasplugin("benchmark")
    plugin = _WithBenchmark() if with_benchmark else _WithoutBenchmark()
    config.pluginmanager.register(plugin, "vart_async_bench_fixture")
