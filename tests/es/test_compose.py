"""docker-compose.yml cannot be started here (no Docker daemon): check its shape instead."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from dmarcflow.config import ElasticsearchSettings, load_settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_services_and_pinned_images() -> None:
    assert set(SERVICES) == {"elasticsearch", "kibana-password", "kibana", "setup", "dmarcflow"}
    images = {name: s["image"] for name, s in SERVICES.items()}
    assert images["elasticsearch"] == images["kibana-password"] == "docker.elastic.co/elasticsearch/elasticsearch:8.17.4"
    assert images["kibana"] == "docker.elastic.co/kibana/kibana:8.17.4"
    assert all(re.search(r":\d+\.\d+\.\d+$", image) for image in images.values())


def test_security_on_with_the_password_from_env_and_loopback_ports() -> None:
    es = SERVICES["elasticsearch"]["environment"]
    assert (es["xpack.security.enabled"], es["discovery.type"]) == ("true", "single-node")
    assert es["ELASTIC_PASSWORD"].startswith("${ELASTIC_PASSWORD")
    ports = [p for s in SERVICES.values() for p in s.get("ports", [])]
    assert ports and all(p.startswith("127.0.0.1:") for p in ports)


def test_setup_runs_es_setup_and_kibana_import_then_the_daemon_watches() -> None:
    setup, daemon = SERVICES["setup"], SERVICES["dmarcflow"]
    assert setup["command"] == ["dmarcflow es setup && dmarcflow kibana import --url http://kibana:5601 --username elastic"]
    assert daemon["command"][0] == "watch"
    assert daemon["depends_on"] == {"setup": {"condition": "service_completed_successfully"}}
    assert "./config:/etc/dmarcflow:ro" in daemon["volumes"]
    assert daemon["environment"]["DMARCFLOW_KIBANA_OBJECTS"] == "/etc/dmarcflow/kibana/dmarcflow.ndjson"


def test_env_example_names_every_variable_the_compose_file_uses() -> None:
    used = set(re.findall(r"\$\{([A-Z_]+)", (REPO / "docker-compose.yml").read_text()))
    example = (REPO / ".env.example").read_text()
    defined = {line.split("=", 1)[0] for line in example.splitlines() if line and not line.startswith("#")}
    assert used == defined == {"ELASTIC_PASSWORD", "KIBANA_PASSWORD", "KIBANA_ENCRYPTION_KEY"}


def test_example_config_elasticsearch_section_is_the_defaults(tmp_path) -> None:
    assert load_settings(REPO / "config" / "dmarcflow.example.toml", env={}).elasticsearch == ElasticsearchSettings()


def test_compose_environment_configures_the_client() -> None:
    env = {k: str(v) for k, v in SERVICES["dmarcflow"]["environment"].items() if k.startswith("DMARCFLOW_ELASTICSEARCH")}
    env["DMARCFLOW_ELASTICSEARCH_PASSWORD"] = "pw"
    settings = load_settings(None, env=env).elasticsearch
    assert (settings.url, settings.username, settings.password, settings.replicas) == (
        "http://elasticsearch:9200", "elastic", "pw", 0)
