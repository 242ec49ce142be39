"""Emulator benchmarks: what async buys over sync, and what the C++ loop saves over Python.

The plain throughput benchmarks use the `vart_async_bench` fixture (vart_async's pytest plugin).
Ratios are measured side by side in one benchmark (interleaved rounds), so machine noise hits both
sides alike. Run: pytest benchmarks --benchmark-only
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pytest

import vart_async

# The foundation issue's reference device: 2 compute units, 2 execution slots, 2000 us per job.
PAR2 = {
    "name": "par2_2000us",
    "batch_size": 1,
    "compute_units": 2,
    "execution_slots": 2,
    "service_time_us": 2000,
    "inputs": [{"name": "x", "data_type": "INT8", "shape": [1, 224, 224, 3], "layout": "NHWC"}],
    "outputs": [{"name": "y", "data_type": "INT8", "shape": [1, 1000], "layout": "NC"}],
}
ZERO = {
    **PAR2,
    "name": "zero_us",
    "service_time_us": 0,
    "inputs": [{"name": "x", "data_type": "INT8", "shape": [1, 64], "layout": "NC"}],
    "outputs": [{"name": "y", "data_type": "INT8", "shape": [1, 16], "layout": "NC"}],
}

ROUNDS = 5


def _write(tmp_path_factory: pytest.TempPathFactory, body: dict) -> Path:
    path = tmp_path_factory.mktemp("models") / f"{body['name']}.json"
    path.write_text(json.dumps(body))
    return path


@pytest.fixture(scope="module")
def par2(tmp_path_factory):
    return _write(tmp_path_factory, PAR2)


@pytest.fixture(scope="module")
def zero(tmp_path_factory):
    return _write(tmp_path_factory, ZERO)


def _report(benchmark, results, **extra):
    last = results[-1]
    lat = last.latency_stats()
    benchmark.extra_info.update(
        throughput_fps=statistics.median(r.fps for r in results),
        jobs=last.jobs,
        latency_ms={k: lat[k] for k in ("p50", "p90", "p99")},
        **extra,
    )


@pytest.mark.benchmark(group="emulator")
def test_emulator_async_throughput(vart_async_bench, par2):
    """300 jobs per round, 2 in flight, on 2 compute units x 2000 us (the limit is 1000 FPS)."""
    vart_async_bench(par2, iterations=300, jobs=2, rounds=ROUNDS)


@pytest.mark.benchmark(group="emulator")
def test_emulator_sync_throughput(vart_async_bench, par2):
    """150 jobs per round, one at a time (the limit is 500 FPS)."""
    vart_async_bench(par2, iterations=150, jobs=2, rounds=ROUNDS, mode="sync")


@pytest.mark.benchmark(group="emulator")
def test_emulator_async_over_sync_speedup(benchmark, par2):
    """Async must reach >= 1.9x sync throughput on 2 compute units (the limit is 2.0)."""
    ratios, runs = [], []
    with vart_async.open(par2, jobs=2) as s:

        def pair():
            a = s.run(iterations=300, warmup=2)
            y = s.run(iterations=150, mode="sync", warmup=2)
            runs.append(a)
            ratios.append(a.fps / y.fps)

        benchmark.pedantic(pair, rounds=ROUNDS)
    ratio = statistics.median(ratios)
    _report(benchmark, runs, async_over_sync=ratio, ratios=ratios)
    if benchmark.enabled:  # --benchmark-disable runs one round: a smoke run, no figure to judge
        assert ratio >= 1.9, f"async/sync = {ratio:.3f} (rounds: {ratios})"


@pytest.mark.benchmark(group="overhead")
def test_overhead_async_cpp_loop_vs_python_loop(benchmark, zero):
    """Pure overhead (service time 0): the C++ run loop vs a Python submit/wait loop, same session.

    Two figures, measured interleaved and reported, not asserted: throughput (cpp_over_python, best
    rounds) and process CPU time per job (python_over_cpp_cpu, median). At 0 us a job is a hand-off
    to the emulator's worker thread and back, so both loops are bound by thread wake-ups, which on
    a shared VM swing from ~3 us to ~25 us with the host's load: when they are slow, the C++ loop
    (it waits at once and sleeps on every job) falls behind the Python loop (which usually finds
    the job done already). Measured on our 2-vCPU VM: 1.75-2.5 when quiet, 0.4-0.9 in slow phases.
    """
    n = 20_000
    ratios, runs, py_rates, cpu_ratios = [], [], [], []
    with vart_async.open(zero, jobs=2) as s:

        def python_loop():
            t0 = time.perf_counter()
            jobs = [s.submit(0), s.submit(1)]
            for i in range(2, n):
                jobs[i % 2].wait()
                jobs[i % 2] = s.submit(i % 2)
            jobs[0].wait()
            jobs[1].wait()
            return n / (time.perf_counter() - t0)

        def pair():
            c0 = time.process_time()
            r = s.run(iterations=n, warmup=2)
            c1 = time.process_time()
            py = python_loop()
            c2 = time.process_time()
            py_rates.append(py)
            runs.append(r)
            ratios.append(r.jobs_per_s / py)
            cpu_ratios.append(((c2 - c1) / n) / ((c1 - c0) / r.submitted))

        benchmark.pedantic(pair, rounds=2 * ROUNDS + 1)
    # Thread hand-offs dominate at 0 us, so a busy machine swings single rounds widely: compare
    # each side's least-disturbed rounds (best throughput), measured interleaved.
    ratio = max(r.jobs_per_s for r in runs) / max(py_rates)
    cpu_ratio = statistics.median(cpu_ratios)
    _report(
        benchmark,
        runs,
        cpp_over_python=ratio,
        ratios=ratios,
        python_jobs_per_s=max(py_rates),
        cpp_jobs_per_s=max(r.jobs_per_s for r in runs),
        python_over_cpp_cpu=cpu_ratio,
        python_over_cpp_cpu_rounds=cpu_ratios,
    )
