"""What vart_async's OpenVINO engine is compared with, all on one configuration (CONFIG).

- `benchmark_app`: OpenVINO's own tool (the wheel's Python one), run as a subprocess with exactly
  the flags of the performance issue (BENCHMARK_APP_FLAGS);
- `async_infer_queue`: the seed's Python approach — `openvino.AsyncInferQueue` with a Python
  callback that reads the output, inputs set once, `start_async()` in a loop, `wait_all()`;
- `ours`, `ours_stream`: vart_async's C++ run loop (replay) and its streaming API;
- the raw C++ loop over `ov::InferRequest`s lives in ov_raw_loop.{cpp,py}.

Every function returns a dict with at least `fps`, `iterations` and `duration_s`. Throughput is
counted as each tool counts it: benchmark_app (Python) from loop start to after wait_all(); ours
and the raw loop from the first submit to the last completion seen; the AsyncInferQueue loop like
benchmark_app. Benchmarks load this file by path (see conftest.py).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import vart_async

#: The issue's configuration: 2 requests (jobs), 2 streams, 2 threads, f32, no performance hint.
JOBS = 2
CONFIG: dict[str, Any] = {"streams": 2, "threads": 2, "hint": "none", "precision": "f32"}
#: The same as OpenVINO properties (no PERFORMANCE_HINT: the device default, as -hint none leaves it).
OV_PROPERTIES = {"NUM_STREAMS": "2", "INFERENCE_NUM_THREADS": "2", "INFERENCE_PRECISION_HINT": "f32"}
BENCHMARK_APP_FLAGS = ["-api", "async", "-hint", "none", "-nstreams", "2", "-nthreads", "2", "-nireq", "2",
                       "-infer_precision", "f32", "-ip", "f32"]  # fmt: skip
# The wheel's console script, run by this interpreter so it is the same openvino as ours.
_BENCHMARK_APP = ("import sys; from openvino.tools.benchmark.main import main; "
                  "sys.argv[0] = 'benchmark_app'; sys.exit(main())")  # fmt: skip


def benchmark_app_command(model: str | os.PathLike[str], seconds: float, report_folder: Path) -> list[str]:
    """benchmark_app's arguments (without the program) for `model`."""
    return ["-m", os.fspath(model), *BENCHMARK_APP_FLAGS, "-t", f"{seconds:g}", "-report_type", "no_counters",
            "-report_folder", os.fspath(report_folder), "-json_stats"]  # fmt: skip


def benchmark_app(model: str | os.PathLike[str], seconds: float, report_folder: Path) -> dict[str, Any]:
    """Runs benchmark_app; throughput = its iterations / its duration (from the JSON report)."""
    report_folder.mkdir(parents=True, exist_ok=True)
    args = benchmark_app_command(model, seconds, report_folder)
    proc = subprocess.run([sys.executable, "-c", _BENCHMARK_APP, *args], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        tail = f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        raise RuntimeError(f"benchmark_app failed ({proc.returncode}):\n{tail}")
    results = json.loads((report_folder / "benchmark_report.json").read_text())["execution_results"]
    iterations = int(results["total number of iterations"])
    duration_s = float(results["total execution time (ms)"]) / 1e3
    printed = re.search(r"Throughput:\s+([\d.]+) FPS", proc.stdout)
    return {
        "fps": iterations / duration_s,  # the JSON's "throughput" is rounded to 2 decimals
        "printed_fps": float(printed.group(1)) if printed else None,
        "iterations": iterations,
        "duration_s": duration_s,
        "median_latency_ms": float(results["latency (ms)"]),
        "command": "benchmark_app " + " ".join(args),
    }


def async_infer_queue(model: str | os.PathLike[str], seconds: float | None = None,
                      iterations: int | None = None) -> dict[str, Any]:
    """The seed's Python approach on CONFIG, for `seconds` or `iterations`, in a child process.

    A child process because tearing it down can hang: after wait_all(), destroying the
    CompiledModel joins OpenVINO's callback thread while the GIL is held, and that thread may
    still need the GIL to drop the Python callback (seen with openvino 2026.4.1 under load, as in
    ultralytics#25923). The child prints its figures and leaves with os._exit, skipping teardown.
    """
    limit = ["--seconds", f"{seconds}"] if iterations is None else ["--iterations", str(iterations)]
    budget = (seconds or 0) + (iterations or 0) / 1000 + 120
    out = subprocess.run([sys.executable, __file__, "async-infer-queue", os.fspath(model), *limit],
                         capture_output=True, text=True, check=True, timeout=budget).stdout
    report: dict[str, Any] = json.loads(out)
    return report


_NEVER_FREED: list[Any] = []


def _async_infer_queue_here(model: str, seconds: float | None, iterations: int | None) -> dict[str, Any]:
    import openvino as ov

    compiled = ov.Core().compile_model(model, "CPU", OV_PROPERTIES)
    queue = ov.AsyncInferQueue(compiled, JOBS)
    rng = np.random.default_rng(0)
    for request in queue:  # inputs set once, like ours and benchmark_app's inference-only mode
        for port in compiled.inputs:
            request.set_tensor(port, ov.Tensor(rng.random(tuple(port.shape)).astype(np.float32)))
    seen = [0, 0.0]

    def on_done(request: Any, userdata: Any) -> None:  # what a user callback does: read the output
        seen[0] += 1
        seen[1] += float(request.get_output_tensor(0).data.flat[0])

    queue.set_callback(on_done)
    for _ in range(JOBS):  # warm-up round
        queue.start_async()
    queue.wait_all()
    seen[0] = 0
    n = 0
    start = time.perf_counter()
    if iterations is not None:
        for _ in range(iterations):
            queue.start_async()
        n = iterations
    else:
        deadline = start + float(seconds or 0)
        while time.perf_counter() < deadline:
            queue.start_async()
            n += 1
    queue.wait_all()
    duration = time.perf_counter() - start
    if seen[0] != n:
        raise RuntimeError(f"the callback saw {seen[0]} of {n} jobs")
    properties = {k: str(compiled.get_property(k)) for k in ("NUM_STREAMS", "INFERENCE_NUM_THREADS",
                                                             "PERFORMANCE_HINT", "INFERENCE_PRECISION_HINT")}
    _NEVER_FREED.append((compiled, queue))  # destroying them is what hangs; the process _exits instead
    return {"fps": n / duration, "iterations": n, "duration_s": duration, "properties": properties}


def ours(model: str | os.PathLike[str], seconds: float) -> dict[str, Any]:
    """vart_async replay (the C++ run loop) on CONFIG for `seconds`."""
    with vart_async.open(model, jobs=JOBS, **CONFIG) as session:
        fill(session)
        r = session.run(time_limit=seconds, warmup=JOBS)
        return {"fps": r.fps, "iterations": r.completed, "duration_s": r.wall_s,
                "latency_ms": r.latency_stats(), "properties": session.info.get("properties", {})}


def cli_dry_run(model: str | os.PathLike[str], seconds: float, *extra: str) -> dict[str, Any]:
    """`vart-async-bench MODEL -d -t seconds` on CONFIG (in this process; its text is dropped): the
    CLI's own dry-run, inputs filled by Session.fill_random. The figure is its JSON report's."""
    import contextlib
    import io
    import tempfile

    from vart_async import cli

    flags = [f"--{k}={v}" for k, v in CONFIG.items()]
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "r.json"
        argv = [os.fspath(model), "-d", "-q", "-t", f"{seconds}", "--jobs", str(JOBS), *flags, *extra,
                "--json", os.fspath(report)]  # fmt: skip
        with contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(argv)
        if code != 0:
            raise RuntimeError(f"vart-async-bench {' '.join(argv)} exited {code}")
        doc: dict[str, Any] = json.loads(report.read_text())
    return {"fps": doc["throughput_fps"], "iterations": doc["completed"], "duration_s": doc["wall_s"],
            "properties": doc["configuration"]["properties"]}  # fmt: skip


def frames_for(session: vart_async.Session, count: int = 64, seed: int = 1) -> list[np.ndarray]:
    """`count` distinct input frames for a single-input session."""
    rng = np.random.default_rng(seed)
    spec = session.inputs[0]
    return [rng.random(spec.shape).astype(spec.numpy_dtype) for _ in range(count)]


def _cycle_for(frames: Sequence[np.ndarray], seconds: float) -> Iterator[np.ndarray]:
    """Cycles through `frames` until `seconds` have passed (the clock is read once per cycle)."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        yield from frames


def stream(session: vart_async.Session, frames: Sequence[np.ndarray], *, seconds: float | None = None,
           iterations: int | None = None, copy: bool = True) -> dict[str, Any]:
    """session.stream() with a new numpy frame per submission; counts the outputs consumed."""
    if iterations:
        feed: Iterator[np.ndarray] = itertools.islice(itertools.cycle(frames), iterations)
    else:
        feed = _cycle_for(frames, seconds or 1.0)
    n = 0
    start = time.perf_counter()
    for _ in session.stream(feed, copy=copy):
        n += 1
    duration = time.perf_counter() - start
    return {"fps": n * session.batch_size / duration, "iterations": n, "duration_s": duration}


def callbacks(session: vart_async.Session, frames: Sequence[np.ndarray], seconds: float) -> dict[str, Any]:
    """session.submit(frame, callback=...) in a loop; the callback reads the output (as AsyncInferQueue's)."""
    seen = [0, 0.0]

    def on_done(outputs: list[np.ndarray], job: Any) -> None:
        seen[0] += 1
        seen[1] += float(outputs[0].flat[0])

    n = 0
    start = time.perf_counter()
    for frame in _cycle_for(frames, seconds):
        session.submit(frame, callback=on_done)
        n += 1
    session.wait_all()
    duration = time.perf_counter() - start
    if seen[0] != n:
        raise RuntimeError(f"the callback saw {seen[0]} of {n} jobs")
    return {"fps": n * session.batch_size / duration, "iterations": n, "duration_s": duration}


def asyncio_tasks(session: vart_async.Session, frames: Sequence[np.ndarray], seconds: float,
                  tasks: int = 64) -> dict[str, Any]:
    """`tasks` concurrent coroutines, each awaiting session.infer_async(frame) in a loop."""
    import asyncio

    count = [0]

    async def worker(i: int, deadline: float) -> None:
        k = i
        while time.perf_counter() < deadline:
            await session.infer_async(frames[k % len(frames)])
            count[0] += 1
            k += tasks

    async def main() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(worker(i, start + seconds) for i in range(tasks)))
        return time.perf_counter() - start

    duration = asyncio.run(main())
    return {"fps": count[0] * session.batch_size / duration, "iterations": count[0], "duration_s": duration,
            "tasks": tasks}


def fill(session: vart_async.Session) -> None:
    from vart_async.pytest_plugin import fill_random

    fill_random(session)


def machine_load() -> dict[str, Any]:
    """The 1-minute load average and the CPU count, to go with every figure."""
    return {"loadavg_1m": os.getloadavg()[0], "cpus": os.cpu_count()}


def _busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine since boot (Linux /proc/stat)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()  # this process and its finished children (benchmark_app, ov_raw_loop, ...)
    return t.user + t.system + t.children_user + t.children_system


class OthersCpu:
    """Share of the machine's CPU capacity used by *other* processes between start() and stop()."""

    def start(self) -> None:
        self._t, self._busy, self._own = time.perf_counter(), _busy_seconds(), _own_seconds()

    def stop(self) -> float:
        wall = time.perf_counter() - self._t
        others = (_busy_seconds() - self._busy) - (_own_seconds() - self._own)
        return max(0.0, others / (wall * (os.cpu_count() or 1)))


def wait_quiet(max_seconds: float, threshold: float = 0.1, window: float = 1.0) -> float:
    """Waits (up to max_seconds) until other processes use < threshold of the CPUs over `window` s.

    Returns the last share seen. max_seconds = 0 does not wait.
    """
    probe, share, deadline = OthersCpu(), 0.0, time.perf_counter() + max_seconds
    while time.perf_counter() < deadline:
        probe.start()
        time.sleep(window)
        share = probe.stop()
        if share < threshold:
            break
    return share


def median_ratio(ratios: Sequence[float]) -> float:
    ordered = sorted(ratios)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def alternate(rounds: int) -> Iterator[tuple[int, bool]]:
    """(round, ours_first): the side that runs first alternates, so drift hits both alike."""
    return ((i, i % 2 == 0) for i in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description="one peer run, printed as JSON")
    parser.add_argument("peer", choices=["ours", "async-infer-queue", "benchmark_app"])
    parser.add_argument("model")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--iterations", type=int)
    a = parser.parse_args()
    if a.peer == "async-infer-queue":
        print(json.dumps(_async_infer_queue_here(a.model, a.seconds, a.iterations)), flush=True)
        os._exit(0)  # no teardown: see async_infer_queue()
    seconds = a.seconds or 3.0
    report = ours(a.model, seconds) if a.peer == "ours" else benchmark_app(a.model, seconds, Path("report"))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
