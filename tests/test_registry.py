"""The engine registry drives everything engine-specific on the Python side: loading, the auto
choice, available_engines(), the CLI's flags, checks and ownership errors, an engine's default
options and the default model. A third engine is one more record (here a fake one, registered in a
monkeypatched registry, that runs on the VART module under another name)."""

from __future__ import annotations

import dataclasses
import types
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import vart_async
from _cli_helpers import DEFAULT_ONNX, DEMO, run  # tests/ is on pythonpath
from vart_async import _engines, _registry, cli
from vart_async._registry import EngineOption, EngineRecord

LEVELS = ("ERROR", "WARNING", "INFO", "DEBUG")


def _level(text: str) -> str:
    if text.upper() not in LEVELS:
        raise ValueError(f"must be one of {', '.join(LEVELS)} (got '{text}').")
    return text.upper()


FAKE = EngineRecord(
    name="fake",
    title="Fake",
    module="vart_async._vart",  # a real engine module under a third name
    install_hint="pip install fake-runtime",
    suffixes=(".fake",),
    options=(EngineOption("log_level", "fake: runtime log level", "LEVEL", check=_level),),
    defaults=lambda jobs: {"input_tensor_type": "CPU"},
)

# One input with a CPU view only: the VART engine's default (HW) cannot open it, the fake's (CPU) can.
CPU_ONLY = [
    {
        "name": "a",
        "data_type": "UINT8",
        "shape": [1, 8],
        "layout": "NC",
        "cpu": {"data_type": "FLOAT32", "shape": [1, 8], "layout": "NC"},
        "hw": False,
    }
]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> EngineRecord:
    monkeypatch.setitem(_registry.RECORDS, "fake", FAKE)
    return FAKE


# -- the CLI's flags --------------------------------------------------------------------------------
def test_a_registered_engine_brings_its_flags(capsys, fake):
    help_text = cli.build_parser().format_help()
    assert "Fake engine options:" in help_text
    assert "--log-level LEVEL" in help_text
    assert "fake: runtime log level" in help_text
    assert ".fake (fake)" in help_text  # --model-path says what it runs
    args = cli.build_parser().parse_args(["--engine", "fake", "--log-level", "info"])
    assert (args.engine, args.log_level) == ("fake", "info")


def test_without_the_record_there_is_no_flag(capsys):
    code, _, err = run(capsys, "--log-level", "info")
    assert code == 1
    assert err.startswith("Error: unrecognized arguments: --log-level")
    code, _, err = run(capsys, "--engine", "fake")
    assert code == 1
    assert err.startswith("Error: argument --engine: invalid choice: 'fake'")


def test_every_option_of_every_record_is_a_flag():
    parser = cli.build_parser()
    flags = {s: a for a in parser._actions for s in a.option_strings}
    for record in _registry.records():
        for option in record.options:
            action = flags[option.flag]
            assert action.dest == option.key
            assert action.help == option.help
            assert action.metavar == option.metavar
            assert action.choices == option.choices


def test_an_option_names_the_engine_it_belongs_to(capsys, fake, descriptor, tiny):
    code, _, err = run(capsys, tiny, "-d", "--log-level", "info")
    assert code == 1
    assert err == "Error: --log-level is an option of the fake engine; this run uses the vart engine\n"
    model = descriptor("model.fake", inputs=CPU_ONLY)
    code, _, err = run(capsys, model, "-d", "--device", "GPU")
    assert code == 1
    assert err == "Error: --device is an option of the openvino engine; this run uses the fake engine\n"
    code, _, err = run(capsys, model, "-d", "--input-tensor-type", "HW")
    assert err == (
        "Error: --input-tensor-type is an option of the vart engine; this run uses the fake engine\n"
    )


def test_a_record_checks_its_flag(capsys, fake, tiny):
    code, out, err = run(capsys, tiny, "-d", "--log-level", "loud")
    assert code == 1
    assert err == "[ERROR] --log-level must be one of ERROR, WARNING, INFO, DEBUG (got 'loud').\n"
    assert out.startswith("Mode               : dry-run")


def test_a_registered_engine_runs_from_the_cli(capsys, fake, descriptor, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = descriptor("model.fake", inputs=CPU_ONLY)
    code, out, err = run(capsys, model, "-d", "-n", "2", "--log-level", "error")
    assert (code, err) == (0, "")
    assert "Engine             : fake — " in out
    assert "2 / 2 jobs completed" in out


# -- auto choice, unknown engines, loading ----------------------------------------------------------
def test_auto_chooses_by_the_registry_suffixes(fake, tmp_path):
    assert _engines.choose("model.fake", "auto") == "fake"
    assert _engines.choose("MODEL.FAKE", "auto") == "fake"
    assert _engines.choose("model.onnx", "auto") == "openvino"
    assert _engines.choose("model.json", "auto") == "vart"
    assert _engines.choose(tmp_path, "auto") == "vart"  # the record that takes directories
    with pytest.raises(ValueError, match="cannot tell") as e:
        _engines.choose("model.bin", "auto")
    assert str(e.value).endswith(
        "use engine='vart' (.rai, model cache directory, emulator .json descriptor), "
        "engine='openvino' (.onnx, .xml) or engine='fake' (.fake)"
    )


def test_unknown_engines_are_told_the_registry_names(fake, tmp_path):
    message = "unknown engine 'tpu': choose one of auto, vart, openvino, fake"
    with pytest.raises(ValueError, match=message):
        _engines.load("tpu")
    with pytest.raises(ValueError, match=message):
        vart_async.open(DEMO, engine="tpu")
    assert set(vart_async.available_engines()) == {"vart", "openvino", "fake"}


def test_a_missing_module_says_how_to_get_it(monkeypatch, descriptor):
    monkeypatch.setitem(
        _registry.RECORDS, "fake", dataclasses.replace(FAKE, module="vart_async._no_such_engine")
    )
    with pytest.raises(vart_async.EngineUnavailableError, match="Fake engine unavailable: pip install fake"):
        _engines.load("fake")
    status = vart_async.available_engines()["fake"]
    assert not status.available
    assert "pip install fake-runtime" in status.detail
    with pytest.raises(vart_async.EngineUnavailableError):
        vart_async.open(descriptor("model.fake"))


# -- defaults -------------------------------------------------------------------------------------
def test_a_record_defaults_apply_unless_given(fake, descriptor):
    model = descriptor("model.fake", inputs=CPU_ONLY)
    with vart_async.open(model) as s:
        assert s.engine == "fake"
        assert s.info["properties"]["input_tensor_type"] == "CPU"
        assert s.inputs[0].dtype == "float32"
    with pytest.raises(vart_async.EngineError, match="no HW view"):
        vart_async.open(model, input_tensor_type="HW")  # what the caller gives wins
    with pytest.raises(vart_async.EngineError, match="no HW view"):
        vart_async.open(descriptor("model.json", inputs=CPU_ONLY))  # the VART record's default: HW


def _capturing(monkeypatch: pytest.MonkeyPatch, name: str) -> dict[str, str]:
    """Replaces engine `name`'s loader by a module whose create() keeps the options it was given."""
    seen: dict[str, str] = {}

    def create(path: str, options: dict[str, str]) -> Any:
        seen.update(options)
        return "capsule"

    module = types.ModuleType("capturing")
    module.create = create  # type: ignore[attr-defined]
    record = dataclasses.replace(_registry.RECORDS[name], loader=lambda record: module)
    monkeypatch.setitem(_registry.RECORDS, name, record)
    return seen


def test_the_engines_own_defaults(monkeypatch, tmp_path):
    onnx, emu = tmp_path / "m.onnx", tmp_path / "m.json"
    onnx.write_bytes(b"")
    emu.write_bytes(b"")
    seen = _capturing(monkeypatch, "openvino")
    assert _engines.create(onnx, "auto", {}, jobs=3) == ("openvino", "capsule")
    assert seen == {"num_requests": "3"}  # as benchmark_app's -nireq
    seen.clear()
    _engines.create(onnx, "auto", {"num_requests": 7, "hint": "latency"}, jobs=3)
    assert seen == {"num_requests": "7", "hint": "latency"}
    seen = _capturing(monkeypatch, "vart")
    _engines.create(emu, "auto", {"input_tensor_type": "cpu"}, jobs=2)
    assert seen == {"input_tensor_type": "cpu", "output_tensor_type": "HW", "completion": "callback"}


# -- the default model ------------------------------------------------------------------------------
def test_the_default_model_follows_the_ranks(monkeypatch):
    ranked = dataclasses.replace(FAKE, default_model=DEMO.name, default_rank=5)
    monkeypatch.setitem(_registry.RECORDS, "fake", ranked)

    def engines(fake_available: bool) -> Any:
        def available() -> dict[str, vart_async.EngineStatus]:
            return {
                "fake": vart_async.EngineStatus("fake", fake_available, True, ""),
                "openvino": vart_async.EngineStatus("openvino", True, False, ""),
            }

        return available

    monkeypatch.setattr(vart_async, "available_engines", engines(True))
    assert cli.default_model() == (DEMO, "fake")
    monkeypatch.setattr(vart_async, "available_engines", engines(False))
    assert cli.default_model() == (DEFAULT_ONNX, "openvino")
    assert cli.default_model("fake") == (DEMO, "fake")


def test_an_engine_without_a_default_model(capsys, fake):
    code, _, err = run(capsys, "--engine", "fake", "-n", "1")
    assert code == 1
    assert err == "Error: the fake engine has no embedded default model: give one with --model-path\n"


# -- the records themselves -------------------------------------------------------------------------
def test_the_records_are_consistent():
    package = Path(str(resources.files("vart_async")))
    flags: set[str] = set()
    suffixes: set[str] = set()
    for name, record in _registry.RECORDS.items():
        assert record.name == name
        assert record.title
        assert record.install_hint
        assert record.module.startswith("vart_async._")
        stub = package / (record.module.rsplit(".", 1)[1] + ".pyi")
        assert stub.is_file(), f"{record.module} ships without its stub {stub.name}"
        for option in record.options:
            assert option.flag not in flags, f"{option.flag} belongs to two engines"
            flags.add(option.flag)
        for suffix in record.suffixes:
            assert suffix.startswith(".")
            assert suffix == suffix.lower()
            assert suffix not in suffixes, f"engine='auto' cannot tell which engine runs {suffix}"
            suffixes.add(suffix)
        if record.default_model is not None:
            assert (package / "models" / record.default_model).is_file()
    assert any(r.default_model for r in _registry.records())  # the CLI runs without a model
    assert sum(r.directories for r in _registry.records()) <= 1
