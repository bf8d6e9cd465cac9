"""URLs in messages and logs: never with the credentials a URL may carry."""

from __future__ import annotations

from urllib.parse import urlsplit


def redact(url: str) -> str:
    """``scheme://host[:port]/path`` without any ``user:password@``."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
