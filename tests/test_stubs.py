"""The shipped type stubs match the native modules (mypy.stubtest imports and compares them)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import vart_async
from vart_async import _registry

pytest.importorskip("mypy", reason="mypy is a test dependency")


def _modules() -> list[str]:
    """_core, and every registered engine's module this build has and can load (test_engines.py
    requires the VART one)."""
    available = vart_async.available_engines()
    return ["vart_async._core"] + [
        r.module
        for r in _registry.records()
        if importlib.util.find_spec(r.module) is not None and available[r.name].available
    ]


@pytest.mark.parametrize("module", _modules())
def test_stub_matches_module(module):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            module,
            "--allowlist",
            str(Path(__file__).with_name("stubtest_allowlist.txt")),
            "--ignore-unused-allowlist",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_stubtest_catches_drift(tmp_path):
    """The check can fail: a stub method the module lacks is reported."""
    import vart_async._core as core_mod

    stub_dir = tmp_path / "vart_async"
    stub_dir.mkdir()
    (stub_dir / "__init__.pyi").write_text("")
    stub = Path(core_mod.__file__).with_name("_core.pyi").read_text()
    (stub_dir / "_core.pyi").write_text(stub + "\ndef no_such_function() -> None: ...\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "vart_async._core",
            "--custom-typeshed-dir",
            "",
            "--mypy-config-file",
            str(tmp_path / "none.ini"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"MYPYPATH": str(tmp_path), "PATH": ""},
    )
    assert proc.returncode != 0
    assert "no_such_function" in proc.stdout


def test_package_is_typed():
    from importlib import resources

    assert (resources.files("vart_async") / "py.typed").is_file()
