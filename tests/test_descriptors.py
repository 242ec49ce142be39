"""Bad models: every error names the file and the field, exits cleanly."""

from __future__ import annotations

import pytest

import vart_async


def test_missing_file(tmp_path):
    with pytest.raises(vart_async.ModelNotFoundError, match="does not exist"):
        vart_async.open(tmp_path / "nope.json")


def test_bad_json(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{ not json")
    with pytest.raises(vart_async.EngineError, match=r"bad\.json.*JSON"):
        vart_async.open(p)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"inputs": [{"name": "a", "data_type": "INT9", "shape": [1, 4], "layout": "NC"}]},
            r"inputs\[0\]\.data_type",
        ),
        (
            {"inputs": [{"name": "a", "data_type": "INT8", "shape": [1, 0], "layout": "NC"}]},
            r"inputs\[0\]\.shape",
        ),
        (
            {"outputs": [{"name": "y", "data_type": "INT8", "shape": [1, 4], "layout": "NOPE"}]},
            r"outputs\[0\]\.layout",
        ),
        ({"batch_size": 0}, "batch_size"),
        ({"execution_slots": "two"}, "execution_slots"),
    ],
)
def test_bad_field_is_named(descriptor, changes, field):
    path = descriptor(**changes)
    with pytest.raises(vart_async.EngineError, match=field) as info:
        vart_async.open(path)
    assert path.name in str(info.value)


@pytest.mark.parametrize(
    ("stragglers", "message"),
    [
        ({"every": 1, "factor": 8}, r"faults\.stragglers\.every: must be >= 2 \(got 1\)"),
        ({"every": 4, "factor": 0}, r"faults\.stragglers\.factor: must be a number in \(0, 1000\] \(got 0\)"),
        ({"every": 4, "factor": -1.5}, r"faults\.stragglers\.factor: must be a number in \(0, 1000\]"),
        ({"every": 4, "factor": 1e4}, r"faults\.stragglers\.factor: must be a number in \(0, 1000\]"),
        ({"every": 4, "factor": True}, r"faults\.stragglers\.factor: must be a number \(got boolean"),
        ({"every": "4", "factor": 8}, r"faults\.stragglers\.every: must be an integer"),
        ({"every": 4}, r"faults\.stragglers: missing required key 'factor'"),
        (
            {"every": 4, "factor": 8, "first": 2},
            r"faults\.stragglers\.first: unknown key \(expected one of: every, factor\)",
        ),
        ([4, 8], r"faults\.stragglers: must be an object"),
    ],
)
def test_bad_stragglers_are_refused_naming_the_field(descriptor, stragglers, message):
    path = descriptor(faults={"stragglers": stragglers})
    with pytest.raises(vart_async.EngineError, match=message) as info:
        vart_async.open(path)
    assert path.name in str(info.value)


def test_missing_key_is_named(descriptor, tmp_path):
    import json

    body = json.loads(descriptor().read_text())
    del body["compute_units"]
    p = tmp_path / "m.json"
    p.write_text(json.dumps(body))
    with pytest.raises(vart_async.EngineError, match="compute_units"):
        vart_async.open(p)


def test_compiled_model_is_refused_clearly(tmp_path):
    rai = tmp_path / "resnet50.rai"
    rai.write_bytes(b"\0" * 64)
    with pytest.raises(vart_async.EngineError, match="emulator cannot run compiled models"):
        vart_async.open(rai)
    cache = tmp_path / "model_cache"
    cache.mkdir()
    with pytest.raises(vart_async.EngineError, match="emulator cannot run compiled models"):
        vart_async.open(cache)


def test_tensor_type_option(descriptor):
    with pytest.raises(ValueError, match="HW"):
        vart_async.open(descriptor(), input_tensor_type="GPU")
    cpu = {"data_type": "FLOAT32", "shape": [1, 8], "layout": "NC"}
    ins = [
        {"name": "a", "data_type": "UINT8", "shape": [1, 8], "layout": "NC", "cpu": cpu, "hw": False},
    ]
    path = descriptor(inputs=ins)
    with pytest.raises(vart_async.EngineError, match="no HW view"):
        vart_async.open(path)
    with vart_async.open(path, input_tensor_type="cpu") as s:
        assert s.inputs[0].dtype == "float32"
        assert s.inputs[0].shape == (2, 8)


def test_unknown_engine_and_model_kind(tmp_path):
    p = tmp_path / "model.bin"
    p.write_bytes(b"x")
    with pytest.raises(ValueError, match="cannot tell which engine"):
        vart_async.open(p)
    with pytest.raises(ValueError, match="unknown engine"):
        vart_async.open(p, engine="tpu")
