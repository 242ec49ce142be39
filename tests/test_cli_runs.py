"""vart-async-bench runs and what benchmark users expect: the normal, dry-run and benchmark modes,
the default model, the OpenVINO engine, the JSON report, time limits, --verify, --sweep-jobs, failed
and stalled jobs, and the report formatting (performance table, NaN-free JSON, progress line).

In-process through main(argv). The emulator's outputs are a deterministic function of the inputs, so
OFM contents are checked against a direct Session run on the same input rows. Argument errors, IFM
rules and process behaviour are in tests/test_cli.py; shared helpers in tests/_cli_helpers.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import vart_async
from _cli_helpers import BPR, DEFAULT_ONNX, DEMO, direct_outputs, ifm_file, run  # tests/ is on pythonpath
from vart_async import _report, cli
from vart_async.results import RunResult


# -- the three modes --------------------------------------------------------------------------------
def test_normal_run_writes_the_last_frame_of_every_output(capsys, tiny):
    ifm = ifm_file("ifm.bin", 2 * BPR)
    code, out, err = run(capsys, tiny, ifm)
    assert code == 0
    assert err == ""
    assert "Wrote output_f9_0.bin (32 bytes, 2 batch rows) name=y dtype=int8 frame=9 tensor=0" in out
    assert "Wrote output_f9_1.bin (24 bytes, 2 batch rows) name=z dtype=float32 frame=9 tensor=1" in out
    assert sorted(p.name for p in Path().glob("output_*")) == ["output_f9_0.bin", "output_f9_1.bin"]
    assert out.index("---- Async infer (binary IFM) pass  ----") < out.index("Wrote")
    assert (
        "---- output dump ----\nOnly last iteration OFM is written (see messages above).\n"
        "Batches completed: 10 / 10\n"
    ) in out
    rows = np.frombuffer(Path(ifm).read_bytes(), np.uint8).reshape(2, BPR)
    assert [Path(f"output_f9_{t}.bin").read_bytes() for t in (0, 1)] == direct_outputs(tiny, rows)
    assert "Mode               :" not in out


def test_n_1_runs_one_job(capsys, tiny):
    code, out, _ = run(capsys, tiny, ifm_file("ifm.bin", BPR), "-n", "1", "--json", "r.json")
    assert code == 0
    assert "Batches completed: 1 / 1" in out
    assert "[WARN]" not in out
    assert Path("output_f0_0.bin").exists()
    doc = json.loads(Path("r.json").read_text())
    assert (doc["submitted"], doc["completed"]) == (1, 1)


def test_output_dir(capsys, tiny):
    code, out, _ = run(capsys, tiny, ifm_file("ifm.bin", BPR), "-n", "2", "--output-dir", "ofm/sub")
    assert code == 0
    assert f"Wrote {Path('ofm/sub/output_f1_0.bin')} " in out
    assert Path("ofm/sub/output_f1_1.bin").stat().st_size == 24


def test_dry_run_reads_and_writes_no_file(capsys, tiny):
    code, out, _ = run(capsys, tiny, "never-read.bin", "-d", "-n", "4")
    assert code == 0
    assert out.startswith("Mode               : dry-run (no IFM/OFM file I/O; random IFM fill)\n\n")
    assert "[INFO] dry-run: inputs filled with random values by dtype (seed 0; floats uniform in" in out
    assert "Batches completed: 4 / 4" in out
    assert not list(Path().glob("output_*"))


def test_benchmark(capsys, tiny):
    ifm = ifm_file("ifm.bin", BPR)
    code, out, _ = run(capsys, tiny, ifm, "--benchmark", "-n", "6")
    assert code == 0
    assert out.startswith(
        "Mode               : benchmark (timed infer, no OFM file writes, sync pass enabled)\n\n"
    )
    assert re.search(r"^\[INFO\] async infer pass: \d+\.\d{3} ms \(\d+\.\d{3} ms/frame\)", out, re.M)
    assert re.search(r"^\[INFO\] sync infer pass: \d+\.\d{3} ms \(\d+\.\d{3} ms/frame\)", out, re.M)
    assert (
        out.index("---- Async infer")
        < out.index("[INFO] async")
        < out.index("---- Sync infer (binary IFM) pass ----")
    )
    assert "|                              Performance" in out
    assert re.search(
        r"^\| Async infer pass \| \d+\.\d\d ms/inference \(dp_size=2\) \| \d+\.\d\d FPS", out, re.M
    )
    assert re.search(r"^\| Sync infer pass  \| ", out, re.M)
    assert "Speed-up           : " in out
    assert "output dump" not in out
    assert not list(Path().glob("output_*"))


def test_dry_run_and_benchmark_print_both_modes(capsys, tiny):
    code, out, _ = run(capsys, tiny, "-d", "--benchmark", "-n", "2")
    assert code == 0
    assert out.index("Mode               : dry-run") < out.index("Mode               : benchmark")


def test_default_model(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "-n", "2")
    assert code == 0
    assert "(embedded default model: no --model-path given)" in out
    assert "dry-run implied" in out
    assert "Engine             : " in out
    assert ("EMULATED — no NPU" in out) == ("vart —" in out)


def test_default_model_choice(monkeypatch):
    def engines(openvino):
        return lambda: {"openvino": vart_async.EngineStatus("openvino", openvino, False, "")}

    monkeypatch.setattr(vart_async, "available_engines", engines(False))
    assert cli.default_model() == (DEMO, "vart")
    monkeypatch.setattr(vart_async, "available_engines", engines(True))
    assert cli.default_model() == (DEFAULT_ONNX, "openvino")
    assert cli.default_model("vart") == (DEMO, "vart")


needs_openvino = pytest.mark.skipif(
    not vart_async.available_engines()["openvino"].available, reason="this build has no OpenVINO engine"
)


@pytest.mark.openvino
@needs_openvino
def test_openvino_normal_run_and_options(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ifm = tmp_path / "ifm.bin"
    np.random.default_rng(0).standard_normal(3 * 32 * 32).astype(np.float32).tofile(ifm)
    code, out, _ = run(capsys, DEFAULT_ONNX, ifm, "-n", "3", "--hint", "none", "--streams", "1", "--verify")
    assert code == 0
    assert "Wrote output_f2_0.bin (40 bytes, 1 batch rows) name=logits dtype=float32 frame=2 tensor=0" in out
    assert "bit-identical (1 tensors x 2 slots)" in out
    assert re.search(r"Process CPU +: \d+\.\d\d core\(s\) busy on average", out)
    assert "collected as each job finished" in out  # OpenVINO reports completions
    code, out, _ = run(capsys, DEFAULT_ONNX, "-d", "-n", "50", "--spin-us", "0", "--hint", "none")
    assert code == 0
    assert "50 / 50 jobs completed" in out
    # OpenVINO's rule: a low-level option next to a hint is taken, and wins over the hint
    code, out, _ = run(capsys, DEFAULT_ONNX, "-d", "--hint", "latency", "--threads", "1")
    assert code == 0
    assert "Compiled           : hint LATENCY, streams 1, threads 1," in out
    code, _, err = run(capsys, DEFAULT_ONNX, "-d", "--hint", "latency", "--threads", "0")
    assert code == 1
    assert "threads must be >= 1" in err


# -- beyond the sample ------------------------------------------------------------------------------
def test_json_report(capsys, tiny):
    code, _, _ = run(
        capsys,
        tiny,
        ifm_file("ifm.bin", 2 * BPR),
        "--benchmark",
        "-n",
        "5",
        "--jobs",
        "3",
        "--warmup",
        "4",
        "--json",
        "r.json",
    )
    assert code == 0
    doc = json.loads(Path("r.json").read_text())
    for key in (
        "throughput_fps",
        "latency_ms",
        "submitted",
        "completed",
        "failed",
        "wall_s",
        "engine",
        "emulated",
        "jobs",
        "model",
        "schema",
        "runtime",
        "batch_size",
        "warmup",
    ):
        assert key in doc
    assert set(doc["latency_ms"]) == {"min", "mean", "p50", "p90", "p99", "max"}
    assert doc["schema"] == "vart-async-bench/1"
    assert (doc["engine"], doc["emulated"], doc["jobs"], doc["batch_size"]) == ("vart", True, 3, 2)
    assert (doc["submitted"], doc["completed"], doc["failed"], doc["warmup"]) == (
        5,
        5,
        0,
        4,
    )  # warm-up excluded
    assert doc["sync"]["completed"] == 5
    assert doc["sync"]["max_in_flight"] == 1
    assert doc["speedup"] == pytest.approx(doc["throughput_fps"] / doc["sync"]["throughput_fps"])
    lat = doc["latency_ms"]
    assert lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]


def test_time_limit_alone_and_with_n(capsys, tiny):
    code, _, _ = run(capsys, tiny, "-d", "-t", "0.2", "--json", "t.json")
    assert code == 0
    doc = json.loads(Path("t.json").read_text())
    assert doc["iterations"] is None
    assert doc["completed"] >= 1
    assert doc["wall_s"] >= 0.2
    code, out, _ = run(capsys, tiny, "-d", "-t", "0.05", "-n", "300", "--json", "tn.json")
    assert "Jobs in flight     : 2 (batch 2; run: at least 300 job(s) and 0.05 s)" in out
    doc = json.loads(Path("tn.json").read_text())
    assert doc["completed"] >= 300  # both limits must be met
    assert doc["wall_s"] >= 0.05


def test_verify(capsys, tiny):
    code, out, _ = run(capsys, tiny, "-d", "-n", "3", "--jobs", "3", "--verify", "--json", "v.json")
    assert code == 0
    assert "Verify             : async and sync outputs are bit-identical (2 tensors x 3 slots)" in out
    assert json.loads(Path("v.json").read_text())["verify"] == {"ok": True, "tensors": 2, "slots": 3}


def test_verify_mismatch_says_where(capsys, tiny, monkeypatch):
    monkeypatch.setattr(cli._ifm, "first_difference", lambda a, b: 7)
    code, out, err = run(capsys, tiny, "-d", "-n", "2", "--verify")
    assert code == 1
    assert (
        "Error: --verify: output 'y' differs between async and sync (slot 0, first differing byte at "
        "offset 7)"
    ) in err
    assert "Summary (partial)" in out


def test_sweep_jobs(capsys, tiny):
    code, out, _ = run(capsys, tiny, "-d", "-n", "4", "--sweep-jobs", "1,2,3", "--json", "s.json")
    assert code == 0
    assert "Jobs sweep" in out
    assert re.search(r"^\| jobs \| throughput FPS \| p99 latency ms \| speed-up vs jobs=1 \|$", out, re.M)
    assert re.search(r"^\| 1    \| [\d.]+ +\| [\d.]+ +\| 1\.00x", out, re.M)
    sweep = json.loads(Path("s.json").read_text())["sweep"]
    assert [s["jobs"] for s in sweep] == [1, 2, 3]
    assert all(s["completed"] == 4 and s["p99_ms"] > 0 for s in sweep)


def test_failed_job_prints_error_and_partial_summary(capsys, descriptor, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = descriptor(service_time_us=100, faults={"fail_jobs": [6]})
    code, out, err = run(capsys, model, ifm_file("ifm.bin", BPR), "-n", "20", "--json", "f.json")
    assert code == 1
    assert err.startswith("Error: ")
    assert "RUNTIME_ERROR" in err
    assert "Summary (partial)" in out
    assert not list(Path().glob("output_*"))
    doc = json.loads(Path("f.json").read_text())
    assert (doc["status"], doc["failed"], doc["reason"]) == ("error", 1, "job_failed")


def test_wait_timeout(capsys, descriptor, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = descriptor(service_time_us=100, faults={"stall_jobs": [5], "stall_ms": 1500})
    code, _, err = run(capsys, model, "-d", "-n", "10", "--wait-timeout", "0.2")
    assert code == 1
    assert "did not finish within 200 ms" in err


# -- reports ----------------------------------------------------------------------------------------
def _result(wall_s, completed, mode="async"):
    n = completed
    return RunResult(
        mode=mode,
        jobs=2,
        batch_size=1,
        submitted=n,
        completed=n,
        failed=0,
        cancelled=0,
        busy_retries=0,
        max_in_flight=2,
        wall_s=wall_s,
        reason="finished",
        message="",
        slot=np.zeros(n, np.uint32),
        outcome=np.zeros(n, np.uint8),
        t_submit=np.zeros(n),
        t_started=np.zeros(n),
        t_done=np.full(n, 1e-3),
    )


def test_perf_table_is_the_samples_format():
    table = _report.perf_table({"async": _result(0.025, 10), "sync": _result(0.041, 10, "sync")})
    assert (
        table
        == """\
+------------------+-------------------------------+--------------------+
|                              Performance                              |
+------------------+-------------------------------+--------------------+
| Pass             | Average Inference Time        | Average Throughput |
+------------------+-------------------------------+--------------------+
| Async infer pass | 2.50 ms/inference (dp_size=1) | 400.00 FPS         |
| Sync infer pass  | 4.10 ms/inference (dp_size=1) | 243.90 FPS         |
+------------------+-------------------------------+--------------------+"""
    )
    assert _report.pass_line("async", _result(0.025, 10)) == (
        "[INFO] async infer pass: 25.000 ms (2.500 ms/frame) [10 frames]"
    )


def test_json_has_no_nan():
    assert json.loads(_report.dumps({"p99": float("nan"), "x": [float("inf"), 1.5]})) == {
        "p99": None,
        "x": [None, 1.5],
    }


def test_progress_line_waits_then_redraws_then_clears():
    class Tty:
        def __init__(self):
            self.text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    tty = Tty()
    bar = _report.Progress(tty, batch_size=2, total=100, time_limit=None, delay=0.0)  # type: ignore[arg-type]
    bar.update(10, 8)
    bar.update(20, 18)
    assert tty.text.count("\r[progress] ") == 2
    assert "18 / 100 jobs done, 2 in flight" in tty.text
    bar.clear()
    assert tty.text.endswith("\r")
    late = _report.Progress(tty, batch_size=1, total=None, time_limit=5, delay=60.0)  # type: ignore[arg-type]
    before = tty.text
    late.update(1, 1)
    assert tty.text == before  # nothing for runs shorter than the delay
