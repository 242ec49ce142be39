"""Long runs hold memory flat: the first jobs keep their records, every job's latency goes into a
fixed-size histogram, and the statistics say when they come from it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import vart_async
from vart_async import _core
from vart_async.results import PERCENTILES, percentile


def test_records_are_bounded_and_latency_comes_from_the_histogram(descriptor):
    with vart_async.open(descriptor(service_time_us=100, service_jitter_us=400), jobs=2) as s:
        r = s.run(iterations=3000, max_records=500)
    assert r.completed == 3000
    assert len(r.t_submit) == 500
    assert r.records_dropped == 2500
    assert not r.latency_exact
    assert int(r.latency_counts.sum()) == 3000
    stats = r.latency_stats()
    assert stats["min"] <= stats["p50"] <= stats["p90"] <= stats["p99"] <= stats["max"]
    report = r.to_dict()
    assert report["latency_exact"] is False
    assert report["latency_relative_error"] == pytest.approx(_core.LATENCY_RELATIVE_ERROR)
    assert report["records_kept"] == 500


def test_histogram_percentiles_are_within_the_stated_error_of_the_exact_ones(descriptor):
    with vart_async.open(descriptor(service_time_us=100, service_jitter_us=900), jobs=2) as s:
        r = s.run(iterations=2000)  # every record kept: exact and histogram figures side by side
    assert r.latency_exact
    exact = np.sort(r.latencies_ms)
    from vart_async.results import _histogram_stats

    approx = _histogram_stats(r.latency_counts, PERCENTILES)
    bound = _core.LATENCY_RELATIVE_ERROR
    for p in PERCENTILES:
        want = percentile(exact, p)
        assert abs(approx[f"p{p}"] - want) <= bound * want + 1e-6, (p, approx[f"p{p}"], want)


def test_bad_max_records_is_a_value_error(descriptor):
    with vart_async.open(descriptor(), jobs=2) as s, pytest.raises(ValueError, match="max_records"):
        s.run(iterations=3, max_records=-1)


LONG_RUN_RSS = r"""
import resource, sys, vart_async
with vart_async.open(sys.argv[1], jobs=2) as s:
    s.run(iterations=int(sys.argv[2]), max_records=10_000)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_number_of_jobs(descriptor):
    model = str(descriptor(service_time_us=0))
    peaks = [
        int(
            subprocess.run(
                [sys.executable, "-c", LONG_RUN_RSS, model, str(n)],
                capture_output=True, text=True, check=True, timeout=300,
            ).stdout
        )
        for n in (50_000, 400_000)
    ]
    assert peaks[1] - peaks[0] < 8 * 1024, json.dumps(peaks)  # KiB: flat within 8 MB (was ~40 B/job)
