"""What the numbers ran on: cores, CPU model, memory, Python and library versions."""

from __future__ import annotations

import os
import platform
import sqlite3
from importlib import metadata


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def describe() -> dict[str, object]:
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_gb": _ram_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_avg_at_start": load_average(),
        "checkout": checkout(),
        "sqlite": sqlite3.sqlite_version,
        "versions": {d: _version(d) for d in ("lxml", "parsedmarc", "elasticsearch", "imapclient", "orjson")},
    }


def compile_bytecode() -> str:
    """Byte-compile the dmarcflow being measured, as ``pip install`` does for a wheel.

    Under PYTHONDONTWRITEBYTECODE (set on some machines, this one included) an editable checkout never
    gets its ``.pyc`` files, and every measured process would compile ~70 modules from source: a cost
    no installed copy pays.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("dmarcflow")
    folders = list(spec.submodule_search_locations or []) if spec else []
    ok = all(compileall.compile_dir(folder, quiet=1) for folder in folders)
    return f"compiled before the run ({', '.join(folders)})" if ok and folders else "not compiled"


def checkout() -> dict[str, object]:
    """The commit measured, and whether dmarcflow's package differs from it (None: not a git checkout)."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "dmarcflow"], cwd=root, capture_output=True,
                               text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dmarcflow_modified": None}
    return {"commit": head.stdout.strip(), "dmarcflow_modified": bool(dirty.stdout.strip())}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def one_line(info: dict[str, object]) -> str:
    return (f"{info['nproc']} cores, {info['cpu']}, {info['ram_gb']} GB RAM, {info['os']}, "
            f"Python {info['python']}, SQLite {info['sqlite']}, load average at start {info['load_avg_at_start']}")
