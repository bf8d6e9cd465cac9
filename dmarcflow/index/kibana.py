"""Kibana and OpenSearch Dashboards saved objects: load the bundled NDJSON, adapt it to an index
prefix, import or export it.

The objects (one data view on ``@timestamp``, aggregation-based visualizations and a dashboard)
ship inside the package in ``dmarcflow/resources/kibana/``: ``dmarcflow.ndjson`` for Kibana,
``opensearch-dashboards.ndjson`` for OpenSearch Dashboards (the same panels, stamped with that
product's migration versions). Import goes through the product's saved-objects API
(``POST /api/saved_objects/_import?overwrite=true``, the same in both), so re-importing updates them in place.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from email.message import Message
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from dmarcflow.errors import IndexingError
from dmarcflow.index.urls import redact
from dmarcflow.package_data import resource

DATA_VIEW_ID = "dmarcflow-data-view"
DEFAULT_PREFIX = "dmarcflow"


@dataclass(frozen=True)
class Product:
    """What differs between Kibana and OpenSearch Dashboards for the saved objects."""

    name: str
    objects_file: str  # beside the Kibana objects
    env_path: str  # environment variable naming another objects file
    xsrf_header: str  # the header the saved-objects API requires on writes


KIBANA = Product("Kibana", "dmarcflow.ndjson", "DMARCFLOW_KIBANA_OBJECTS", "kbn-xsrf")
DASHBOARDS = Product("OpenSearch Dashboards", "opensearch-dashboards.ndjson", "DMARCFLOW_DASHBOARDS_OBJECTS",
                     "osd-xsrf")


class KibanaError(IndexingError):
    """Kibana (or OpenSearch Dashboards) refused the import, or could not be reached."""


def bundled_path(product: Product = KIBANA) -> Path | Traversable:
    """``$DMARCFLOW_KIBANA_OBJECTS`` (``$DMARCFLOW_DASHBOARDS_OBJECTS``), else the objects shipped in the package."""
    if os.environ.get(product.env_path):
        return Path(os.environ[product.env_path])
    return resource("kibana", product.objects_file)


def load(path: Path | Traversable) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise KibanaError(f"cannot read the saved objects at {path}: {exc.strerror}") from None
    objects = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            objects.append(json.loads(line))
        except ValueError as exc:
            raise KibanaError(f"{path}:{number}: not JSON: {exc}") from None
    return objects


def data_view_titles(prefix: str) -> dict[str, str]:
    """Data view id -> the index pattern it covers: ``{prefix}-*`` for aggregate records, and one per other
    report kind on its own family (``dmarcflow-tls-data-view``: ``{prefix}-tls-*``, ...)."""
    from dmarcflow.index.feed import feeds

    titles = {DATA_VIEW_ID: f"{prefix}-*"}
    for feed in feeds():
        if feed.mappings() is not None:
            titles[f"{DEFAULT_PREFIX}-{feed.kind}-data-view"] = f"{feed.family(prefix)}-*"
    return titles


def adapt(objects: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """The same objects with each data view covering its family under ``prefix`` (ids stay, so imports replace)."""
    titles = data_view_titles(prefix)
    out = []
    for obj in objects:
        if obj.get("type") == "index-pattern" and obj.get("id") in titles:
            out.append({**obj, "attributes": {**obj["attributes"], "title": titles[obj["id"]]}})
        else:
            out.append(obj)
    return out


def dumps(objects: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n" for obj in objects)


@dataclass(frozen=True)
class KibanaAuth:
    username: str = ""
    password: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)

    def header(self) -> str | None:
        if self.api_key:
            return f"ApiKey {self.api_key}"
        if self.username:
            import base64

            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return f"Basic {token}"
        return None


@dataclass(frozen=True)
class KibanaTarget:
    url: str
    auth: KibanaAuth = KibanaAuth()
    space: str = ""  # Kibana space
    ca_file: str = ""
    verify: bool = True
    timeout: float = 60.0
    product: Product = KIBANA
    tenant: str = ""  # OpenSearch Dashboards security tenant (empty: the user's current one)

    def endpoint(self, path: str) -> str:
        base = self.url.rstrip("/")
        return f"{base}/s/{self.space}{path}" if self.space else f"{base}{path}"


@dataclass(frozen=True)
class ImportResult:
    imported: int


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be Kibana's base URL, or None when it can."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host name, e.g. http://localhost:5601"
    return None


def safe_url(url: str) -> str:
    return redact(url)


def import_objects(target: KibanaTarget, objects: list[dict[str, Any]]) -> ImportResult:
    """Post the objects as one NDJSON file; overwrite=true makes a re-import an update."""
    boundary = uuid.uuid4().hex
    body = _multipart(boundary, "dmarcflow.ndjson", dumps(objects).encode("utf-8"))
    request = urllib.request.Request(  # noqa: S310 - an http(s) URL from [kibana] (checked in config_checks)
        target.endpoint("/api/saved_objects/_import?overwrite=true"), data=body, method="POST",
        headers={target.product.xsrf_header: "dmarcflow", "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    if (auth := target.auth.header()) is not None:
        request.add_header("Authorization", auth)
    if target.tenant:
        request.add_header("securitytenant", target.tenant)
    answer = _send(request, target)
    if not answer.get("success", False):
        errors = "; ".join(_describe_error(e) for e in answer.get("errors", [])[:10]) or json.dumps(answer)[:300]
        raise KibanaError(f"{target.product.name} at {safe_url(target.url)} refused the import: {errors}")
    return ImportResult(int(answer.get("successCount", 0)))


def _multipart(boundary: str, filename: str, payload: bytes) -> bytes:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
    ).encode()
    return head + payload + f"\r\n--{boundary}--\r\n".encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is reported, never followed: the credentials go to the --url host and nowhere else."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: Message, newurl: str) -> None:
        return None


def _send(request: urllib.request.Request, target: KibanaTarget) -> dict[str, Any]:
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
    if request.full_url.startswith("https:"):
        context = ssl.create_default_context(cafile=target.ca_file or None)
        if not target.verify:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        handlers.append(urllib.request.HTTPSHandler(context=context))
    where, name = safe_url(target.url), target.product.name
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=target.timeout) as response:
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
            return answer
    except urllib.error.HTTPError as exc:
        raise KibanaError(_refusal(name, where, exc)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise KibanaError(f"cannot reach {name} at {where}: {reason}") from None
    except ValueError:
        raise KibanaError(f"{name} at {where} answered something that is not JSON") from None


def _refusal(name: str, where: str, exc: urllib.error.HTTPError) -> str:
    if 300 <= exc.code < 400:
        location = safe_url(urljoin(exc.geturl(), exc.headers.get("Location", "")))
        return (f"{name} at {where} answered HTTP {exc.code}, a redirect to {location}: not followed, so that "
                f"the credentials are sent nowhere else; give --url the address {name} itself answers on")
    detail = exc.read()[:300].decode("utf-8", "replace")
    hint = " (check --username/--password or --api-key)" if exc.code in (401, 403) else ""
    return f"{name} at {where} answered HTTP {exc.code}{hint}: {detail}"


def _describe_error(error: dict[str, Any]) -> str:
    kind = error.get("error", {}).get("type", "error")
    return f"{error.get('type')} {error.get('id')}: {kind}"
