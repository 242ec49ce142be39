"""vart-async-bench: every option, rule and error of vart_infer_async, and what benchmark users expect.

In-process through main(argv) for behaviour; through a subprocess for exit codes, stdout vs stderr,
no tracebacks, terminals vs pipes and Ctrl-C. The emulator's outputs are a deterministic function of
the inputs, so OFM contents are checked against a direct Session run on the same input rows.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import vart_async
from vart_async import _report, cli
from vart_async.results import RunResult

DEMO = Path(str(resources.files("vart_async") / "models" / "resnet50_int8.emu.json"))
DEFAULT_ONNX = Path(str(resources.files("vart_async") / "models" / "default_cnn.onnx"))
BPR = 8 + 4 * 4  # the tiny descriptor's row: input a uint8[8] + input b float32[4]
BATCH = 2


@pytest.fixture
def tiny(descriptor, tmp_path, monkeypatch):
    """The conftest's two-input, two-output, batch-2 model; the test runs in tmp_path."""
    monkeypatch.chdir(tmp_path)
    return str(descriptor())


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def ifm_file(path, nbytes, seed=0):
    data = np.random.default_rng(seed).integers(0, 256, nbytes, dtype=np.uint8).tobytes()
    Path(path).write_bytes(data)
    return str(path)


def direct_outputs(model, rows):
    """Outputs of one job on `rows` (IFM rows, zero-filled to the batch) through the Python API."""
    with vart_async.open(model, jobs=1) as s:
        a, b = s.slots[0].inputs
        full = np.zeros((s.batch_size, BPR), np.uint8)
        full[: len(rows)] = rows
        a.view(np.uint8)[...] = full[:, :8].reshape(a.view(np.uint8).shape)
        b.view(np.uint8)[...] = full[:, 8:].reshape(b.view(np.uint8).shape)
        s.run(iterations=1)
        return [o.tobytes() for o in s.slots[0].outputs]


def cli_proc(*argv, cwd=None, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "vart_async.cli", *map(str, argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


# -- parsing ----------------------------------------------------------------------------------------
def test_help_exits_0_and_lists_every_option(capsys):
    code, out, _ = run(capsys, "-h")
    assert code == 0
    for flag in (
        "--model-path",
        "--input-binary",
        "--input_binary",
        "--num-iteration",
        "--dry-run",
        "--benchmark",
        "--input-tensor-type",
        "--output-tensor-type",
        "--jobs",
        "--engine",
        "--time",
        "--json",
        "--verify",
        "--sweep-jobs",
        "--quiet",
        "--warmup",
        "--wait-timeout",
        "--device",
        "--hint",
    ):
        assert flag in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--foo"], "Error: unrecognized arguments: --foo"),
        (["--dry"], "Error: unrecognized arguments: --dry"),  # no prefix matching
        (["-n", "abc"], "Error: argument -n/--num-iteration: invalid int value: 'abc'"),
        (["-n"], "Error: argument -n/--num-iteration: expected one argument"),
        (["--engine", "npu"], "Error: argument --engine: invalid choice: 'npu'"),
        (
            ["--sweep-jobs", "1,x"],
            "Error: argument --sweep-jobs: must be a comma-separated list of positive integers (got '1,x')",
        ),
        (
            ["--sweep-jobs", "2,0"],
            "Error: argument --sweep-jobs: must be a comma-separated list of positive integers (got '2,0')",
        ),
    ],
)
def test_usage_errors_are_error_lines_with_status_1(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert err.startswith(message)
    assert out == ""


@pytest.mark.parametrize("n", ["0", "-1"])
def test_num_iteration_below_1(capsys, tiny, n):
    code, out, err = run(capsys, tiny, "-d", "-n", n)
    assert (code, err) == (1, "[ERROR] --num-iteration must be >= 1.\n")
    assert "Async" not in out


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--jobs", "0"),
        ("--warmup", "-1"),
        ("-t", "0"),
        ("--wait-timeout", "-2"),
        ("-t", "nan"),
        ("--spin-us", "-1"),
    ],
)
def test_bad_numbers(capsys, tiny, flag, value):
    code, _, err = run(capsys, tiny, "-d", flag, value)
    assert code == 1
    assert err.startswith("[ERROR] ")


def test_input_binary_is_required_unless_dry_run(capsys, tiny):
    code, _, err = run(capsys, tiny)
    assert code == 1
    assert err == (
        "[ERROR] input_binary is required unless --dry-run is set \n"
        "(Use --dry-run or provide a input binary with --input-binary option).\n"
    )


@pytest.mark.parametrize("which", ["input", "output"])
def test_bad_tensor_type(capsys, tiny, which):
    code, out, err = run(capsys, tiny, "-d", f"--{which}-tensor-type", "NPU")
    assert code == 1
    assert err == f"[ERROR] --{which}-tensor-type must be 'HW' or 'CPU' (got 'NPU').\n"
    assert out.startswith("Mode               : dry-run")  # printed before the types are checked


def test_input_tensor_type_is_checked_first(capsys, tiny):
    _, _, err = run(capsys, tiny, "-d", "--input-tensor-type", "x", "--output-tensor-type", "y")
    assert "--input-tensor-type" in err
    assert "--output-tensor-type" not in err


def test_tensor_types_are_case_insensitive_and_reach_the_engine(capsys):
    code, out, _ = run(
        capsys, DEMO, "-d", "-n", "2", "--input-tensor-type", "cpu", "--output-tensor-type", "Hw"
    )
    assert code == 0
    assert "Input row          : 602112 bytes" in out  # the CPU view: float32 [1,3,224,224]
    code, out, _ = run(capsys, DEMO, "-d", "-n", "2")
    assert "Input row          : 150528 bytes" in out  # HW by default: int8 [1,224,224,3]


def test_unknown_model_path_is_checked_before_loading(capsys, tmp_path):
    missing = tmp_path / "nope.rai"
    code, out, err = run(capsys, missing, "-d")
    assert code == 1
    assert err == f"Error: compiled model path does not exist: {missing}\n"
    assert "Engine" not in out


def test_engine_options_belong_to_one_engine(capsys, tiny):
    code, _, err = run(capsys, tiny, "-d", "--device", "GPU")
    assert code == 1
    assert err == "Error: --device is an option of the openvino engine; this run uses the vart engine\n"
    code, _, err = run(capsys, DEFAULT_ONNX, "-d", "--input-tensor-type", "HW")
    assert code == 1
    assert (
        err
        == "Error: --input-tensor-type is an option of the vart engine; this run uses the openvino engine\n"
    )


def test_engine_that_cannot_run_the_model(capsys, tiny):
    code, _, err = run(capsys, tiny, "-d", "--engine", "openvino")
    assert code == 1
    assert err.startswith("Error: ")


# -- positional forms -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "form",
    [
        lambda m, i: [m, i],
        lambda m, i: ["--model-path", m, "--input-binary", i],
        lambda m, i: ["--model-path", m, "--input_binary", i],
        lambda m, i: [m, "-n", "3", i],
        lambda m, i: ["--model-path", m, i],
        lambda m, i: ["--input-binary", i, m],
    ],
)
def test_model_and_ifm_forms(capsys, tiny, form):
    ifm = ifm_file("ifm.bin", 2 * BPR)
    code, out, _ = run(capsys, *form(tiny, ifm))
    assert code == 0
    assert "Wrote output_f" in out


def test_too_many_positionals(capsys, tiny):
    code, _, err = run(capsys, tiny, "a.bin", "b.bin")
    assert code == 1
    assert err.startswith("Error: unrecognized arguments: b.bin")
    code, _, err = run(capsys, "--model-path", tiny, "--input-binary", "a.bin", "c.bin")
    assert code == 1
    assert "unexpected positional argument(s): c.bin" in err


# -- IFM rules --------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, BPR - 1])
def test_ifm_smaller_than_one_row(capsys, tiny, size):
    ifm = ifm_file("small.bin", size)
    code, _, err = run(capsys, tiny, ifm)
    assert code == 1
    assert err == (
        f"Error: input binary too small: need at least {BPR} bytes for one sample row (got {size} byte(s))\n"
    )
    assert not list(Path().glob("output_*"))


def test_ifm_missing_or_a_directory(capsys, tiny, tmp_path):
    code, _, err = run(capsys, tiny, "missing.bin")
    assert (code, err) == (1, "Error: input file not found: missing.bin\n")
    code, _, err = run(capsys, tiny, tmp_path)
    assert (code, err) == (1, f"Error: input binary is a directory: {tmp_path}\n")


def test_one_and_a_half_rows_use_one_row_and_zero_fill(capsys, tiny):
    ifm = ifm_file("ifm.bin", BPR + BPR // 2)
    code, out, _ = run(capsys, tiny, ifm, "-n", "3")
    assert code == 0
    notice = (
        "[INFO] copy_frame_to_slot: IFM has 1 full row(s); need 2 row(s) for frame_index=0 and "
        "batch_size=2. Short slots are zero-filled."
    )
    assert out.count(notice) == 1  # once, not once per slot
    row = np.frombuffer(Path(ifm).read_bytes()[:BPR], np.uint8)[None, :]
    expected = direct_outputs(tiny, row)
    assert Path("output_f2_0.bin").read_bytes() == expected[0]
    assert Path("output_f2_1.bin").read_bytes() == expected[1]


def test_rows_past_the_batch_and_partial_rows_are_ignored(capsys, tiny):
    ifm = ifm_file("ifm.bin", 3 * BPR + 5)
    code, out, _ = run(capsys, tiny, ifm, "-n", "2")
    assert code == 0
    assert "copy_frame_to_slot" not in out
    rows = np.frombuffer(Path(ifm).read_bytes()[: 2 * BPR], np.uint8).reshape(2, BPR)
    assert Path("output_f1_0.bin").read_bytes() == direct_outputs(tiny, rows)[0]


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
    assert "[INFO] dry-run: filled 2 frame(s) with random bytes (no IFM file read).\n" in out
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
    code, _, err = run(capsys, DEFAULT_ONNX, "-d", "--hint", "latency", "--threads", "1")
    assert code == 1
    assert "need hint='none'" in err  # the options reached the engine


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


# -- as a process: exit codes, streams, terminals, Ctrl-C -------------------------------------------
def test_process_errors_go_to_stderr_without_traceback(tiny, tmp_path):
    for argv, code in [
        (["--foo"], 1),
        ([tiny], 1),
        ([tiny, "-n", "0"], 1),
        (["nope.rai", "-d"], 1),
        ([tiny, str(tmp_path)], 1),
        (["-h"], 0),
    ]:
        p = cli_proc(*argv, cwd=tmp_path)
        assert p.returncode == code, (argv, p.stderr)
        assert "Traceback" not in p.stderr
        assert "Error" not in p.stdout
        assert (p.stderr != "") == (code != 0)


def test_process_json_to_stdout_keeps_stdout_pure_and_no_progress_when_piped(tiny, tmp_path):
    p = cli_proc(tiny, "-d", "-t", "1.3", "--json", "-", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["iterations"] is None
    assert "---- Summary ----" in p.stderr
    assert "[progress]" not in p.stderr + p.stdout
    assert "\r" not in p.stderr + p.stdout


def _in_a_terminal(argv, cwd):
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [sys.executable, "-m", "vart_async.cli", *argv], cwd=cwd, stdout=slave, stderr=subprocess.PIPE
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert p.stderr is not None
    with p.stderr:
        err = p.stderr.read()
    assert p.wait(timeout=120) == 0, err
    return b"".join(chunks).decode()


@pytest.mark.slow
def test_progress_line_on_a_terminal_only_unless_quiet(descriptor, tmp_path):
    model = str(descriptor(service_time_us=500))
    shown = _in_a_terminal([model, "-d", "-t", "2"], tmp_path)
    assert "\r[progress] " in shown
    assert re.search(r"jobs done, \d+ in flight \| [\d.]+ FPS", shown)
    assert re.search(r"\r +\r---- output dump ----", shown)  # the line is cleared first
    quiet = _in_a_terminal([model, "-d", "-t", "2", "--quiet"], tmp_path)
    assert "[progress]" not in quiet
    short = _in_a_terminal([model, "-d", "-n", "3"], tmp_path)  # far under a second
    assert "[progress]" not in short


def test_ctrl_c_drains_prints_the_partial_summary_and_exits_130(descriptor, tmp_path):
    model = descriptor(service_time_us=2000)
    p = subprocess.Popen(
        [sys.executable, "-m", "vart_async.cli", str(model), "-d", "-t", "60", "--json", "i.json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    lines = []
    for line in p.stdout:
        lines.append(line)
        if line.startswith("---- Async infer"):
            break
    time.sleep(0.5)  # well inside the 60 s pass
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert "[WARN] interrupted (Ctrl-C)" in err
    assert "---- Summary (partial) ----" in out
    doc = json.loads((tmp_path / "i.json").read_text())
    assert doc["status"] == "interrupted"
    assert doc["reason"] == "cancelled"
    assert doc["submitted"] == doc["completed"] + doc["failed"] + doc["cancelled"]
