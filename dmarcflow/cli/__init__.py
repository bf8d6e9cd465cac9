"""The `dmarcflow` command line: a thin layer of click commands over the library.

Each command module registers its commands on the `main` group; see
`_register` at the bottom.
"""

from __future__ import annotations

from dmarcflow.cli.app import main
from dmarcflow.cli import ingest as _ingest  # noqa: F401  (registers commands)


def _register() -> None:
    """Optional command modules (added by later features) register themselves here."""
    import importlib

    for name in ("summary", "mailbox", "es"):
        try:
            importlib.import_module(f"dmarcflow.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"dmarcflow.cli.{name}":
                raise


_register()

__all__ = ["main"]
