"""Fixtures for the report-kind tests: the samples, and a store filled with them."""

from __future__ import annotations

import email
import gzip
import io
import zipfile
from email.policy import compat32
from pathlib import Path

import pytest

from dmarcflow.kinds.failure import parse_failure_mail
from dmarcflow.kinds.tls import parse_tls
from dmarcflow.store import Store
from dmarcflow.store.failures import FailureReports
from dmarcflow.store.tls import TlsReports
from tests.support.kind_samples import FAILURE_DIR, TLS_DIR

TLS_FILES = sorted(p.name for p in TLS_DIR.iterdir())
FAILURE_FILES = sorted(p.name for p in FAILURE_DIR.iterdir())


def tls_payload(path: Path) -> tuple[bytes, str | None, str | None]:
    """The JSON of a TLS sample and the mail's TLS-Report-Domain / -Submitter headers.

    Only for the parser and store tests, which must not depend on extraction: the real ingest
    finds payloads by content (tests/kinds/test_ingest_kinds.py).
    """
    data = path.read_bytes()
    domain = submitter = None
    if path.suffix == ".eml":
        msg = email.message_from_bytes(data, policy=compat32)
        domain, submitter = msg["TLS-Report-Domain"], msg["TLS-Report-Submitter"]
        data = next(p.get_payload(decode=True) for p in msg.walk() if p.get_filename())
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            data = zf.read(zf.namelist()[0])
    return data, domain, submitter


def store_tls_sample(store: Store, name: str):
    data, domain, submitter = tls_payload(TLS_DIR / name)
    report = parse_tls(data, report_domain=domain, submitter=submitter)
    with store.transaction():
        return TlsReports(store).save(report, source=name, raw=data)


def store_failure_sample(store: Store, name: str, keep_sample: bool = False):
    raw = (FAILURE_DIR / name).read_bytes()
    report = parse_failure_mail(raw)
    with store.transaction():
        return FailureReports(store).save(report, source=name, sample=raw if keep_sample else None)


@pytest.fixture
def kinds_store(store):
    """A store holding every TLS and failure sample."""
    for name in TLS_FILES:
        store_tls_sample(store, name)
    for name in FAILURE_FILES:
        store_failure_sample(store, name)
    return store
