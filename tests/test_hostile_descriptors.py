"""Hostile emulator descriptors (issue 13): deep nesting, files that are not files, oversized files,
numbers JSON cannot hold, duplicate keys, bytes that are not UTF-8. Each ends in a clear EngineError
that names the file (and the field where there is one), at once, with a bounded message.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import vart_async
from conftest import TINY

MAX_MESSAGE = 600  # characters: every message is built from bounded excerpts of the file


def _open_error(path: Path | str, **kwargs: Any) -> str:
    """The EngineError message of opening `path` in a child process (a crash or hang must not take
    the test session with it)."""
    code = (
        "import sys, vart_async\n"
        "try:\n"
        f"    vart_async.open({str(path)!r}, **{kwargs!r}).close()\n"
        "except vart_async.VartAsyncError as e:\n"
        "    sys.stdout.write(type(e).__name__ + ': ' + str(e))\n"
        "else:\n"
        "    sys.stdout.write('opened')\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
    return p.stdout


def _text(tmp_path: Path, text: str | bytes, name: str = "model.json") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _tiny_with(raw_field: str, raw_value: str) -> str:
    """TINY's JSON text with the value of top-level `raw_field` replaced by raw JSON text."""
    body = dict(TINY)
    body[raw_field] = "@@"
    return json.dumps(body).replace('"@@"', raw_value)


def test_deeply_nested_descriptor_is_refused_not_a_crash(tmp_path):
    path = _text(tmp_path, "[" * 200_000 + "]" * 200_000)
    message = _open_error(path)
    assert message.startswith("EngineError: "), message
    assert f"{path}: [0][0][0][0]...[0][0][0]: nested deeper than 64 levels" in message
    assert len(message) < MAX_MESSAGE


def test_nesting_up_to_the_limit_parses_one_more_is_refused(tmp_path):
    # The root object is level 1: a description nested to 63 more levels parses (and is then refused as a
    # field), one more level is refused by the parser.
    ok = _text(tmp_path, _tiny_with("description", "[" * 63 + "]" * 63), "ok.json")
    field_error = r"description: must be a string \(got array \[\[\[\[\.\.\.\]"
    with pytest.raises(vart_async.EngineError, match=field_error):
        vart_async.open(ok)
    deep = _text(tmp_path, _tiny_with("description", "[" * 64 + "]" * 64), "deep.json")
    nesting_error = r"deep\.json: description\[0\]\[0\]\[0\]\.\.\.\[0\]\[0\]\[0\]: nested deeper than 64"
    with pytest.raises(vart_async.EngineError, match=nesting_error):
        vart_async.open(deep)


def test_huge_values_and_keys_are_quoted_by_a_bounded_prefix(descriptor):
    cases = [
        ({"description": list(range(200_000))}, "description: must be a string (got array [0,1,2,"),
        ({"x" * 1_000_000: 1}, "unknown key"),
        ({"execution_slots": "z" * 1_000_000}, "execution_slots: must be an integer (got string \"zzz"),
        ({"format": "f" * 1_000_000}, 'format: must be "vart-emu/1" (got string "fff'),
    ]
    for changes, expected in cases:
        with pytest.raises(vart_async.EngineError) as info:
            vart_async.open(descriptor(**changes))
        message = str(info.value)
        assert expected in message
        assert len(message) < MAX_MESSAGE, message[:200]


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_character_device_is_refused_at_once(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    message = _open_error(device, engine="vart")
    assert f"not a regular file: {device} is a character device" in message


def test_a_fifo_is_refused_and_never_opened(tmp_path):
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)
    assert "is a FIFO (named pipe)" in _open_error(fifo)  # no writer: opening it would block


def test_an_oversized_descriptor_is_refused(tmp_path):
    text = json.dumps(TINY) + " " * (4 << 20)
    path = _text(tmp_path, text)
    with pytest.raises(vart_async.EngineError, match=r"model\.json: larger than the 4 MiB .*\(\d+ bytes\)"):
        vart_async.open(path)
    with vart_async.open(_text(tmp_path, json.dumps(TINY) + " " * 4_000_000, "fits.json")) as s:
        assert s.model_name == "tiny"


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("service_time_us", "1e999", "service_time_us: number out of range (it does not fit a double)"),
        ("batch_size", "9" * 400, "batch_size: number out of range (it does not fit a double)"),
        ("batch_size", "9" * 300, "batch_size: must be an integer (got number 1e+300)"),
        ("batch_size", "-" + "9" * 400, "batch_size: number out of range"),
    ],
)
def test_numbers_json_cannot_hold_name_the_file_and_field(tmp_path, field, raw, expected):
    path = _text(tmp_path, _tiny_with(field, raw))
    with pytest.raises(vart_async.EngineError) as info:
        vart_async.open(path)
    message = str(info.value)
    assert f"{path}: {expected}" in message
    assert len(message) < MAX_MESSAGE


def test_a_number_deep_in_a_tensor_names_its_field(tmp_path):
    text = json.dumps(TINY).replace('"shape": [1, 4]', '"shape": [1, 1e999]', 1)
    path = _text(tmp_path, text)
    with pytest.raises(vart_async.EngineError, match=r"inputs\[1\]\.shape\[1\]: number out of range"):
        vart_async.open(path)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('"batch_size": 2', '"batch_size": 2, "batch_size": 3', ": duplicate key 'batch_size'"),
        ('"name": "a"', '"name": "a", "name": "c"', ": inputs[0]: duplicate key 'name'"),
        ('"layout": "NC"', '"layout": "NC", "layout": "NC"', ": inputs[0]: duplicate key 'layout'"),
    ],
)
def test_duplicate_keys_are_refused_naming_the_key(tmp_path, old, new, expected):
    path = _text(tmp_path, json.dumps(TINY).replace(old, new, 1))
    with pytest.raises(vart_async.EngineError) as info:
        vart_async.open(path)
    assert f"{path}{expected}" in str(info.value)


@pytest.mark.parametrize(
    "raw", [b'"ti\xffny"', b'"\xc3\x28"', b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"', b'"\xc0\xaf"']
)
def test_invalid_utf8_names_the_file_not_a_codec_error(tmp_path, raw):
    text = json.dumps(TINY).encode().replace(b'"tiny"', raw, 1)
    path = _text(tmp_path, text)
    with pytest.raises(vart_async.EngineError) as info:
        vart_async.open(path)
    assert f"{path}: not UTF-8 text (byte 0x" in str(info.value)
    assert re.search(r"at line 1, column 1[13]\)", str(info.value))


def test_valid_utf8_and_escapes_still_load(tmp_path):
    body = dict(TINY, name="tíny ✓ \U0001f600", description="\u00e9\x01")
    with vart_async.open(_text(tmp_path, json.dumps(body, ensure_ascii=False))) as s:
        assert s.model_name == "tíny ✓ \U0001f600"
    # A control character from the file is escaped in a message; a multi-byte one is not cut in two.
    bad = dict(TINY, batch_size="\x1b[31m" + "é" * 30)
    with pytest.raises(vart_async.EngineError, match=r"\\x1B\[31méé.*\.\.\."):
        vart_async.open(_text(tmp_path, json.dumps(bad, ensure_ascii=False), "bad.json"))


def test_a_json_syntax_error_quotes_a_bounded_token(tmp_path):
    path = _text(tmp_path, '{"name": "' + "n" * 1_000_000 + "\x01")
    with pytest.raises(vart_async.EngineError, match=r"model\.json: invalid JSON: ") as info:
        vart_async.open(path)
    assert len(str(info.value)) < MAX_MESSAGE


def test_batch_times_leading_dimension_past_uint32_is_refused(descriptor):
    # 65536 rows of shape [65536]: the slot tensor's leading dimension would wrap to 0.
    big = [{"name": "a", "data_type": "UINT8", "shape": [65536], "layout": "NC"}]
    path = descriptor(batch_size=65536, execution_slots=1, inputs=big)
    with pytest.raises(
        vart_async.EngineError, match=r"tensor 'a': its leading dimension 65536 times the batch size 65536"
    ):
        vart_async.open(path, jobs=1)


def test_the_docs_describe_the_shipped_demo_model_as_it_is():
    doc = Path(__file__).parents[1] / "docs" / "emulator.md"
    if not doc.is_file():
        pytest.skip("docs/ is not beside the tests (an installed wheel's test run)")
    models = Path(vart_async.__file__).parent / "models"
    text = " ".join(doc.read_text().split())
    for name in ("resnet50_int8", "tiny"):
        m = json.loads((models / f"{name}.emu.json").read_text())
        units = f"{m['compute_units']} compute unit{'s' if m['compute_units'] > 1 else ''}"
        entry = text.split(f"models/{name}.emu.json`", 1)[1].split("- `python/", 1)[0]
        assert f"batch {m['batch_size']}, {units}" in entry, (name, entry)
