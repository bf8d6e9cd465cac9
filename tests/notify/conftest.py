"""Fixtures for the digest and alert tests: a test CA, SMTP servers and webhook receivers on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.smtp_server import SmtpServer, CertAuthority, WebhookReceiver, make_test_ca


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> CertAuthority:
    return make_test_ca(tmp_path_factory.mktemp("smtp-ca"))


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """Plain SMTP on loopback, no login."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as hook:
        yield hook


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "webhook.secret"
    path.write_text("s3cret-for-hmac\n")
    return path
