"""The Python reference of the emulator's output function agrees with the C++ emulator.

Every constant below is also asserted in tests/cpp/test_emulator_faults_outputs.cpp (against the
emulator itself), so the C++ and Python definitions cannot drift apart. This file never imports
vart_async.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
KNOWN_MODEL = HERE / "cpp" / "data" / "emu_known_vectors.json"
MODELS = HERE.parent / "python" / "vart_async" / "models"


def _load_reference() -> ModuleType:
    # pytest runs with --import-mode=importlib: tests/ is not on sys.path, so load it by file.
    spec = importlib.util.spec_from_file_location("emu_reference", HERE / "emu_reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("emu_reference", module)
    spec.loader.exec_module(module)
    return module


ref = _load_reference()

# ---- constants shared with tests/cpp/test_emulator_faults_outputs.cpp --------------------------------------
MIX64_OF_GOLDEN = 0xE220A8397B1DCDAF  # SplitMix64's published first output for seed 0
MIX64_OF_ONE = 0x5692161D100B05E5
KNOWN = {
    "zero": (
        0xD6E18700A2D5DAD0,
        "55120be81d5bfb5e48be273294f82601be88acc03e6846833e52b914395939883946be7c3f653fb8bc0001010001f4e414"
        "0e151918561db9b8f3",
    ),
    "ramp": (
        0x795591FFA9568594,
        "29bc18c3aa46f180bb6e7c7e9ec61d483f888ea4beba25483fed3639b96e3214bb2abf81be0c3ea2be000100000094748032"
        "bd91104d94f94a91",
    ),
}
BIG_ROW_HASH = 0xB658102A348807E1
BIG_OUTPUTS_FNV1A = 0xF94A669BC4E1CA29
BIG_OUTPUTS = (("FP16", 2048), ("BF16", 2048), ("FLOAT32", 1000), ("INT8", 1000))
# float -> (IEEE half bits, bfloat16 bits), round to nearest even
CONVERSIONS = [
    (1 / 3, 0x3555, 0x3EAB),
    (2.0**-24, 0x0001, 0x3380),
    (2.0**-25, 0x0000, 0x3300),
    (3 * 2.0**-25, 0x0002, 0x33C0),
    (0.1, 0x2E66, 0x3DCD),
    (-0.5, 0xB800, 0xBF00),
    (1 + 2.0**-11, 0x3C00, 0x3F80),
    (1 + 3 * 2.0**-11, 0x3C02, 0x3F80),
    (1 + 2.0**-8, 0x3C04, 0x3F80),
    (1 + 3 * 2.0**-8, 0x3C0C, 0x3F82),
    (-1.0, 0xBC00, 0xBF80),
]
JITTER = [(1, 1000.0, 338.16660127198975), (2, 1000.0, 858.6764687735633), (7, 250.0, 18.242599645212326)]


def _known_model() -> tuple[list[int], list[tuple[str, int]]]:
    """Input byte sizes and output (data type, elements) of the shared known-vector model."""
    model = json.loads(KNOWN_MODEL.read_text())

    def elements(t: dict) -> int:
        return int(np.prod(t["shape"]))

    sizes = [elements(t) * ref.DATA_TYPES[t["data_type"]][0] for t in model["inputs"]]
    outputs = [(t["data_type"], elements(t)) for t in model["outputs"]]
    return sizes, outputs


def _known_inputs(kind: str, sizes: list[int]) -> list[bytes]:
    if kind == "zero":
        return [bytes(n) for n in sizes]
    return [bytes(i % 256 for i in range(n)) for n in sizes]  # every tensor holds 0, 1, 2, ...


def test_mix64_is_splitmix64():
    assert ref.mix64(ref.GOLDEN) == MIX64_OF_GOLDEN
    assert ref.mix64(1) == MIX64_OF_ONE
    assert ref.mix64(0) == 0


@pytest.mark.parametrize("kind", ["zero", "ramp"])
def test_known_vectors(kind):
    sizes, outputs = _known_model()
    assert sizes == [11, 6, 40]  # partial words and one full 4-lane block
    inputs = _known_inputs(kind, sizes)
    row_hash, hex_outputs = KNOWN[kind]
    assert ref.row_hash(inputs) == row_hash
    produced = b"".join(a.tobytes() for a in ref.row_outputs(inputs, outputs))
    assert produced.hex() == hex_outputs


def test_big_row_digest():
    row = bytes((i * 7 + 3) % 256 for i in range(150528))  # one 224x224x3 int8 image
    h = ref.row_hash([row])
    assert h == BIG_ROW_HASH
    produced = b"".join(ref.output_bytes(h, i, dt, n) for i, (dt, n) in enumerate(BIG_OUTPUTS))
    assert ref.fnv1a64(produced) == BIG_OUTPUTS_FNV1A


def test_row_hash_accepts_numpy_arrays():
    data = np.arange(11, dtype=np.uint8)
    assert ref.row_hash([data]) == ref.row_hash([bytes(range(11))])


def test_outputs_depend_on_inputs():
    sizes, outputs = _known_model()
    zero = ref.row_outputs(_known_inputs("zero", sizes), outputs)
    again = ref.row_outputs(_known_inputs("zero", sizes), outputs)
    ramp = ref.row_outputs(_known_inputs("ramp", sizes), outputs)
    for a, b, c in zip(zero, again, ramp, strict=True):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_float_outputs_are_in_range():
    h = ref.row_hash([b"abc"])
    values = np.frombuffer(ref.output_bytes(h, 0, "FLOAT32", 4096), dtype="<f4")
    assert (values >= -1).all()
    assert (values < 1).all()
    assert len(np.unique(values)) > 4000
    bits = np.frombuffer(ref.output_bytes(h, 0, "BOOLEAN", 256), dtype=np.uint8)
    assert set(bits.tolist()) == {0, 1}


@pytest.mark.parametrize(("value", "half", "bf16"), CONVERSIONS)
def test_half_and_bfloat16_rounding(value, half, bf16):
    f = np.array([value], dtype="<f4")
    assert int(f.astype("<f2").view("<u2")[0]) == half
    assert int(ref._bfloat16_bits(f)[0]) == bf16


@pytest.mark.parametrize(("job_id", "jitter", "expected"), JITTER)
def test_jitter(job_id, jitter, expected):
    assert ref.jitter_us(job_id, jitter) == pytest.approx(expected, rel=1e-12)
    assert ref.jitter_us(job_id, 0.0) == 0.0


@pytest.mark.parametrize("name", ["resnet50_int8.emu.json", "tiny.emu.json"])
def test_shipped_descriptors_are_json_objects(name):
    body = json.loads((MODELS / name).read_text())
    assert body["format"] == "vart-emu/1"
    assert body["inputs"]
    assert body["outputs"]


@pytest.mark.parametrize(
    ("in_rows", "out_rows", "sources"),
    [(2, 2, [0, 1]), (4, 1, [0]), (2, 4, [0, 0, 1, 1]), (1, 2, [0, 0]), (3, 3, [0, 1, 2])],
)
def test_source_row_rule(in_rows, out_rows, sources):
    assert [ref.source_row(r, in_rows, out_rows) for r in range(out_rows)] == sources


def test_batch_outputs_equal_counts_is_row_by_row():
    sizes, outputs = _known_model()
    rows = [_known_inputs("zero", sizes), _known_inputs("ramp", sizes)]
    produced = ref.batch_outputs(rows, outputs, 2)
    for got, row in zip(produced, rows, strict=True):
        for a, b in zip(got, ref.row_outputs(row, outputs), strict=True):
            np.testing.assert_array_equal(a, b)


def test_batch_outputs_fan_in_and_fan_out():
    sizes, outputs = _known_model()
    zero, ramp = _known_inputs("zero", sizes), _known_inputs("ramp", sizes)
    (only,) = ref.batch_outputs([ramp, zero, zero, zero], outputs, 1)  # 4 -> 1: from row 0
    assert b"".join(a.tobytes() for a in only).hex() == KNOWN["ramp"][1]
    four = ref.batch_outputs([zero, ramp], outputs, 4)  # 2 -> 4: rows 0, 1 from row 0; 2, 3 from row 1
    expected = [KNOWN[k][1] for k in ("zero", "zero", "ramp", "ramp")]
    assert [b"".join(a.tobytes() for a in r).hex() for r in four] == expected
    with pytest.raises(ValueError, match="output row"):
        ref.source_row(4, 2, 4)
