"""Elasticsearch 8.x/9.x through the official ``elasticsearch`` client (8.x line), as a ``SearchClient``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from elasticsearch import ApiError, ConnectionTimeout, Elasticsearch, TransportError
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch.exceptions import UnsupportedProductError

try:
    from elasticsearch.serializer import OrjsonSerializer
except ImportError:  # orjson is a dependency of dmarcflow, but an install without it still works
    OrjsonSerializer = None  # type: ignore[assignment,misc]

from dmarcflow.config import ElasticsearchSettings
from dmarcflow.index.client import EngineInfo, EngineRefused, EngineUnreachable, reason_of
from dmarcflow.index.engines.calls import SharedCalls
from dmarcflow.index.urls import redact


def make_client(settings: ElasticsearchSettings) -> Elasticsearch:
    """The raw client for the configured cluster; the retry layer retries, so the client does not."""
    options: dict[str, Any] = {
        "request_timeout": settings.timeout, "max_retries": 0, "retry_on_timeout": False,
        "verify_certs": settings.verify,
    }
    if settings.ca_file:
        options["ca_certs"] = settings.ca_file
    if not settings.verify:
        options["ssl_show_warn"] = False
    if settings.api_key:
        options["api_key"] = settings.api_key
    elif settings.username:
        options["basic_auth"] = (settings.username, settings.password)
    if OrjsonSerializer is not None:  # several times faster at serialising bulk bodies
        options["serializers"] = {"application/json": OrjsonSerializer()}
    return Elasticsearch(settings.url, **options)


NOT_ELASTICSEARCH = ("the server refused the Elasticsearch client: if it is OpenSearch, "
                     'set [index] engine = "opensearch"')
NOT_ACCEPTABLE = 406


def describe(exc: Exception) -> str:
    if isinstance(exc, UnsupportedProductError) or (isinstance(exc, ApiError) and exc.status_code == NOT_ACCEPTABLE):
        return f"HTTP {exc.status_code}: {NOT_ELASTICSEARCH}"
    if isinstance(exc, ApiError):
        return f"HTTP {exc.status_code} {exc.error}: {reason_of(exc.info)}"
    return f"{type(exc).__name__}: {exc}"


class ElasticsearchClient(SharedCalls):
    """``SearchClient`` over an ``elasticsearch.Elasticsearch`` (which it closes on ``close``)."""

    engine = "elasticsearch"
    def __init__(self, raw: Elasticsearch, url: str) -> None:
        self.raw, self.url = raw, redact(url)
        self._dumps = raw.transport.serializers.get_serializer("application/json").dumps

    def _line(self, value: Any) -> bytes:
        line: bytes = self._dumps(value)
        return line

    def _send_bulk(self, body: bytes, filter_path: str) -> Mapping[str, Any]:
        answer: Mapping[str, Any] = self.raw.bulk(operations=body, filter_path=filter_path).body
        return answer

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (EsConnectionError, ConnectionTimeout) as exc:
            raise EngineUnreachable(self.url, type(exc).__name__) from None
        except ApiError as exc:
            raise EngineRefused(self.url, int(exc.status_code), describe(exc), str(exc)) from None
        except TransportError as exc:  # TLS set-up, serialisation: not an answer, not worth a retry
            raise EngineRefused(self.url, 0, describe(exc), str(exc)) from None

    def info(self) -> EngineInfo:
        body = self._call(lambda: self.raw.info().body)
        return EngineInfo("elasticsearch", str(body.get("version", {}).get("number", "")))

    def put_component_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._call(lambda: self.raw.cluster.put_component_template(name=name, **body))

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        self._call(lambda: self.raw.indices.put_index_template(name=name, **body))

    def has_index_template(self, name: str) -> bool:
        return bool(self._call(lambda: self.raw.indices.exists_index_template(name=name)))

    def search(self, index: str, body: Mapping[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._call(lambda: self.raw.search(
            index=index, ignore_unavailable=True, allow_no_indices=True, **body).body)
        return answer


def connect(settings: ElasticsearchSettings) -> ElasticsearchClient:
    return ElasticsearchClient(make_client(settings), settings.url)
