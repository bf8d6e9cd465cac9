"""Files shipped inside the package (``dmarcflow/resources/``), read through importlib.resources.

Users install a wheel, so nothing may be read from the source tree. Every data file the package
reads at run time lives under ``dmarcflow/resources/`` and is reached through ``resource()``;
``pyproject.toml`` ships that whole folder (``resources/**/*``), and the test command runs the
suite against the installed wheel, so a file left out of the package fails CI.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

PACKAGE = "dmarcflow"


def resource(*parts: str) -> Traversable:
    """``dmarcflow/resources/<parts...>`` of the installed package (it may not exist: check ``is_file()``)."""
    return resources.files(PACKAGE).joinpath("resources", *parts)
