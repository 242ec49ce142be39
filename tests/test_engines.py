"""Engine discovery: what this build has, and clear errors for what it lacks."""

from __future__ import annotations

import subprocess
import sys

import vart_async


def test_vart_is_available_and_says_it_is_emulated():
    engines = vart_async.available_engines()
    assert set(engines) == {"vart", "openvino"}
    vart = engines["vart"]
    assert vart.available
    assert vart.emulated  # no libvart-ml on this machine: the emulator stands in
    assert "emulator" in vart.detail.lower()


def test_session_reports_emulation(descriptor):
    with vart_async.open(descriptor()) as s:
        assert s.engine == "vart"
        assert s.emulated
        assert "emulator" in s.runtime.lower()
        assert s.model_name == "tiny"
        assert s.info["properties"]["input_tensor_type"] == "HW"


def test_import_needs_no_runtime():
    """`import vart_async` loads no engine module (they load when chosen)."""
    code = "import sys, vart_async; print(sorted(m for m in sys.modules if 'vart' in m or 'openvino' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out)  # a printed list of module names
    assert "vart_async" in loaded
    assert not [
        m for m in loaded if m in ("vart_async._vart", "vart_async._openvino") or m.startswith("openvino")
    ]
