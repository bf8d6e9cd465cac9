"""docker-compose.yml read the way `docker compose` reads it, as far as needed without a Docker engine.

Variables are substituted from .env.example (``${VAR}``, ``${VAR:-default}``, ``${VAR:?message}``,
``$$`` for a literal ``$``); YAML anchors and merge keys are resolved by the YAML loader.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def variables_used(text: str | None = None) -> set[str]:
    text = COMPOSE_FILE.read_text() if text is None else text
    return {m.group(1) for m in _VARIABLE.finditer(text) if m.group(1)}


def substitute(text: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if name in values and (values[name] or op not in (":-", ":?")):
            return values[name]
        if op in ("-", ":-"):
            return arg
        if op in ("?", ":?"):
            raise KeyError(f"{name}: {arg}")
        return ""

    return _VARIABLE.sub(one, text)


def load(values: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose file with variables substituted (from .env.example unless values are given)."""
    text = substitute(COMPOSE_FILE.read_text(), env_example() if values is None else values)
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def dependencies(services: dict[str, Any], name: str) -> set[str]:
    """Every service `name` waits for, directly or through others."""
    found: set[str] = set()
    todo = list(services[name].get("depends_on", {}))
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(services[current].get("depends_on", {}))
    return found


def daemon_env(services: dict[str, Any], root: Path, secrets: dict[str, str]) -> dict[str, str]:
    """The daemon's compose environment, with its container paths mapped to this machine: the config
    folder to the checkout's config/, the data volume to root/data, /run/secrets to root/secrets."""
    secrets_dir = root / "secrets"
    secrets_dir.mkdir()
    for name, value in secrets.items():
        (secrets_dir / name).write_text(value)
    mapping = {"/etc/dmarcflow/": f"{REPO / 'config'}/", "/var/lib/dmarcflow/": f"{root / 'data'}/",
               "/run/secrets/": f"{secrets_dir}/"}
    env = {}
    for key, value in services["dmarcflow"]["environment"].items():
        text = str(value)
        for container, here in mapping.items():
            text = text.replace(container, here)
        env[key] = text
    return env
