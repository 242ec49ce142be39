"""vart-async-bench: how it is called and how it fails — options, usage errors, the model/IFM
positional forms, the IFM file rules, and (through a subprocess) exit codes, stdout vs stderr, no
tracebacks, terminals vs pipes and Ctrl-C.

Runs, reports, JSON and engines are in tests/test_cli_runs.py; pictures in tests/test_cli_pictures.py.
Shared helpers are in tests/_cli_helpers.py; the `tiny` fixture is in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from _cli_helpers import BPR, DEFAULT_ONNX, DEMO, direct_outputs, ifm_file, run  # tests/ is on pythonpath


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
