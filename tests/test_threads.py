"""One job window, many threads: each defect found at the seams between the run loop, the stream,
the callback thread and asyncio, as a regression test, plus a random stress test with exact
accounting. Every call either works or raises a clear error at once: never a crash, a hang, a double
submission or a job nobody accounts for."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import vart_async


def _frame(s, seed=0):
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 256, spec.shape, dtype=np.uint8).view(spec.numpy_dtype)
        if spec.numpy_dtype.itemsize == 1
        else rng.random(spec.shape).astype(spec.numpy_dtype)
        for spec in s.inputs
    ]


CLOSE_DURING_RUN = r"""
import sys, threading, vart_async
bad = []
def run(s):
    try:
        r = s.run(iterations=50)
        assert r.completed == 50, r
    except vart_async.PipelineClosedError:
        pass  # closed before the run began: a clear error
    except BaseException as e:
        bad.append(repr(e))
for i in range(int(sys.argv[2])):
    s = vart_async.open(sys.argv[1], jobs=2)
    t = threading.Thread(target=run, args=(s,))
    t.start()
    while True:
        try:
            s.close()
            break
        except RuntimeError as e:
            assert "in use" in str(e) or "running" in str(e), e
    t.join()
print("bad", len(bad), bad[:3])
"""


@pytest.mark.parametrize("perturb", ["0", "165"])
def test_close_while_another_thread_runs_never_frees_the_pipeline_under_it(descriptor, perturb):
    # Defect 1: close() could free the pipeline between the run binding fetching it and the run
    # starting (use-after-free, seen as impossible errors, more often under MALLOC_PERTURB_).
    env = dict(os.environ, MALLOC_PERTURB_=perturb)
    out = subprocess.run(
        [sys.executable, "-c", CLOSE_DURING_RUN, str(descriptor(service_time_us=20)), "400"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "bad 0 []"


def test_closed_event_loop_does_not_kill_completion_and_the_session_goes_on(descriptor):
    # Defect 2: an event loop closing with an infer_async job in flight killed the completion
    # thread; the next job then timed out and the one after blocked forever.
    with vart_async.open(descriptor(service_time_us=20_000), jobs=2) as s:
        f = _frame(s)

        async def main():
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(s.infer_async(f), 0.001)

        asyncio.run(main())  # closes the loop while the job runs
        for _ in range(3):
            assert s.submit(f).wait(5) is not None
        s.wait_all()


def test_calls_from_a_callback_work_or_raise_at_once(descriptor):
    # Defect 3: callbacks run on the only thread that frees slots, so submit() with every slot
    # busy, wait_all() and stream() deadlocked; close() failed silently.
    seen: dict[str, str] = {}
    with vart_async.open(descriptor(service_time_us=2_000), jobs=2) as s:
        f = _frame(s)

        def cb(outputs, job):
            for name, call in (
                ("wait_all", s.wait_all),
                ("stream", lambda: next(iter(s.stream([f])))),
                ("close", s.close),
                ("submit", lambda: [s.submit(f, callback=lambda o, j: None) for _ in range(10)]),
            ):
                try:
                    call()
                    seen[name] = "ok"
                except RuntimeError as e:
                    seen[name] = str(e)

        s.submit(f, callback=cb)
        s.submit(f, callback=lambda o, j: None)
        t0 = time.monotonic()
        s.wait_all()
        assert time.monotonic() - t0 < 5
        assert not s.closed
        assert "callback" in seen["wait_all"]
        assert "callback" in seen["stream"]
        assert "callback" in seen["close"]
        # Slots and backlog hold 4 more at most: the submission after those raised.
        assert "callback" in seen["submit"]
        assert s.submit(f).wait(5) is not None  # still usable


def test_four_threads_submitting_one_slot_never_share_it(descriptor):
    # Defect 4: Pipeline::submit checked the slot, submitted, then stored its state without a lock:
    # one slot got two jobs at once and some could never be collected.
    with vart_async.open(descriptor(service_time_us=0), jobs=2) as s:
        jobs, refused, bad, lock = [], 0, [], threading.Lock()

        def worker():
            nonlocal refused
            for _ in range(500):
                try:
                    job = s.submit(0)
                except ValueError:  # the slot is in use: said at once
                    with lock:
                        refused += 1
                    continue
                except BaseException as e:
                    bad.append(repr(e))
                    continue
                try:
                    job.wait(10)
                except BaseException as e:
                    bad.append(repr(e))
                with lock:
                    jobs.append(job)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert bad == []
        assert len(jobs) + refused == 2000
        assert len(jobs) > 0
        assert all(j.done() for j in jobs)


def test_two_threads_waiting_on_one_job_both_see_it_done(descriptor):
    with vart_async.open(descriptor(service_time_us=50_000), jobs=2) as s:
        job = s.submit(0)
        errors: list[BaseException] = []

        def waiter():
            try:
                job.wait(10)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=waiter) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert errors == []


def test_closing_with_many_stalled_jobs_is_bounded_overall(descriptor):
    # Defect 5: the destructor waited 2 s per abandoned slot, one after another (--jobs 16: 33 s).
    stalls = {"stall_jobs": list(range(1, 17)), "stall_ms": 60_000}
    model = descriptor(execution_slots=16, compute_units=16, faults=stalls)
    s = vart_async.open(model, jobs=16)
    for k in range(16):
        s.submit(k)
    t0 = time.monotonic()
    s.close()
    assert time.monotonic() - t0 < 4.0
    assert s.closed


RUN_STUCK = r"""
import sys, time, vart_async
with vart_async.open(sys.argv[1], jobs=2) as s:
    print("ready", flush=True)
    try:
        s.run(time_limit=60, wait_timeout=30)
    except vart_async.Interrupted as e:
        print(f"interrupted cancelled={e.result.cancelled}", flush=True)
        print("t", time.monotonic(), flush=True)
"""


def test_first_ctrl_c_during_a_stuck_job_cancels_within_a_fraction_of_a_second(descriptor):
    # Defect 6: one Ctrl-C while a job was stuck waited out the whole wait timeout.
    import signal

    model = descriptor(service_time_us=1000, faults={"stall_jobs": [3], "stall_ms": 60_000})
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_STUCK, str(model)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    line = next(ln for ln in out.splitlines() if ln.startswith("interrupted"))
    assert int(line.split("=")[1]) >= 1  # the stuck job was cancelled, not waited for
    done_at = float(next(ln for ln in out.splitlines() if ln.startswith("t ")).split()[1])
    assert done_at - sent < 1.5


def test_stress_threads_submit_wait_stream_and_cancel_with_exact_accounting(descriptor):
    model = descriptor(service_time_us=300, service_jitter_us=300)
    rng = random.Random(1234)
    stop_at = time.monotonic() + 3.0
    counts = {"submitted": 0, "delivered": 0, "failed": 0, "refused": 0, "streamed": 0, "frames": 0}
    lock = threading.Lock()

    def add(key, n=1):
        with lock:
            counts[key] += n

    with vart_async.open(model, jobs=4) as s:
        f = _frame(s)

        def on_done(outputs, job):
            add("delivered")

        def callbacks():
            r = random.Random(rng.random())
            while time.monotonic() < stop_at:
                try:
                    s.submit(f, callback=on_done)
                    add("submitted")
                except vart_async.VartAsyncError:
                    add("failed")
                if r.random() < 0.05:
                    s.wait_all()

        def streams():
            r = random.Random(rng.random())
            while time.monotonic() < stop_at:
                n = r.randint(1, 20)
                it = s.stream([f] * n)
                got = 0
                for _ in it:
                    got += 1
                    if r.random() < 0.1:
                        it.close()  # leave early: its jobs are waited for
                        break
                add("frames", n)
                add("streamed", got)

        def low_level():
            while time.monotonic() < stop_at:
                k = rng.randrange(s.jobs)
                try:
                    s.submit(k).wait(10)
                except ValueError:
                    add("refused")  # the slot is in use by someone else: said at once

        def canceller():
            while time.monotonic() < stop_at:
                s.cancel()  # from anywhere: without a run it changes nothing
                time.sleep(0.01)

        threads = [threading.Thread(target=t) for t in (callbacks, callbacks, streams, low_level, canceller)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
            assert not t.is_alive()
        s.wait_all()
        assert counts["delivered"] == counts["submitted"]
        assert counts["streamed"] <= counts["frames"]
        assert counts["submitted"] > 0
        assert counts["streamed"] > 0
        r = s.run(iterations=20)  # the window is whole again
        assert r.completed == 20
