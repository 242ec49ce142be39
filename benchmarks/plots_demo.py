"""Renders the three plots from real runs on the emulator demo model (what docs/img holds).

    python benchmarks/plots_demo.py [OUT_DIR]          # default: docs/img

Writes timeline.png (sync above async on models/resnet50_int8.emu.json), latency.png (the async
pass's latency histogram) and sweep.png (jobs 1, 2, 4, 8), 500 jobs per pass. Inputs are random
(a dry-run). Needs matplotlib (pip install 'vart-async[plot]').
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import vart_async
from vart_async import plots
from vart_async.pytest_plugin import fill_random

MODEL = Path(vart_async.__file__).parent / "models" / "resnet50_int8.emu.json"
JOBS_PER_PASS = 500


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" / "img"
    device = json.loads(MODEL.read_text())
    with vart_async.open(MODEL, jobs=2) as s:
        fill_random(s)
        run_async = s.run(iterations=JOBS_PER_PASS, warmup=2)
        run_sync = s.run(iterations=JOBS_PER_PASS, mode="sync", warmup=2)
    where = f"{s.engine} engine, {s.runtime}"
    emulated = f"{device['compute_units']} compute units, {device['service_time_us']} µs per job"
    written = [
        plots.timeline([("sync", run_sync), ("async", run_async)], out / "timeline.png",
                       title=f"{s.model_name} ({emulated}) — {where}, {s.jobs} slots"),
        plots.latency_histogram(run_async, out / "latency.png", title=f"{s.model_name} — {where}"),
    ]
    rows = []
    for jobs in (1, 2, 4, 8):
        with vart_async.open(MODEL, jobs=jobs) as sw:
            fill_random(sw)
            rows.append(sw.run(iterations=JOBS_PER_PASS, warmup=jobs))
    written.append(plots.sweep_plot(rows, out / "sweep.png", title=f"{s.model_name}: jobs sweep — {where}"))
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
