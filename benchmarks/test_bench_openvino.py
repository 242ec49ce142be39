"""OpenVINO benchmarks (the regression suite): async vs sync, the streaming API, the Python baseline.

All on the performance issue's configuration (peers.CONFIG: 2 jobs, 2 streams, 2 threads, f32, no
hint). The tiny Relu+Sigmoid model measures per-job overhead; light_squeezenet a real (if small)
network. Ratios are measured side by side within one benchmark, in interleaved rounds. Skipped
when openvino is not importable or this build has no OpenVINO engine.
"""

from __future__ import annotations

import statistics

import pytest

import vart_async

TINY_JOBS = 20_000  # ~0.4 s at 50k FPS
ROUNDS = 5


def _ratio_info(benchmark, name: str, ours: list[float], theirs: list[float], peers) -> float:
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    ratio = statistics.median(ratios)
    benchmark.extra_info.update({name: ratio, f"{name}_rounds": ratios, **peers.machine_load()})
    return ratio


# -- openvino-tiny ----------------------------------------------------------------------------------
@pytest.mark.benchmark(group="openvino-tiny")
def test_openvino_tiny_async_throughput(vart_async_bench, tiny_model, peers):
    vart_async_bench(tiny_model, iterations=TINY_JOBS, jobs=peers.JOBS, rounds=ROUNDS, **peers.CONFIG)


@pytest.mark.benchmark(group="openvino-tiny")
def test_openvino_tiny_sync_throughput(vart_async_bench, tiny_model, peers):
    vart_async_bench(tiny_model, iterations=TINY_JOBS, jobs=peers.JOBS, rounds=ROUNDS, mode="sync",
                     **peers.CONFIG)


# -- openvino-squeezenet ----------------------------------------------------------------------------
@pytest.mark.benchmark(group="openvino-squeezenet")
def test_openvino_squeezenet_async_throughput(vart_async_bench, squeezenet_model, peers):
    vart_async_bench(squeezenet_model, iterations=100, jobs=peers.JOBS, rounds=3, **peers.CONFIG)


@pytest.mark.benchmark(group="openvino-squeezenet")
def test_openvino_squeezenet_sync_throughput(vart_async_bench, squeezenet_model, peers):
    vart_async_bench(squeezenet_model, iterations=50, jobs=peers.JOBS, rounds=3, mode="sync", **peers.CONFIG)


# -- streaming --------------------------------------------------------------------------------------
@pytest.mark.benchmark(group="streaming")
def test_openvino_tiny_stream_async_throughput(benchmark, tiny_model, peers):
    """session.stream(): a new numpy frame per submission (64 distinct frames cycled), outputs copied.

    Each round also runs replay (session.run on the same session), so extra_info has the ratio.
    """
    with vart_async.open(tiny_model, jobs=peers.JOBS, **peers.CONFIG) as s:
        frames = peers.frames_for(s)
        s.slots[0].inputs[0][...] = frames[0]
        s.slots[1].inputs[0][...] = frames[1]
        s.run(iterations=1000)  # warm-up
        streamed, replayed = [], []

        def one_round():
            streamed.append(peers.stream(s, frames, iterations=TINY_JOBS // 2)["fps"])
            replayed.append(s.run(iterations=TINY_JOBS // 2).fps)

        benchmark.pedantic(one_round, rounds=ROUNDS)
    benchmark.extra_info.update(throughput_fps=statistics.median(streamed),
                                replay_fps=statistics.median(replayed), jobs=peers.JOBS, frames=len(frames),
                                engine="openvino", emulated=False)
    _ratio_info(benchmark, "stream_over_replay", streamed, replayed, peers)


# -- baseline: the seed's Python approach -----------------------------------------------------------
@pytest.mark.benchmark(group="baseline")
def test_baseline_python_asyncinferqueue_callback_async_throughput(benchmark, tiny_model, peers):
    """openvino.AsyncInferQueue + a Python callback (the seed's approach), same config and model.

    Each round also runs vart_async's C++ loop, so extra_info has ours / baseline.
    """
    baseline, ours = [], []
    with vart_async.open(tiny_model, jobs=peers.JOBS, **peers.CONFIG) as s:
        peers.fill(s)
        s.run(iterations=1000)  # warm-up

        def one_round():
            baseline.append(peers.async_infer_queue(tiny_model, iterations=TINY_JOBS // 4)["fps"])
            ours.append(s.run(iterations=TINY_JOBS // 2).fps)

        benchmark.pedantic(one_round, rounds=3)
    benchmark.extra_info.update(throughput_fps=statistics.median(baseline), ours_fps=statistics.median(ours),
                                jobs=peers.JOBS, engine="openvino AsyncInferQueue (Python)", emulated=False)
    _ratio_info(benchmark, "ours_over_baseline", ours, baseline, peers)
