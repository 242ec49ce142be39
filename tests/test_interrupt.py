"""Ctrl-C during Session.run: submissions stop, in-flight jobs drain, the partial result comes back."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

SCRIPT = r"""
import sys, vart_async
with vart_async.open(sys.argv[1], jobs=2) as s:
    print("ready", flush=True)
    try:
        s.run(time_limit=60)
    except vart_async.Interrupted as e:
        r = e.result
        print(f"interrupted reason={r.reason} submitted={r.submitted} completed={r.completed} "
              f"cancelled={r.cancelled} failed={r.failed}", flush=True)
        # The session still works after the drain.
        print("after", s.run(iterations=3).completed, flush=True)
"""


def test_ctrl_c_drains_and_returns_the_partial_result(descriptor):
    model = descriptor(service_time_us=1000)
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(model)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    line = next(ln for ln in out.splitlines() if ln.startswith("interrupted"))
    fields = dict(kv.split("=") for kv in line.split()[1:])
    assert fields["reason"] == "cancelled"
    assert int(fields["submitted"]) == int(fields["completed"]) > 0
    assert fields["cancelled"] == "0"
    assert "after 3" in out
