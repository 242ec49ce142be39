"""IFM / OFM file rules of vart-async-bench, as pure functions (no session, no engine)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pytest

from vart_async._ifm import (
    IfmError,
    RowLayout,
    byte_rows,
    compare_outputs,
    fill_outputs,
    first_difference,
    load_ifm,
    ofm_name,
    prepare,
    random_ifm,
    row_layout,
    short_ifm_notice,
    stage,
    vart_dtype_name,
    write_ofms,
)


@dataclass(frozen=True)
class Spec:
    name: str
    shape: tuple[int, ...]
    nbytes: int
    dtype: str = "uint8"


BPR = 12  # bytes per row in most tests


def _file(tmp_path, nbytes, name="ifm.bin"):
    path = tmp_path / name
    path.write_bytes(bytes(i % 251 for i in range(nbytes)))
    return path


# -- row layout -------------------------------------------------------------------------------------
def test_a_row_is_one_batch_element_over_all_inputs_in_order():
    specs = [Spec("a", (4, 8), 4 * 8), Spec("b", (4, 3), 4 * 3 * 4, "float32")]
    layout = row_layout(specs, 4)
    assert layout.names == ("a", "b")
    assert layout.row_nbytes == (8, 12)
    assert layout.bytes_per_row == 20
    assert layout.describe() == "20 bytes (a 8 + b 12)"


def test_batch_one_takes_the_whole_tensor_as_the_row():
    layout = row_layout([Spec("x", (3, 224, 224), 3 * 224 * 224)], 1)
    assert layout.bytes_per_row == 3 * 224 * 224


def test_a_tensor_without_a_batch_dimension_is_refused():
    with pytest.raises(IfmError, match=r"'x' \(shape \[3, 5\]\) has no leading batch dimension of size 2"):
        row_layout([Spec("x", (3, 5), 15)], 2)


def test_zero_bytes_per_row_is_refused():
    with pytest.raises(IfmError, match="bytes per input frame is zero"):
        row_layout([Spec("x", (1, 0), 0)], 1)


# -- loading ----------------------------------------------------------------------------------------
def test_reads_up_to_batch_rows_from_the_start(tmp_path):
    path = _file(tmp_path, 5 * BPR)
    rows = load_ifm(path, BPR, 3)
    assert rows.shape == (3, BPR)
    assert rows.dtype == np.uint8
    assert rows.tobytes() == path.read_bytes()[: 3 * BPR]


def test_fewer_rows_than_the_batch_are_all_read(tmp_path):
    rows = load_ifm(_file(tmp_path, 2 * BPR), BPR, 4)
    assert rows.shape == (2, BPR)


def test_one_and_a_half_rows_read_one_row(tmp_path):
    path = _file(tmp_path, BPR + BPR // 2)
    rows = load_ifm(path, BPR, 4)
    assert rows.shape == (1, BPR)
    assert rows.tobytes() == path.read_bytes()[:BPR]


def test_exactly_one_row(tmp_path):
    assert load_ifm(_file(tmp_path, BPR), BPR, 1).shape == (1, BPR)


def test_missing_file(tmp_path):
    with pytest.raises(IfmError, match=r"^input file not found: .*nope\.bin$"):
        load_ifm(tmp_path / "nope.bin", BPR, 1)


def test_directory(tmp_path):
    with pytest.raises(IfmError, match=r"^input binary is a directory: "):
        load_ifm(tmp_path, BPR, 1)


def test_a_fifo_is_named_and_never_opened(tmp_path):
    fifo = tmp_path / "ifm.bin"
    os.mkfifo(fifo)  # no writer: opening it would block
    expected = r"^input binary is a FIFO \(named pipe\): .*ifm\.bin \(not a regular file\)$"
    with pytest.raises(IfmError, match=expected):
        load_ifm(fifo, BPR, 1)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_character_device_is_named(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    expected = rf"^input binary is a character device: {device} \(not a regular file\)$"
    with pytest.raises(IfmError, match=expected):
        load_ifm(device, BPR, 1)


@pytest.mark.parametrize("size", [0, 1, BPR - 1])
def test_smaller_than_one_row(tmp_path, size):
    with pytest.raises(IfmError) as info:
        load_ifm(_file(tmp_path, size), BPR, 2)
    assert str(info.value) == (
        f"input binary too small: need at least {BPR} bytes for one sample row (got {size} byte(s))"
    )


def test_unreadable_file(tmp_path, monkeypatch):
    path = _file(tmp_path, BPR)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(os, "open", refuse)  # chmod 0 would not stop root
        with pytest.raises(IfmError, match=r"failed to open input binary: .*ifm\.bin \(Permission denied\)"):
            load_ifm(path, BPR, 1)


def test_random_ifm_has_the_shape_asked_and_varies():
    a = random_ifm(3, BPR, np.random.default_rng(1))
    b = random_ifm(3, BPR, np.random.default_rng(2))
    assert a.shape == (3, BPR)
    assert a.dtype == np.uint8
    assert not np.array_equal(a, b)
    with pytest.raises(IfmError, match="num_frames must be >= 1"):
        random_ifm(0, BPR)


def test_prepare_reads_the_file_or_draws_random_rows(tmp_path):
    layout = RowLayout(("a",), (BPR,), 3)
    path = _file(tmp_path, 2 * BPR)
    ifm = prepare(layout, str(path))
    assert ifm.rows.tobytes() == path.read_bytes()
    assert ifm.source == {"source": "file", "path": str(path), "rows": 2, "bytes_per_row": BPR}
    assert ifm.messages[0] == f"[INFO] IFM {path}: 2 full row(s) of {BPR} bytes used"
    assert ifm.messages[1].startswith("[INFO] copy_frame_to_slot: IFM has 2 full row(s); need 3 row(s)")
    dry = prepare(layout, None, np.random.default_rng(0))
    assert dry.rows.shape == (3, BPR)
    assert dry.source["source"] == "random"
    assert dry.messages == ("[INFO] dry-run: filled 3 frame(s) with random bytes (no IFM file read).",)


# -- staging ----------------------------------------------------------------------------------------
def _slot(batch):
    return [np.full((batch, 8), 7, np.uint8), np.full((batch, 1), 7.0, np.float32)]


def test_stage_splits_each_row_over_the_tensors_in_order():
    layout = RowLayout(("a", "b"), (8, 4), 2)
    ifm = np.arange(24, dtype=np.uint8).reshape(2, 12)
    a, b = _slot(2)
    stage([a, b], ifm, layout)
    assert a.tobytes() == bytes(ifm[0, :8]) + bytes(ifm[1, :8])
    assert b.tobytes() == bytes(ifm[0, 8:]) + bytes(ifm[1, 8:])


def test_stage_zero_fills_the_rows_the_ifm_lacks():
    layout = RowLayout(("a", "b"), (8, 4), 3)
    ifm = np.full((1, 12), 9, np.uint8)
    a, b = _slot(3)
    stage([a, b], ifm, layout)
    assert (a[0] == 9).all()
    assert (a[1:] == 0).all()
    assert (b[1:] == 0).all()


def test_stage_writes_in_place():
    layout = RowLayout(("a",), (8,), 2)
    a = np.zeros((2, 2), np.float32)  # the byte view of a float buffer
    before = a.__array_interface__["data"][0]
    stage([a], np.full((2, 8), 0xFF, np.uint8), layout)
    assert a.__array_interface__["data"][0] == before
    assert np.isnan(a).all()  # 0xFFFFFFFF is a NaN: the bytes went in unconverted
    assert np.shares_memory(byte_rows(a, 2), a)


def test_stage_refuses_a_non_contiguous_buffer():
    layout = RowLayout(("a",), (4,), 2)
    a = np.zeros((2, 8), np.uint8)[:, ::2]
    with pytest.raises(ValueError, match="contiguous"):
        stage([a], np.zeros((2, 4), np.uint8), layout)


def test_short_notice_once_only_when_short():
    assert short_ifm_notice(2, 2) is None
    assert short_ifm_notice(1, 4) == (
        "[INFO] copy_frame_to_slot: IFM has 1 full row(s); need 4 row(s) for frame_index=0 and "
        "batch_size=4. Short slots are zero-filled."
    )


# -- OFM --------------------------------------------------------------------------------------------
def test_ofm_name_is_the_documented_form():
    assert ofm_name(9, 0) == "output_f9_0.bin"
    assert ofm_name(0, 3) == "output_f0_3.bin"


@pytest.mark.parametrize(
    ("numpy_name", "vart"),
    [
        ("bool", "boolean"),
        ("float16", "fp16"),
        ("bfloat16", "bf16"),
        ("float32", "float32"),
        ("int8", "int8"),
        ("uint64", "uint64"),
        ("complex64", "unknown"),
    ],
)
def test_vart_dtype_names(numpy_name, vart):
    assert vart_dtype_name(numpy_name) == vart


def test_write_ofms_writes_every_tensor_with_all_batch_rows(tmp_path):
    y = np.arange(2 * 16, dtype=np.int8).reshape(2, 16)
    z = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    specs = [Spec("y", (2, 16), 32, "int8"), Spec("z", (2, 3), 24, "float32")]
    files = write_ofms([y, z], specs, frame=4, batch_size=2, out_dir=tmp_path)
    assert [f.path.name for f in files] == ["output_f4_0.bin", "output_f4_1.bin"]
    assert (tmp_path / "output_f4_0.bin").read_bytes() == y.tobytes()
    assert (tmp_path / "output_f4_1.bin").read_bytes() == z.tobytes()
    assert files[1].line() == (
        f"Wrote {tmp_path / 'output_f4_1.bin'} (24 bytes, 2 batch rows) name=z dtype=float32 frame=4 tensor=1"
    )


def test_write_ofms_reports_an_unwritable_directory(tmp_path):
    with pytest.raises(OSError, match=r"cannot write .*output_f0_0\.bin"):
        write_ofms([np.zeros(4, np.uint8)], [Spec("y", (1, 4), 4)], 0, 1, tmp_path / "missing")


def test_first_difference():
    a = np.zeros(8, np.float32)
    b = a.copy()
    assert first_difference(a, b) is None
    b[3] = 1.0
    assert first_difference(a, b) == 3 * 4 + 2  # little-endian 1.0f = 00 00 80 3f
    assert first_difference(np.zeros(4, np.uint8), np.zeros(5, np.uint8)) == 4


def test_fill_and_compare_outputs():
    first = [[np.zeros(4, np.float32), np.zeros(3, np.int8)] for _ in range(2)]
    second = [[a.copy() for a in slot] for slot in first]
    fill_outputs(first, 0xA5)
    assert first[1][0].view(np.uint8).tolist() == [0xA5] * 16
    assert compare_outputs(first, second) == (0, 0, 0)
    fill_outputs(second, 0xA5)
    assert compare_outputs(first, second) is None
    second[1][1][2] = 0
    assert compare_outputs(first, second) == (1, 1, 2)


def test_ofm_file_to_dict(tmp_path):
    (f,) = write_ofms([np.zeros((1, 4), np.uint8)], [Spec("y", (1, 4), 4)], 0, 1, tmp_path)
    assert f.to_dict() == {
        "path": str(tmp_path / "output_f0_0.bin"),
        "bytes": 4,
        "rows": 1,
        "name": "y",
        "dtype": "uint8",
        "frame": 0,
        "tensor": 0,
    }
