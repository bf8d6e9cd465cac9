"""The suite runs against the installed wheel (scripts/test.sh), not the source tree.

scripts/test.sh sets DMARCFLOW_TEST_INSTALLED to its virtual environment and DMARCFLOW_TEST_DIST to the
folder holding the wheel and sdist it built; outside it (a developer's editable install) these tests skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import dmarcflow

REPO = Path(__file__).resolve().parents[2]
VENV = os.environ.get("DMARCFLOW_TEST_INSTALLED", "")
DIST = os.environ.get("DMARCFLOW_TEST_DIST", "")
installed_only = pytest.mark.skipif(not VENV, reason="only under scripts/test.sh (DMARCFLOW_TEST_INSTALLED)")


def _data_files_in_checkout() -> list[str]:
    """Every file of the checkout's package that is not Python source (resources/, web templates and
    static assets, ...), as a path inside the package: each must ship in the wheel."""
    root = REPO / "dmarcflow"
    return sorted(str(p.relative_to(root.parent)) for p in root.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".py", ".pyc"))


@installed_only
def test_dmarcflow_is_imported_from_the_virtual_environment_not_the_checkout() -> None:
    module = Path(dmarcflow.__file__).resolve()
    assert module.is_relative_to(Path(VENV).resolve())
    assert not module.is_relative_to(REPO / "dmarcflow")
    assert Path(sys.prefix).resolve() == Path(VENV).resolve()


@installed_only
def test_subprocesses_started_in_the_checkout_import_the_installed_package_too() -> None:
    done = subprocess.run([sys.executable, "-c", "import dmarcflow; print(dmarcflow.__file__)"],
                          cwd=REPO, capture_output=True, text=True, check=True)
    assert Path(done.stdout.strip()).resolve().is_relative_to(Path(VENV).resolve())


@installed_only
def test_the_installed_package_carries_every_data_file_of_the_checkout() -> None:
    site_package = Path(dmarcflow.__file__).resolve().parent
    missing = [name for name in _data_files_in_checkout() if not (site_package.parent / name).is_file()]
    assert "dmarcflow/resources/kibana/dmarcflow.ndjson" in _data_files_in_checkout()  # else this proves nothing
    assert missing == []


@pytest.mark.skipif(not DIST, reason="only under scripts/test.sh (DMARCFLOW_TEST_DIST)")
def test_wheel_and_sdist_hold_the_resources_and_the_single_version() -> None:
    [wheel] = Path(DIST).glob("dmarcflow-*.whl")
    [sdist] = Path(DIST).glob("dmarcflow-*.tar.gz")
    assert wheel.name == f"dmarcflow-{dmarcflow.__version__}-py3-none-any.whl"
    assert sdist.name == f"dmarcflow-{dmarcflow.__version__}.tar.gz"
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
        metadata = archive.read(f"dmarcflow-{dmarcflow.__version__}.dist-info/METADATA").decode()
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    expected = _data_files_in_checkout()
    assert [name for name in expected if name not in in_wheel] == []
    assert [name for name in expected if name not in in_sdist] == []
    assert f"Version: {dmarcflow.__version__}\n" in metadata
    assert "Requires-Dist: prometheus-client" in metadata
