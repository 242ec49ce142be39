"""Per-tensor tensor types (`input_tensor_type.<name>`, `output_tensor_type.<name>`): each slot
buffer is sized from the view its tensor is exchanged in, and jobs run; the CLI's form of them
(`--input-tensor-type CPU,image=HW`)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import vart_async
from _cli_helpers import run  # tests/ is on pythonpath

RESNET = Path(str(resources.files("vart_async") / "models" / "resnet50_int8.emu.json"))


def test_one_cpu_typed_input_on_the_shipped_descriptor():
    with vart_async.open(RESNET, **{"input_tensor_type.input": "CPU"}) as s:
        spec = s.inputs[0]
        assert (spec.dtype, spec.shape, spec.layout) == ("float32", (1, 3, 224, 224), "NCHW")
        assert s.outputs[0].dtype == "int8"  # the output keeps the global HW type
        assert s.info["properties"]["input_tensor_type.input"] == "CPU"
        r = s.run(iterations=4)
        assert r.completed == 4
        image = np.random.default_rng(1).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
        cpu_typed = next(iter(s.stream([image])))[0]
    with vart_async.open(RESNET) as hw:  # the same job, quantized by us into the HW view
        want = next(iter(hw.stream([hw.quantize("input", image)])))[0]
    np.testing.assert_array_equal(cpu_typed, want)


def test_mixed_types_per_tensor(descriptor):
    ins = [
        {"name": "a", "data_type": "UINT8", "shape": [1, 8], "layout": "NC",
         "quant": {"scale": 0.5, "zero_point": 0}, "cpu": {"data_type": "FLOAT32"}},
        {"name": "b", "data_type": "BF16", "shape": [1, 4], "layout": "NC", "cpu": {"data_type": "FLOAT32"}},
    ]
    outs = [
        {"name": "y", "data_type": "INT8", "shape": [1, 6], "layout": "NC",
         "quant": {"scale": 0.25, "zero_point": 1}, "cpu": {"data_type": "FLOAT32"}},
        {"name": "z", "data_type": "FLOAT32", "shape": [1, 3], "layout": "NC"},
    ]
    model = descriptor(inputs=ins, outputs=outs)
    types = {"input_tensor_type.b": "CPU", "output_tensor_type.y": "CPU"}
    with vart_async.open(model, jobs=2, **types) as s:
        assert [t.dtype for t in s.inputs] == ["uint8", "float32"]
        assert [t.dtype for t in s.outputs] == ["float32", "float32"]
        assert [t.nbytes for t in s.inputs] == [2 * 8, 2 * 4 * 4]
        assert s.run(iterations=6).completed == 6
    with pytest.raises(vart_async.EngineError, match="no input tensor named 'nope'"):
        vart_async.open(model, **{"input_tensor_type.nope": "CPU"})
    with pytest.raises(ValueError, match="must be 'HW' or 'CPU'"):
        vart_async.open(model, **{"input_tensor_type.a": "GPU"})


# -- the CLI form: --input-tensor-type TYPE,NAME=TYPE ----------------------------------------------
MIXED_INPUTS = [
    {"name": "a", "data_type": "UINT8", "shape": [1, 8], "layout": "NC",
     "quant": {"scale": 0.5, "zero_point": 0}, "cpu": {"data_type": "FLOAT32"}},
    {"name": "b", "data_type": "BF16", "shape": [1, 4], "layout": "NC", "cpu": {"data_type": "FLOAT32"}},
]
MIXED_OUTPUTS = [
    {"name": "y", "data_type": "INT8", "shape": [1, 6], "layout": "NC",
     "quant": {"scale": 0.25, "zero_point": 1}, "cpu": {"data_type": "FLOAT32"}},
    {"name": "z", "data_type": "FLOAT32", "shape": [1, 3], "layout": "NC"},
]


@pytest.fixture
def mixed(descriptor, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return str(descriptor(inputs=MIXED_INPUTS, outputs=MIXED_OUTPUTS))


@pytest.mark.parametrize(
    ("flags", "row", "properties"),
    [
        # a default and an exception: b float32 (CPU, 16 bytes), a uint8 (HW, 8 bytes)
        (["--input-tensor-type", "cpu,a=hw"], "24 bytes (a 8 + b 16)",
         {"input_tensor_type": "CPU", "input_tensor_type.a": "HW", "output_tensor_type": "HW"}),
        # pairs only: the others keep the default HW (b bf16, 8 bytes; y float32 CPU)
        (["--input-tensor-type", "a=CPU", "--output-tensor-type", "y=CPU"], "40 bytes (a 32 + b 8)",
         {"input_tensor_type": "HW", "input_tensor_type.a": "CPU", "output_tensor_type.y": "CPU"}),
        (["--input-tensor-type", " a = CPU , b=CPU"], "48 bytes (a 32 + b 16)",
         {"input_tensor_type.a": "CPU", "input_tensor_type.b": "CPU"}),
    ],
)
def test_cli_per_tensor_types_reach_the_engine_and_the_reports(capsys, mixed, flags, row, properties):
    code, out, err = run(capsys, mixed, "-d", "-n", "3", *flags, "--json", "r.json")
    assert (code, err) == (0, "")
    assert f"Input row          : {row}; batch 2" in out
    settings = next(line for line in out.splitlines() if line.startswith("Runtime settings"))
    for key, value in properties.items():
        assert f"{key}={value}" in settings
    doc = json.loads(Path("r.json").read_text())
    assert properties.items() <= doc["properties"].items()
    assert doc["completed"] == 3


def test_cli_per_tensor_types_match_the_api(capsys, mixed):
    """The CLI's CPU,a=HW is the API's input_tensor_type=CPU plus input_tensor_type.a=HW."""
    code, _, _ = run(capsys, mixed, "-d", "-n", "1", "--input-tensor-type", "CPU,a=HW", "--json", "r.json")
    assert code == 0
    with vart_async.open(mixed, **{"input_tensor_type": "CPU", "input_tensor_type.a": "HW"}) as s:
        api = {k: str(v) for k, v in s.info["properties"].items()}
        assert [t.dtype for t in s.inputs] == ["uint8", "float32"]
    assert json.loads(Path("r.json").read_text())["properties"] == api


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("input", "nope=CPU",
         "option 'input_tensor_type.nope': the model has no input tensor named 'nope' "
         "(its inputs: 'a', 'b')"),
        ("output", "HW,a=CPU",
         "option 'output_tensor_type.a': the model has no output tensor named 'a' (its outputs: 'y', 'z')"),
    ],
)
def test_cli_unknown_tensor_name_is_a_clear_error(capsys, mixed, flag, value, message):
    code, _, err = run(capsys, mixed, "-d", f"--{flag}-tensor-type", value)
    assert code == 1
    assert err.startswith("Error: ")
    assert message in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a=NPU", "a=NPU: must be 'HW' or 'CPU' (got 'NPU')."),
        ("CPU,HW", "has 2 default types (CPU, HW): give one, and NAME=TYPE for the others."),
        ("a=CPU,a=HW", "gives tensor 'a' two types."),
        ("=CPU", "has a type without a tensor name: '=CPU'"),
        ("CPU,", "has an empty item (got 'CPU,'"),
        ("CPU,,a=HW", "has an empty item"),
    ],
)
def test_cli_bad_per_tensor_form(capsys, mixed, value, message):
    code, out, err = run(capsys, mixed, "-d", "--input-tensor-type", value)
    assert code == 1
    assert err.startswith(f"[ERROR] --input-tensor-type {message}")
    assert "Traceback" not in err
    assert "Engine" not in out  # refused before the model is opened


def test_cli_help_shows_the_per_tensor_form(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "--input-tensor-type TYPE[,NAME=TYPE...]" in text
    assert "CPU,image=HW or image=CPU" in text
