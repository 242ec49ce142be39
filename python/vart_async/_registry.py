"""The engine registry: one record per engine, the only place on the Python side that names engines.

The loader, engine="auto", the install hints, `available_engines()`, the CLI's --engine choices and
engine flags, and the options an engine gets by default all read these records, so adding an engine
is its C++ side plus one record in RECORDS (docs/extending.md).

Records are looked up when used, never copied at import time: a test can add one with
`monkeypatch.setitem(RECORDS, ...)` and every consumer sees it. Nothing here imports an engine
module (`import vart_async` must work with no runtime installed).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from vart_async._errors import EngineUnavailableError


@dataclass(frozen=True)
class EngineOption:
    """An engine option the CLI offers as a flag: `key` is the option's name (the engine's, and the
    flag's argparse dest), the flag is `--` + key with dashes. Flags belong to one engine only."""

    key: str
    help: str
    metavar: str | None = None
    type: Callable[[str], Any] | None = None  # argparse's type=
    choices: tuple[str, ...] | None = None
    # Checks and normalises the flag's text after parsing, so that its message comes out in the
    # sample's `[ERROR] <flag> ...` form and order; raises ValueError("<rest of the message>").
    check: Callable[[str], str] | None = None
    # The engine options the checked text stands for (default: {key: text}); a flag may stand for
    # several, as --input-tensor-type CPU,image=HW does for input_tensor_type and input_tensor_type.image.
    expand: Callable[[str, str], dict[str, str]] | None = None

    def options(self, value: Any) -> dict[str, Any]:
        """The engine options the flag's (checked) value stands for."""
        return self.expand(self.key, value) if self.expand is not None else {self.key: value}

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


def _no_defaults(jobs: int | None) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class EngineRecord:
    """Everything the Python side knows about one engine."""

    name: str  # engine="<name>", --engine <name>; what sessions and reports call it
    title: str  # in messages: "<title> engine unavailable: ...", "<title> engine options"
    module: str  # its extension module (csrc/py/module_<name>.cpp), shipped with a .pyi stub
    install_hint: str  # how to get the engine when its module is not in this build
    suffixes: tuple[str, ...] = ()  # model suffixes (lower case) that engine="auto" gives it
    directories: bool = False  # engine="auto" gives it models that are directories
    models: str = ""  # what it runs, in the "cannot tell" message (default: its suffixes)
    options: tuple[EngineOption, ...] = ()  # the CLI's flags for it (the API takes any option)
    cli_group: str = ""  # the --help group of its flags (default: "<title> engine options")
    # Options the engine gets unless the caller gave them, from the number of job slots (None: the
    # session takes as many as the engine says are optimal, jobs="auto").
    defaults: Callable[[int | None], Mapping[str, Any]] = _no_defaults
    # Imports the module or raises EngineUnavailableError; None: import_engine().
    loader: Callable[[EngineRecord], ModuleType] | None = None
    default_model: str | None = None  # an embedded model (vart_async/models/) for the CLI
    # Without a model the CLI runs the default model of the highest-ranked available engine; the
    # lowest-ranked one is the fallback, taken without asking (its error then says what is missing).
    default_rank: int = 0
    emulated_detail: str = ""  # status detail of an emulated engine whose module has no DESCRIPTION
    # A sync baseline compiled the way a sync user would (OpenVINO: {"hint": "latency"}), used
    # unless the caller fixed one of `tuning` or gave raw properties.
    sync_options: Mapping[str, Any] = field(default_factory=dict)
    tuning: tuple[str, ...] = ()

    def describe_models(self) -> str:
        return self.models or ", ".join(self.suffixes + (("directory",) if self.directories else ()))


def unavailable(record: EngineRecord, why: str | None = None) -> EngineUnavailableError:
    return EngineUnavailableError(f"{record.title} engine unavailable: {why or record.install_hint}")


def import_engine(record: EngineRecord) -> ModuleType:
    """The default loader: imports the record's module; not built -> the install hint."""
    try:
        return importlib.import_module(record.module)
    except ImportError as e:
        if "No module named" in str(e):
            raise unavailable(record) from None
        raise unavailable(record, f"its module {record.module} did not load ({e})") from None


# -- the engines --------------------------------------------------------------------------------------
def _load_vart(record: EngineRecord) -> ModuleType:
    try:
        return importlib.import_module(record.module)
    except ImportError as e:
        if "No module named" in str(e):
            raise unavailable(record) from None
        # Built against the real SDK, but libvart-ml is not on this machine.
        raise unavailable(
            record,
            f"libvart-ml could not be loaded ({e}). On the board, set LD_LIBRARY_PATH to include the "
            "vart_ml/lib folder of the Vitis AI wheels (see docs/board.md).",
        ) from None


def _hw_or_cpu(text: str) -> str:
    if text.upper() not in ("HW", "CPU"):
        raise ValueError(f"must be 'HW' or 'CPU' (got '{text}').")
    return text.upper()


_TENSOR_TYPES_FORM = "TYPE, NAME=TYPE or both, comma-separated (TYPE: HW or CPU)"


def _tensor_types(text: str) -> str:
    """`HW`, `CPU`, `NAME=TYPE` pairs, or a type and pairs (`CPU,image=HW`), any case: normalised
    to upper-case types, the default first. ValueError says what is wrong."""
    items = text.split(",")
    if len(items) == 1 and "=" not in text:
        return _hw_or_cpu(text)  # the sample's form and message
    default: list[str] = []
    pairs: dict[str, str] = {}
    for item in items:
        name, eq, kind = item.strip().rpartition("=")
        if not item.strip():
            raise ValueError(f"has an empty item (got '{text[:80]}'; the form is {_TENSOR_TYPES_FORM}).")
        if not eq:
            default.append(_hw_or_cpu(kind))
            continue
        name = name.strip()
        if not name:
            raise ValueError(
                f"has a type without a tensor name: '{item.strip()[:80]}' (the form is {_TENSOR_TYPES_FORM})."
            )
        if name in pairs:
            raise ValueError(f"gives tensor '{name[:80]}' two types.")
        try:
            pairs[name] = _hw_or_cpu(kind.strip())
        except ValueError as e:
            raise ValueError(f"{name[:80]}={kind[:40]}: {e}") from None
    if len(default) > 1:
        raise ValueError(
            f"has {len(default)} default types ({', '.join(default)}): "
            "give one, and NAME=TYPE for the others."
        )
    return ",".join(default + [f"{n}={t}" for n, t in pairs.items()])


def _tensor_type_options(key: str, text: str) -> dict[str, str]:
    """The checked `--input-tensor-type` text as engine options: the default under `key`, each
    NAME=TYPE as `key.NAME` (the VART per-tensor option)."""
    out: dict[str, str] = {}
    for item in text.split(","):
        name, eq, kind = item.rpartition("=")
        out[f"{key}.{name}" if eq else key] = kind
    return out


#: How the VART engine learns that a job finished: "callback" (the execute_async callback overload
#: reports it, jobs are collected in completion order) or "poll" (Runner::wait on the oldest job,
#: as vart_infer_async does). The default is the one measured faster (docs/benchmarks.md).
VART_DEFAULT_COMPLETION = "callback"


def _vart_defaults(jobs: int | None) -> dict[str, Any]:
    # The sample's defaults, said here rather than left to the runtime so that every caller sees them.
    return {"input_tensor_type": "HW", "output_tensor_type": "HW", "completion": VART_DEFAULT_COMPLETION}


def _streams(text: str) -> str:
    t = text.strip().lower()
    if t in ("auto", "numa") or (t.isdigit() and int(t) >= 1):
        return t
    raise ValueError(f"must be a positive integer, auto or numa (got '{text[:40]}').")


def _load_openvino(record: EngineRecord) -> ModuleType:
    # By name: the loader imports this module (for the install hint), not the other way round.
    try:
        loader = importlib.import_module("vart_async._openvino_loader")
    except ImportError:
        raise unavailable(record) from None
    module: ModuleType = loader.load()
    return module


def _openvino_defaults(jobs: int | None) -> dict[str, Any]:
    # As benchmark_app forwards -nireq: the hint sizes streams for the requests we keep in flight
    # (with jobs="auto", as benchmark_app without -nireq: the hint alone decides).
    return {} if jobs is None else {"num_requests": jobs}


RECORDS: dict[str, EngineRecord] = {
    "vart": EngineRecord(
        name="vart",
        title="VART",
        module="vart_async._vart",
        install_hint=(
            "this build of vart_async has no VART engine (it was built with VART_ASYNC_VART=OFF); "
            "rebuild with the default settings, or inside the Vitis AI SDK environment for the board"
        ),
        suffixes=(".rai", ".json"),
        directories=True,
        models=".rai, model cache directory, emulator .json descriptor",
        options=(
            EngineOption(
                "input_tensor_type",
                "vart: input tensor type, HW or CPU (default HW), and per tensor NAME=TYPE, "
                "comma-separated: CPU,image=HW or image=CPU",
                "TYPE[,NAME=TYPE...]",
                check=_tensor_types,
                expand=_tensor_type_options,
            ),
            EngineOption(
                "output_tensor_type",
                "vart: output tensor type, HW or CPU (default HW), and per tensor NAME=TYPE, as for "
                "--input-tensor-type",
                "TYPE[,NAME=TYPE...]",
                check=_tensor_types,
                expand=_tensor_type_options,
            ),
            EngineOption(
                "completion",
                f"vart: how finished jobs are learnt: the execute_async callback (collected as they "
                f"finish) or polling Runner::wait on the oldest (default {VART_DEFAULT_COMPLETION})",
                choices=("poll", "callback"),
            ),
        ),
        cli_group="vart_infer_async options",  # the sample's own flags: shown with its other options
        defaults=_vart_defaults,
        loader=_load_vart,
        default_model="resnet50_int8.emu.json",
        default_rank=0,
        emulated_detail="VART-ML emulator (no NPU)",
    ),
    "openvino": EngineRecord(
        name="openvino",
        title="OpenVINO",
        module="vart_async._openvino",
        install_hint="install the OpenVINO runtime: pip install 'vart-async[openvino]'",
        suffixes=(".onnx", ".xml"),
        options=(
            EngineOption("device", "device (default CPU)"),
            EngineOption(
                "hint",
                "performance hint (default throughput, benchmark_app's for async; OpenVINO's own CPU "
                "default is latency); streams, threads, pin, precision and --property given with it "
                "take precedence, as in OpenVINO",
                choices=("throughput", "latency", "cumulative_throughput", "none"),
            ),
            EngineOption("num_requests", "PERFORMANCE_HINT_NUM_REQUESTS (default: --jobs)", "N", type=int),
            EngineOption("streams", "NUM_STREAMS: a number, auto or numa", "N|auto|numa", check=_streams),
            EngineOption("threads", "INFERENCE_NUM_THREADS", "N", type=int),
            EngineOption("pin", "ENABLE_CPU_PINNING", choices=("yes", "no")),
            EngineOption("precision", "INFERENCE_PRECISION_HINT", choices=("f32", "bf16", "f16")),
            EngineOption("cache_dir", "model cache directory", "DIR"),
            EngineOption("shape", "e.g. [1,3,224,224] or name:[1,3,224,224]"),
        ),
        defaults=_openvino_defaults,
        sync_options={"hint": "latency"},
        tuning=("hint", "num_requests", "streams", "threads", "pin"),
        loader=_load_openvino,
        default_model="default_cnn.onnx",  # a real runtime on a real CNN: preferred when available
        default_rank=1,
    ),
}


def records() -> tuple[EngineRecord, ...]:
    return tuple(RECORDS.values())


def names() -> tuple[str, ...]:
    return tuple(RECORDS)


def get(name: str) -> EngineRecord:
    """The record of engine `name`; ValueError naming the engines there are."""
    if name not in RECORDS:
        raise ValueError(f"unknown engine {name!r}: choose one of auto, {', '.join(names())}")
    return RECORDS[name]


def option_owner(key: str) -> tuple[EngineRecord, EngineOption]:
    """The engine whose CLI flags include option `key` (KeyError if none does)."""
    for record in RECORDS.values():
        for option in record.options:
            if option.key == key:
                return record, option
    raise KeyError(key)
