"""Private OpenVINO engine module. Checked by mypy.stubtest."""

from typing import Any

EMULATED: bool
OPENVINO_VERSION: str
DESCRIPTION: str

def create(model: str, options: dict[str, str]) -> Any: ...
