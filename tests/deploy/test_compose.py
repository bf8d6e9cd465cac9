"""docker-compose.yml and the Dockerfile, checked statically: no Docker engine runs here.

The compose file is validated against the compose-spec schema vendored by check-jsonschema, the
Dockerfile by hadolint; the rest checks what the stack promises: pinned images, loopback ports,
secrets as files, a least-privilege index user, ingestion independent of Kibana, every variable and
secret documented.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from dmarcflow.config import load_settings
from dmarcflow.daemon import load_checked
from tests.support.compose import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    REPO,
    daemon_env,
    dependencies,
    env_example,
    load,
    variables_used,
)

BIN = Path(sys.executable).parent
COMPOSE = load()
SERVICES = COMPOSE["services"]
SECRET_WORDS = re.compile(r"PASSWORD|API_KEY|TOKEN|ENCRYPTIONKEY|SECRET")


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, check=False)


def test_compose_file_is_valid_against_the_compose_spec_schema() -> None:
    done = _check_jsonschema(COMPOSE_FILE)
    assert (done.returncode, done.stdout.strip()) == (0, "ok -- validation done")


def test_the_schema_check_does_catch_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("condition: service_healthy", "condition: when_ready", 1))
    done = _check_jsonschema(broken)
    assert done.returncode == 1
    assert "when_ready" in done.stdout


def test_dockerfile_passes_hadolint() -> None:
    done = subprocess.run([str(BIN / "hadolint"), "--no-color", str(REPO / "Dockerfile")],
                          capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_services_and_pinned_images() -> None:
    assert set(SERVICES) == {"elasticsearch", "es-users", "es-setup", "kibana", "kibana-setup", "dmarcflow"}
    images = {name: s["image"] for name, s in SERVICES.items()}
    assert images["elasticsearch"] == images["es-users"] == "docker.elastic.co/elasticsearch/elasticsearch:8.17.4"
    assert images["kibana"] == "docker.elastic.co/kibana/kibana:8.17.4"
    assert all(re.search(r":\d+\.\d+\.\d+$", image) for image in images.values())


def test_every_published_port_is_on_loopback() -> None:
    ports = [p for s in SERVICES.values() for p in s.get("ports", [])]
    assert ports == ["127.0.0.1:9200:9200", "127.0.0.1:5601:5601", "127.0.0.1:9108:9108"]


def test_ingestion_does_not_wait_for_kibana() -> None:
    assert dependencies(SERVICES, "dmarcflow") == {"es-setup", "es-users", "elasticsearch"}
    assert dependencies(SERVICES, "kibana-setup") == {"kibana", "es-setup", "es-users", "elasticsearch"}


def test_the_daemon_is_healthy_only_while_healthz_answers_200() -> None:
    daemon = SERVICES["dmarcflow"]
    assert daemon["command"][:3] == ["watch", "--http", "0.0.0.0:9108"]
    probe = daemon["healthcheck"]["test"]
    assert probe[:3] == ["CMD", "python", "-c"] and "http://127.0.0.1:9108/healthz" in probe[3]
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile and probe[3] in dockerfile  # the same probe in the image
    assert all(SERVICES[name]["healthcheck"] == {"disable": True} for name in ("es-setup", "kibana-setup"))


def test_secrets_are_files_and_never_environment_values() -> None:
    declared = COMPOSE["secrets"]
    assert all(spec == {"file": f"./secrets/{name}"} for name, spec in declared.items())
    for name, service in SERVICES.items():
        mounted = set(service.get("secrets", []))
        assert mounted <= set(declared), name
        for key, value in service.get("environment", {}).items():
            if SECRET_WORDS.search(key):
                assert key.endswith("_FILE"), f"{name}: {key} holds a secret value"
                assert value.removeprefix("/run/secrets/") in mounted, f"{name}: {key} -> {value} is not mounted"
        used = set(re.findall(r"/run/secrets/(\w+)", repr(service.get("command", "")) + repr(service.get("healthcheck", ""))))
        assert used <= mounted, f"{name} reads {used - mounted} without mounting it"
    script = (REPO / "config" / "docker" / "es-users.sh").read_text()
    assert set(re.findall(r'\$secrets/(\w+)', script)) <= set(SERVICES["es-users"]["secrets"])


def test_the_daemon_connects_as_the_least_privilege_user_not_elastic() -> None:
    env = {k: str(v) for k, v in SERVICES["dmarcflow"]["environment"].items()}
    env["DMARCFLOW_CONFIG"] = str(REPO / "config" / env["DMARCFLOW_CONFIG"].removeprefix("/etc/dmarcflow/"))
    env.pop("DMARCFLOW_ELASTICSEARCH_PASSWORD_FILE")
    env.pop("DMARCFLOW_MAILBOX_PASSWORD_FILE")
    settings = load_settings(None, env=env).elasticsearch
    assert (settings.url, settings.username, settings.index_prefix, settings.replicas) == (
        "http://elasticsearch:9200", "dmarcflow", "dmarcflow", 0)
    assert "elastic" not in {str(v) for v in SERVICES["dmarcflow"]["environment"].values()}


def test_every_variable_is_in_env_example_and_every_secret_in_the_docs() -> None:
    assert variables_used() == set(env_example())
    documented = ENV_EXAMPLE.read_text() + (REPO / "README.md").read_text()
    assert [s for s in COMPOSE["secrets"] if f"secrets/{s}" not in documented] == []


@pytest.mark.parametrize("missing", ["IMAP_HOST", "IMAP_USER"])
def test_the_mailbox_variables_are_required_with_a_message(missing: str) -> None:
    values = {k: v for k, v in env_example().items() if k != missing}
    with pytest.raises(KeyError, match=f"{missing}: set {missing} in .env"):
        load(values)


def test_the_shipped_compose_config_passes_the_daemon_start_checks(tmp_path: Path) -> None:
    """What made the daemon exit 2 in a restart loop: the config as shipped, with the compose environment."""
    env = daemon_env(SERVICES, tmp_path, {"imap_password": "imap-secret\n", "dmarcflow_es_password": "es-secret\n"})
    settings = load_checked(lambda: load_settings(None, env=env))
    [box] = settings.mailboxes
    assert (box.host, box.user, box.password, box.tls, box.effective_port()) == (
        "imap.example.com", "dmarc@example.com", "imap-secret", "implicit", 993)
    assert settings.elasticsearch.password == "es-secret"
    # The CLI's DMARCFLOW_DB (the store in the data volume) and the file's [store] path agree.
    assert str(settings.store.resolved_path()) == SERVICES["dmarcflow"]["environment"]["DMARCFLOW_DB"]

