"""Without Ray: `import vart_async` never needs it, and using a fleet says how to get it.

Not marked `fleet`: these run everywhere (Ray is hidden by blocking its import).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from vart_async import cli, fleet


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError


def test_importing_the_package_the_cli_and_the_fleet_module_never_imports_ray():
    code = (
        "import sys, vart_async, vart_async.cli, vart_async.fleet, vart_async._cli_fleet\n"
        "vart_async.cli.build_parser()\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.usefixtures("no_ray")
@pytest.mark.parametrize("use", [lambda: fleet.run(None, iterations=1), fleet.Fleet,
                                 lambda: fleet.stream("m.json", [])])  # fmt: skip
def test_the_api_without_ray_says_how_to_get_it(use):
    with pytest.raises(fleet.FleetUnavailableError, match=r"needs Ray.*pip install 'vart-async\[fleet\]'"):
        use()


@pytest.mark.usefixtures("no_ray")
def test_the_cli_without_ray_exits_1_with_the_hint_and_no_traceback(tiny, capsys):
    assert cli.main([tiny, "-d", "--fleet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: the fleet needs Ray")
    assert "pip install 'vart-async[fleet]'" in err
    assert "Traceback" not in err


@pytest.mark.fleet
def test_an_unknown_address_fails_at_once_naming_it(tiny):
    # A closed port: Ray itself would retry for minutes; the probe answers in milliseconds.
    proc = subprocess.run(
        [sys.executable, "-m", "vart_async.cli", tiny, "-d", "--fleet", "127.0.0.1:1"],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Error: cannot reach a Ray head at 127.0.0.1:1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_boards_without_fleet_is_an_error(tiny, capsys):
    assert cli.main([tiny, "-d", "--boards", "2"]) == 1
    assert capsys.readouterr().err == "Error: --boards goes with --fleet\n"
