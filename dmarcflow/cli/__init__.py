"""The `dmarcflow` command line: a thin layer of click commands over the library.

The root group lives in `app.py`; each command module (`ingest`, `summary`, `mailbox`, `index`, `dashboards`) defines
its commands on it and is imported when one of its commands is used (`app.COMMAND_MODULES`).
"""

from dmarcflow.cli.app import main

__all__ = ["main"]
