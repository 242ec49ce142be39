"""Hypothesis strategies for tests/test_fuzz.py: mutated emulator descriptors and CLI argument vectors.

Not a test module (importable because pyproject's pytest settings put tests/ on the path).

Mutations keep the memory a *valid* result could allocate in check (`estimated_bytes`): the point is
hostile input, not a 64 GiB tensor that the emulator would rightly allocate.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

from conftest import TINY

# Values that sit on, just past, or far past the bounds of the descriptor's numbers.
EDGE_NUMBERS: list[Any] = [
    0, 1, 2, 3, -1, 16, 64, 65, 1024, 1025, 65536, 65537, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53 + 1,
    2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30, 0.5, -0.0, 1.0, 2.0, 1e-300, 3.6e9,
    3.6e9 + 1, 1e300, -1e300,
]
# Raw JSON text for numbers Python's json would not write (placed with a marker, see `as_text`).
RAW_NUMBERS = ["1e999", "-1e999", "9" * 400, "-" + "9" * 400, "1" + "0" * 309, "0." + "0" * 400 + "1", "1E+2"]

NAMES = st.sampled_from(
    ["a", "b", "y", "z", "", "A" * 10_000, "\x00", "\x1b[31m", "é", "\U0001f600", "\ud800x", "UINT8", "NC"]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(EDGE_NUMBERS),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    NAMES,
    st.text(max_size=30),
    st.sampled_from([f"@RAW{i}@" for i in range(len(RAW_NUMBERS))]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.sampled_from(["name", "shape", "x", "", "cpu"]), inner),
    ),
    max_leaves=12,
)
FIELD_NAMES = [
    "format", "name", "description", "batch_size", "output_batch_size", "compute_units", "execution_slots",
    "service_time_us", "service_jitter_us", "inputs", "outputs", "faults", "data_type", "shape", "layout",
    "layout_order", "quant", "scale", "zero_point", "rounding_mode", "hw", "fail_jobs", "fail_status",
    "stall_jobs", "stall_ms", "busy_storm", "after_submissions", "count", "out_of_order", "stragglers",
    "every", "factor", "fail_create",
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indices) into a JSON value, the root included."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = root
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return root


def _delete(root: Any, path: tuple[Any, ...]) -> Any:
    if path:
        node = root
        for p in path[:-1]:
            node = node[p]
        del node[path[-1]]
    return root


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        root = root[p]
    return root


BASE = copy.deepcopy(TINY) | {
    "format": "vart-emu/1",
    "faults": {
        "fail_jobs": [3],
        "out_of_order": True,
        "stragglers": {"every": 2, "factor": 3},
        "busy_storm": {"after_submissions": 1, "count": 2},
    },
}
BASE["inputs"][0]["quant"] = {"scale": 0.5, "zero_point": 0, "rounding_mode": "ROUND_TOWARD_ZERO"}
BASE["outputs"][1]["cpu"] = {
    "data_type": "INT32", "shape": [1, 3], "layout": "GENERIC", "layout_order": [1, 0]
}


@st.composite
def descriptor_texts(draw: st.DrawFn) -> bytes:
    """A valid descriptor with 1 to 4 mutations of its structure, types, numbers, nesting and bytes."""
    doc: Any = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["value", "number", "delete", "add", "nest", "type"]))
        if kind == "value":
            doc = _set(doc, path, draw(VALUES))
        elif kind == "number":
            doc = _set(doc, path, draw(st.sampled_from(EDGE_NUMBERS)))
        elif kind == "delete" and path:
            doc = _delete(doc, path)
        elif kind == "add" and isinstance(_get(doc, path), dict):
            _get(doc, path)[draw(st.sampled_from([*FIELD_NAMES, "bogus"]))] = draw(VALUES)
        elif kind == "nest":
            depth = draw(st.sampled_from([1, 2, 10, 63, 64, 65, 500, 100_000]))
            doc = _set(doc, path, "@NEST@")
            text = json.dumps(doc).replace('"@NEST@"', "[" * depth + "1" + "]" * depth, 1)
            doc = {"@text@": text}
            break
        elif kind == "type":
            doc = _set(doc, path, draw(st.sampled_from([[], {}, "", None, True, [[]], {"": {}}])))
    text = doc["@text@"] if isinstance(doc, dict) and "@text@" in doc else json.dumps(doc, ensure_ascii=False)
    for i, raw in enumerate(RAW_NUMBERS):
        text = text.replace(f'"@RAW{i}@"', raw)
    data = text.encode("utf-8", "surrogatepass")
    return draw(_byte_mutation(data))


@st.composite
def _byte_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["none", "none", "none", "truncate", "insert", "duplicate", "pad"]))
    at = draw(st.integers(0, len(data)))
    if kind == "truncate":
        return data[:at]
    if kind == "insert":
        junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"{", b"]", b'"', b"\\"]))
        return data[:at] + junk + data[at:]
    if kind == "duplicate":  # a key twice in the same object
        key = draw(st.sampled_from([b'"batch_size": 2, ', b'"name": "x", ', b'"shape": [1], ']))
        brace = data.find(b"{", at)
        return data if brace < 0 else data[: brace + 1] + key + data[brace + 1 :]
    if kind == "pad":  # around the 4 MiB limit
        return data + b" " * draw(st.sampled_from([1, 4 << 20]))
    return data


def estimated_bytes(text: bytes, jobs: int) -> int:
    """About how much a descriptor that loads would allocate for `jobs` slots (0 when it cannot load)."""
    try:
        doc = json.loads(text)
        batch = max(int(doc.get("batch_size", 1)), int(doc.get("output_batch_size", 1)), 1)
        total = 0
        for t in [*doc["inputs"], *doc["outputs"]]:
            for view in (t, t.get("cpu") or {}):
                n = 8
                for d in view.get("shape") or [1]:
                    n *= max(int(d), 1)
                total += n
        return total * batch * jobs
    except Exception:  # not JSON, or not shaped like a descriptor: the emulator refuses it
        return 0


FLAG_VALUES = st.one_of(
    st.sampled_from(["0", "-1", "1", "2", "3", "4096", "4097", "99999999999999999999999", "1e300", "inf",
                     "nan", "-inf", "0.05", "1e-9", "10000000000", "4294967297", "", " ", "x", "1,2", "1,,2",
                     "é", "\x1b", "9" * 5000, "0x10", "1_0"]),
    # any text an exec() can pass: no NUL, no lone surrogate (they cannot reach a command line)
    st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=12),
)
# Flags whose valid values are kept small so that a run which starts also ends quickly.
SMALL = {
    "-n": ["1", "3", "20"], "--jobs": ["1", "2", "5"], "--warmup": ["0", "1", "7"], "-t": ["0.05", "0.2"],
    "--wait-timeout": ["0.5", "5"], "--spin-us": ["0", "100", "1000000"], "--sweep-jobs": ["1,2", "3"],
}
VALUE_FLAGS = [*SMALL, "--engine", "--input-tensor-type", "--output-tensor-type", "--device", "--hint",
               "--streams", "--threads", "--precision", "--shape", "--cache-dir", "--json"]
SWITCHES = ["-d", "-d", "--benchmark", "--verify", "-q", "--dry-run", "--bogus", "-h"]


@st.composite
def cli_argvs(draw: st.DrawFn, models: list[str], ifms: list[str]) -> list[str]:
    """A vart-async-bench argument vector: a model, some flags with hostile values, junk tokens."""
    argv = [draw(st.sampled_from(models))]
    if draw(st.booleans()):
        argv.append(draw(st.sampled_from(ifms)))
    for _ in range(draw(st.integers(0, 5))):
        choice = draw(st.sampled_from(["value", "value", "switch", "junk"]))
        if choice == "switch":
            argv.append(draw(st.sampled_from(SWITCHES)))
        elif choice == "junk":
            argv.append(draw(FLAG_VALUES))
        else:
            flag = draw(st.sampled_from(VALUE_FLAGS))
            small = SMALL.get(flag)
            value = draw(st.sampled_from(small)) if small and draw(st.booleans()) else draw(FLAG_VALUES)
            if flag in ("-n", "-t", "--warmup") and _is_big_valid(flag, value):
                value = small[0] if small else value  # a valid huge count would just run (not a hang)
            argv += [flag, value]
    return argv


def _is_big_valid(flag: str, value: str) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    limit = 2.0 if flag == "-t" else 100
    return limit < number <= (1e7 if flag == "-t" else 2**63 - 1)  # False for nan
