"""Numbers a benchmark_app user can trust: the compiled configuration shown, OpenVINO's rules for
options, jobs="auto", a fair sync baseline, realistic and real inputs, cold start, percentiles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import vart_async
from _cli_helpers import DEFAULT_ONNX, run  # tests/ is on pythonpath
from vart_async import _config, _inputs
from vart_async.results import check_percentiles

needs_openvino = pytest.mark.skipif(
    not vart_async.available_engines()["openvino"].available, reason="this build has no OpenVINO engine"
)
ov = [pytest.mark.openvino, needs_openvino]


# -- the compiled configuration ---------------------------------------------------------------------
@pytest.mark.openvino
@needs_openvino
def test_the_compiled_configuration_is_read_back_and_shown(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(
        capsys,
        DEFAULT_ONNX,
        "-d",
        "-n",
        "20",
        "--hint",
        "none",
        "--streams",
        "1",
        "--threads",
        "1",
        "--precision",
        "f32",
        "--json",
        "r.json",
    )
    assert code == 0
    assert "Compiled           : hint LATENCY, streams 1, threads 1, precision f32, optimal requests 1" in out
    doc = json.loads(Path("r.json").read_text())
    conf = doc["configuration"]
    assert conf["options_given"] == {"hint": "none", "streams": "1", "threads": "1", "precision": "f32"}
    assert conf["requested"]["NUM_STREAMS"] == "1"
    assert conf["requested"]["INFERENCE_NUM_THREADS"] == "1"
    props = conf["properties"]
    assert props["NUM_STREAMS"] == "1"
    assert props["INFERENCE_PRECISION_HINT"] == "f32"
    assert len(props) > 10  # every property the compiled model reports, not a chosen few
    assert {"read_model_s", "compile_s", "load_s", "first_inference_ms"} <= set(doc["cold_start"])
    assert doc["cold_start"]["first_inference_ms"] > 0
    assert "Cold start         : read " in out


@pytest.mark.openvino
@needs_openvino
def test_the_demo_configuration_runs_writes_its_cache_and_says_what_it_got(capsys, tmp_path, monkeypatch):
    """OpenVINO's async demo: THROUGHPUT + 32 requests + 16 threads + 8 streams + CACHE_DIR."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        capsys,
        DEFAULT_ONNX,
        "-d",
        "-n",
        "64",
        "--hint",
        "throughput",
        "--jobs",
        "32",
        "--streams",
        "8",
        "--threads",
        "16",
        "--cache-dir",
        "c",
        "--json",
        "r.json",
    )
    assert code == 0, err
    assert any(Path("c").iterdir())  # the compiled blob was cached
    doc = json.loads(Path("r.json").read_text())
    requested, props = doc["configuration"]["requested"], doc["configuration"]["properties"]
    assert requested["PERFORMANCE_HINT"] == "THROUGHPUT"
    assert requested["NUM_STREAMS"] == "8"
    assert requested["CACHE_DIR"] == "c"
    assert "cache dir c" in out
    if int(props["NUM_STREAMS"]) < 8:  # a small machine: the summary says so
        assert f"NUM_STREAMS 8 asked, {props['NUM_STREAMS']} given by the runtime" in out


@pytest.mark.openvino
@needs_openvino
def test_jobs_auto_is_the_optimal_number_of_requests(capsys, tmp_path, monkeypatch):
    with vart_async.open(DEFAULT_ONNX, jobs="auto", hint="throughput") as s:
        assert s.jobs == int(s.info["properties"]["OPTIMAL_NUMBER_OF_INFER_REQUESTS"])
        assert s.jobs_from.startswith("auto: OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, DEFAULT_ONNX, "-d", "-n", "8", "--jobs", "auto", "--json", "r.json")
    assert code == 0
    doc = json.loads(Path("r.json").read_text())
    assert doc["jobs"] == int(doc["configuration"]["properties"]["OPTIMAL_NUMBER_OF_INFER_REQUESTS"])
    assert "(auto: OPTIMAL_NUMBER_OF_INFER_REQUESTS" in out
    for bad in ("0", "many", "4097"):
        code, _, err = run(capsys, DEFAULT_ONNX, "-d", "--jobs", bad)
        assert code == 1
        assert "--jobs" in err


def test_jobs_auto_without_an_optimum_takes_the_default(tiny):
    with vart_async.open(tiny, jobs="auto") as s:
        assert s.jobs == _config.DEFAULT_JOBS
        assert "names no optimal number" in s.jobs_from
    with pytest.raises(ValueError, match="'auto'"):
        vart_async.open(tiny, jobs="all")


@pytest.mark.openvino
@needs_openvino
def test_a_hint_and_low_level_options_combine_as_in_openvino():
    with vart_async.open(DEFAULT_ONNX, hint="latency", streams=2, threads=2, pin="no") as s:
        props = s.info["properties"]
        assert props["PERFORMANCE_HINT"] == "LATENCY"
        assert props["NUM_STREAMS"] == "2"
        assert props["INFERENCE_NUM_THREADS"] == "2"
        assert props["ENABLE_CPU_PINNING"] == "NO"
    with vart_async.open(DEFAULT_ONNX, num_requests=1) as s:  # THROUGHPUT capped at 1 request
        assert s.info["properties"]["PERFORMANCE_HINT"] == "THROUGHPUT"
        assert s.info["properties"]["NUM_STREAMS"] == "1"
    with vart_async.open(
        DEFAULT_ONNX, properties={"PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}
    ) as s:
        assert s.info["properties"]["PERFORMANCE_HINT"] == "LATENCY"
        assert s.info["properties"]["ENABLE_CPU_PINNING"] == "NO"


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"num_streams": 2}, "upper-case"),
        ({"": 1}, "upper-case"),
        ({"NUM STREAMS": 1}, "upper-case"),
        ({"NUM_STREAMS": [1]}, "give a string or a number"),
        ({"NUM_STREAMS": float("nan")}, "not a usable value"),
        ({"NUM_STREAMS": ""}, "empty"),
        ([("NUM_STREAMS", 1)], "must be a mapping"),
    ],
)
def test_bad_properties_are_value_errors(tiny, properties, message):
    with pytest.raises(ValueError, match=message):
        vart_async.open(tiny, properties=properties)


# -- config files --------------------------------------------------------------------------------------
@pytest.mark.openvino
@needs_openvino
def test_dump_then_load_config_round_trips(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(
        capsys,
        DEFAULT_ONNX,
        "-d",
        "-n",
        "4",
        "--hint",
        "latency",
        "--threads",
        "1",
        "--property",
        "ENABLE_CPU_PINNING=NO",
        "--dump-config",
        "a.json",
        "--json",
        "a-r.json",
    )
    assert code == 0, err
    dumped = json.loads(Path("a.json").read_text())
    assert list(dumped) == ["CPU"]
    assert dumped["CPU"]["PERFORMANCE_HINT"] == "LATENCY"
    assert dumped["CPU"]["INFERENCE_NUM_THREADS"] == "1"
    code, _, err = run(
        capsys,
        DEFAULT_ONNX,
        "-d",
        "-n",
        "4",
        "--load-config",
        "a.json",
        "--dump-config",
        "b.json",
        "--json",
        "b-r.json",
    )
    assert code == 0, err
    assert json.loads(Path("b.json").read_text()) == dumped
    first, second = (
        json.loads(Path(f).read_text())["configuration"]["properties"] for f in ("a-r.json", "b-r.json")
    )
    assert first == second


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not a JSON file"),
        ("[1, 2]", "must hold an object of device"),
        ('{"GPU": {"NUM_STREAMS": "1"}}', "has no entry for device CPU"),
        ('{"CPU": {"lower": "1"}}', "upper-case"),
        ('{"CPU": {"NUM_STREAMS": {"nested": 1}}}', "give a string or a number"),
        ("[" * 100_000 + "]" * 100_000, "is not a JSON file"),
    ],
)
def test_bad_config_files_are_clear_errors(capsys, tmp_path, monkeypatch, content, message):
    monkeypatch.chdir(tmp_path)
    Path("c.json").write_text(content)
    code, out, err = run(capsys, DEFAULT_ONNX, "-d", "--engine", "openvino", "--load-config", "c.json")
    assert code == 1
    assert message in err
    assert "Traceback" not in err + out


def test_bad_config_paths_and_properties_are_clear_errors(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv, message in [
        (["--load-config", "."], "not a regular file"),
        (["--load-config", "missing.json"], "not a regular file"),
        (["--property", "NOEQUALS"], "needs KEY=VALUE"),
        (["--property", "=1"], "needs KEY=VALUE"),
        (["--property", "lower=1"], "upper-case"),
        (["--dump-config", "no/such/dir/x.json"], "cannot write --dump-config"),
        (["--percentiles", "50,200"], "(0, 100]"),
        (["--percentiles", "50,50"], "given twice"),
        (["--percentiles", "nan"], "(0, 100]"),
        (["--percentiles", "x"], "numbers separated by commas"),
        (["--streams", "0"], "--streams must be a positive integer, auto or numa"),
    ]:
        code, out, err = run(capsys, DEFAULT_ONNX, "-d", "-n", "2", *argv)
        assert code == 1, argv
        assert message in err, (argv, err)
        assert "Traceback" not in err + out


# -- a fair sync baseline ------------------------------------------------------------------------------
@pytest.mark.openvino
@needs_openvino
def test_the_sync_pass_is_compiled_for_latency_unless_the_hint_was_given(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, DEFAULT_ONNX, "-d", "--benchmark", "-n", "50", "--json", "r.json")
    assert code == 0
    doc = json.loads(Path("r.json").read_text())
    assert doc["configuration"]["properties"]["PERFORMANCE_HINT"] == "THROUGHPUT"
    assert doc["sync_configuration"]["properties"]["PERFORMANCE_HINT"] == "LATENCY"
    assert "compiled for it as a sync user would" in doc["speedup_basis"]
    assert "Compiled (sync)    : hint LATENCY" in out
    code, _, _ = run(
        capsys, DEFAULT_ONNX, "-d", "--benchmark", "-n", "50", "--hint", "throughput", "--json", "r.json"
    )
    doc = json.loads(Path("r.json").read_text())
    assert code == 0
    assert "sync_configuration" not in doc
    assert doc["speedup_basis"] == "async throughput / sync throughput, same compiled model"
    # --mode sync alone: one pass, sync, on the latency-compiled model (benchmark_app -api sync)
    code, out, _ = run(capsys, DEFAULT_ONNX, "-d", "--mode", "sync", "-n", "30", "--json", "r.json")
    doc = json.loads(Path("r.json").read_text())
    assert code == 0
    assert "sync" in doc
    assert "completed" not in doc
    assert doc["sync"]["completed"] == 30
    assert doc["sync"]["max_in_flight"] == 1
    assert doc["configuration"]["properties"]["PERFORMANCE_HINT"] == "LATENCY"
    assert "Async" not in out


# -- inputs ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "bfloat16"])
def test_fill_random_has_no_non_finite_or_denormal_values(dtype):
    rng = np.random.default_rng(0)
    bf16 = dtype == "bfloat16"
    x = _inputs.random_like(rng, (200_000,), np.dtype("uint16" if bf16 else dtype), bf16)
    values = (x.astype(np.uint32) << 16).view(np.float32) if bf16 else x
    assert np.isfinite(values).all()
    tiny = np.finfo(np.float32 if bf16 else dtype).smallest_normal
    assert not ((values != 0) & (np.abs(values) < tiny)).any()
    assert values.min() >= 0
    assert values.max() < 1
    assert values.astype(np.float64).std() > 0.2


def test_fill_random_by_dtype_for_every_slot(tiny):
    with vart_async.open(tiny, jobs=3) as s:
        s.fill_random(seed=5)
        first = [[a.copy() for a in slot.inputs] for slot in s.slots]
        assert not np.array_equal(first[0][0], first[1][0])  # each slot its own values
        s.fill_random(seed=5)
        assert all(
            np.array_equal(a, b)
            for f, slot in zip(first, s.slots, strict=False)
            for a, b in zip(f, slot.inputs, strict=False)
        )
        for bad in (-1, 1.5, "0", True):
            with pytest.raises(ValueError, match="seed"):
                s.fill_random(bad)


def test_run_cycles_frames_through_the_slots(tiny):
    with vart_async.open(tiny, jobs=2) as s:
        spec = s.inputs
        frames = [[np.full(t.shape, i, t.numpy_dtype) for t in spec] for i in range(3)]
        r = s.run(7, frames=frames)
        assert r.completed == 7
        for bad, message in [
            ([], "non-empty"),
            (np.zeros(3), "non-empty"),
            ([[np.zeros(3)]], "array(s); the model has"),
            ([[np.zeros(t.shape, np.float64) for t in spec]], "needs a C-contiguous"),
            (
                [[np.asfortranarray(np.zeros((*t.shape, 2), t.numpy_dtype))[..., 0] for t in spec]],
                "C-contiguous",
            ),
            ([[1, 2]], "is not a numpy array"),
        ]:
            with pytest.raises(ValueError, match=re.escape(message)):
                s.run(1, frames=bad)


@pytest.mark.openvino
@needs_openvino
def test_input_data_npy_a_directory_of_images_and_verify(capsys, tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    np.save("frames.npy", rng.random((5, 3, 32, 32)).astype(np.float32))
    code, out, err = run(capsys, DEFAULT_ONNX, "--input-data", "frames.npy", "-n", "12", "--json", "r.json")
    assert code == 0, err
    assert "5 row(s), 5 frame(s), a different one per job" in out
    assert json.loads(Path("r.json").read_text())["input"]["frames"] == 5
    Path("images").mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8)).save(f"images/{i}.png")
    Path("images/notes.jpg").write_bytes(b"not an image")
    code, out, err = run(capsys, DEFAULT_ONNX, "--input-data", "images", "-n", "6")
    assert code == 1
    assert "cannot read images/notes.jpg" in err
    assert "Traceback" not in err
    Path("images/notes.jpg").unlink()
    code, out, err = run(capsys, DEFAULT_ONNX, "--input-data", "images", "-n", "6", "--verify")
    assert code == 0, err
    assert "3 row(s), 3 frame(s)" in out
    assert "bit-identical" in out


def test_input_data_frames_match_the_images(tmp_path):
    from PIL import Image

    class Spec:
        name, dtype, shape, layout, nbytes = "x", "float32", (2, 3, 8, 6), "NCHW", 2 * 3 * 8 * 6 * 4
        numpy_dtype = np.dtype(np.float32)
        row_nbytes = nbytes // 2

    pixels = np.arange(8 * 6 * 3, dtype=np.uint8).reshape(8, 6, 3)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    frames, source = _inputs.load_frames(str(tmp_path / "a.png"), [Spec()], 2)  # type: ignore[list-item]
    assert source["rows"] == 1
    assert len(frames) == 1
    (x,) = frames[0]
    assert x.shape == (2, 3, 8, 6)
    assert np.array_equal(x[0], pixels.transpose(2, 0, 1).astype(np.float32))
    assert np.array_equal(x[1], x[0])  # the batch is filled by cycling


def test_bad_input_data_is_a_clear_error(capsys, tiny, tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros(7, np.float32))
    np.save(tmp_path / "nan.npy", np.full((2, 16), np.nan, np.float32))
    (tmp_path / "empty").mkdir()
    for argv, message in [
        (["--input-data", "nope.npy"], "does not exist"),
        (["--input-data", str(tmp_path / "empty")], "has no files"),
        (["--input-data", str(tmp_path / "wrong.npy")], "give .npz files with one array per input"),
        (["--input-data", str(tmp_path / "wrong.npy"), "-d"], "goes without --input-binary or --dry-run"),
    ]:
        code, out, err = run(capsys, tiny, *argv)
        assert code == 1, argv
        assert message in err, (argv, err)
        assert "Traceback" not in err + out


def test_percentiles_are_reported_as_asked(capsys, tiny):
    code, out, _ = run(capsys, tiny, "-d", "-n", "30", "--percentiles", "50,95,99.9", "--json", "r.json")
    assert code == 0
    doc = json.loads(Path("r.json").read_text())
    assert list(doc["latency_ms"]) == ["min", "mean", "p50", "p95", "p99.9", "max"]
    assert doc["percentiles"] == [50, 95, 99.9]
    assert "p99.9 " in out
    assert check_percentiles([99.99]) == (99.99,)
