"""Private VART engine module (libvart-ml or the emulator). Checked by mypy.stubtest."""

from typing import Any

EMULATED: bool

def create(model: str, options: dict[str, str]) -> Any: ...
