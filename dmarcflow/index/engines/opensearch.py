"""OpenSearch 2.x through ``opensearch-py``, as a ``SearchClient``.

The Elasticsearch client refuses OpenSearch servers (it checks the product header), so
OpenSearch gets its own client; the requests are the same: composable index templates,
bulk with ``op_type: create``, searches with composite aggregations.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OsConnectionError
from opensearchpy.exceptions import OpenSearchException, TransportError

from dmarcflow.config import ElasticsearchSettings
from dmarcflow.errors import ConfigError
from dmarcflow.index.client import EngineInfo, EngineRefused, EngineUnreachable, reason_of
from dmarcflow.index.engines.calls import SharedCalls
from dmarcflow.index.urls import redact


def make_client(settings: ElasticsearchSettings) -> OpenSearch:
    """The raw client; the retry layer retries, so the client does not."""
    if settings.api_key:
        raise ConfigError("[index] api_key: OpenSearch has no API keys; use username and password")
    options: dict[str, Any] = {
        "timeout": settings.timeout, "max_retries": 0, "retry_on_timeout": False,
        "verify_certs": settings.verify, "ssl_show_warn": settings.verify,
    }
    if settings.ca_file:
        options["ca_certs"] = settings.ca_file
    if settings.username:
        options["http_auth"] = (settings.username, settings.password)
    return OpenSearch([settings.url], **options)


def describe(exc: Exception) -> str:
    if isinstance(exc, TransportError) and isinstance(exc.status_code, int):
        return f"HTTP {exc.status_code} {exc.error}: {reason_of(exc.info)}"
    return f"{type(exc).__name__}: {exc}"


class OpenSearchClient(SharedCalls):
    """``SearchClient`` over an ``opensearchpy.OpenSearch`` (which it closes on ``close``)."""

    engine = "opensearch"
    def __init__(self, raw: OpenSearch, url: str) -> None:
        self.raw, self.url = raw, redact(url)

    def _line(self, value: Any) -> bytes:
        line: str | bytes = self.raw.transport.serializer.dumps(value)
        # As the client's transport encodes a text body.
        return line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line

    def _send_bulk(self, body: bytes, filter_path: str) -> Mapping[str, Any]:
        answer: Mapping[str, Any] = self.raw.bulk(body=body, filter_path=filter_path)
        return answer

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except OsConnectionError as exc:  # also ConnectionTimeout and SSLError
            raise EngineUnreachable(self.url, type(exc).__name__) from None
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 0
            raise EngineRefused(self.url, status, describe(exc), str(exc)) from None
        except OpenSearchException as exc:  # serialisation: not an answer, not worth a retry
            raise EngineRefused(self.url, 0, describe(exc), str(exc)) from None

    def info(self) -> EngineInfo:
        body = self._call(self.raw.info)
        version = body.get("version", {})
        return EngineInfo(str(version.get("distribution", "opensearch")), str(version.get("number", "")))

    def put_component_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._call(lambda: self.raw.cluster.put_component_template(name=name, body=dict(body)))

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._call(lambda: self.raw.indices.put_index_template(name=name, body=dict(body)))

    def has_index_template(self, name: str) -> bool:
        return bool(self._call(lambda: self.raw.indices.exists_index_template(name=name)))

    def search(self, index: str, body: Mapping[str, Any]) -> dict[str, Any]:
        params = {k: v for k, v in body.items() if k in ("size", "track_total_hits")}
        request = {k: v for k, v in body.items() if k not in params}
        answer: dict[str, Any] = self._call(lambda: self.raw.search(
            index=index, body=request, ignore_unavailable=True, allow_no_indices=True, **params))
        return answer


def connect(settings: ElasticsearchSettings) -> OpenSearchClient:
    return OpenSearchClient(make_client(settings), settings.url)
