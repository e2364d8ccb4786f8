"""What `pip install .` (and so pipx) installs: every package, and the example macros as package data.

The acceptance test builds the wheel from a copy of the checkout, installs it into a new virtual
environment and runs `webcare macros list` there from a folder outside the checkout: the examples
must come from the installed package, not from the repository's macros/ folder. The environment sees
the project's dependencies through a .pth file naming this environment's site-packages, so nothing
is downloaded but the build backend (which pip takes from its configured index, as `pip install .`
does); only when that cannot be had does the test skip, and it says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "webcare_tui"
EXAMPLE_NAMES = ("Compliment", "Hypotheken", "Outage (en)", "Storing (nl)", "Störung (de)", "Terugbellen", "Ticket")
# what a build needs of the checkout: the project file, what it names, the package and the examples
SOURCES = ("pyproject.toml", "README.md", "webcare_tui", "macros")
NO_BACKEND = ("No matching distribution found for setuptools", "Could not find a version that satisfies the "
              "requirement setuptools")


def setuptools_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_package_is_in_the_wheel_and_the_examples_too():
    """The packages are listed in pyproject.toml (so the examples can be mapped in): a new folder of
    Python files under webcare_tui/ that is not listed would be left out of the wheel without a word."""
    config = setuptools_config()
    listed = set(config["packages"])
    on_disk = {".".join(folder.relative_to(ROOT).parts) for folder in [PACKAGE, *PACKAGE.rglob("*")]
               if folder.is_dir() and "__pycache__" not in folder.parts and any(folder.glob("*.py"))}
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - on_disk == {"webcare_tui.example_macros"}, "packages listed that are not there"
    assert config["package-dir"] == {"webcare_tui.example_macros": "macros"}
    assert config["package-data"]["webcare_tui.example_macros"] == ["*.toml"]


def _run(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess[str]:
    # without PYTHONPATH: a checkout on it would count as webcare-tui installed, and pip would skip the wheel
    kwargs.setdefault("env", {key: value for key, value in os.environ.items() if key != "PYTHONPATH"})
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8", timeout=timeout, **kwargs)


def _wheel(tmp_path: Path) -> Path:
    """The wheel `pip install .` would build, made from a copy (an in-tree build writes build/ and
    *.egg-info into the checkout that others work in)."""
    source = tmp_path / "source"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    built = _run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--wheel-dir", str(tmp_path / "dist"),
                  "--timeout", "20", "--retries", "1", "--disable-pip-version-check"], timeout=300)
    if built.returncode != 0 and any(reason in built.stdout + built.stderr for reason in NO_BACKEND):
        pytest.skip("cannot build the wheel here: pip finds no setuptools (the build backend) in any index")
    assert built.returncode == 0, built.stdout + built.stderr
    wheels = list((tmp_path / "dist").glob("webcare_tui-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_an_installed_wheel_lists_the_example_macros(tmp_path):
    """Acceptance (issue 14): installed from a wheel, with no macro folder configured, `webcare macros
    list` shows the examples that ship inside the package."""
    if _run([sys.executable, "-m", "pip", "--version"], timeout=60).returncode != 0:
        pytest.skip("cannot build the wheel here: this Python has no pip")
    wheel = _wheel(tmp_path)
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=120)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                      "--disable-pip-version-check", str(wheel)], timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     timeout=60).stdout.strip())
    here = sysconfig.get_paths()  # the dependencies, from this environment (its editable webcare_tui is a
    (site / "webcare_tui_test_deps.pth").write_text(f"{here['purelib']}\n{here['platlib']}\n")  # finder, not run)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "WEBCARE_"))}
    env.update(WEBCARE_CONFIG=str(tmp_path / "no-config.toml"), WEBCARE_DB=str(tmp_path / "webcare.db"),
               WEBCARE_LOG=str(tmp_path / "webcare.log"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_STATE_HOME=str(tmp_path / "state"),
               PYTHONIOENCODING="utf-8")
    where = _run([str(python), "-c", "import webcare_tui; print(webcare_tui.__file__)"], timeout=60, cwd=elsewhere,
                 env=env)
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout + where.stderr  # not the checkout's

    listed = _run([str(venv / "bin" / "webcare"), "macros", "list"], timeout=120, cwd=elsewhere, env=env)
    assert listed.returncode == 0, listed.stderr
    names = [line[9:29].strip() for line in listed.stdout.splitlines()]
    assert names == sorted(EXAMPLE_NAMES, key=str.lower), listed.stdout

    checked = _run([str(venv / "bin" / "webcare"), "macros", "check"], timeout=120, cwd=elsewhere, env=env)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == f"{len(EXAMPLE_NAMES)} macros valid, 0 errors in {site / 'webcare_tui' / 'example_macros'}\n"
