"""``index setup``: the component and index templates on the engine, installed idempotently."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from dmarcflow.config import ElasticsearchSettings
from dmarcflow.errors import IndexingError
from dmarcflow.index import mapping
from dmarcflow.index.client import EngineError, SearchClient
from dmarcflow.index.feed import Feed, feeds

log = logging.getLogger(__name__)

# Who may install templates, in each engine's own words.
_PRIVILEGE = {
    "elasticsearch": "run `dmarcflow es setup` as a user with manage_index_templates",
    "opensearch": "run `dmarcflow index setup` as a user with the cluster_manage_index_templates permission",
}


@dataclass(frozen=True)
class SetupResult:
    index_template: str
    component_templates: tuple[str, ...]
    index_pattern: str
    # The other report kinds' index templates (TLS, failure reports); not part of the 0.1 result's equality.
    families: tuple[str, ...] = field(default=(), compare=False)


def setup(client: SearchClient, settings: ElasticsearchSettings) -> SetupResult:
    """Install (or update to the same content) the component and index templates: idempotent."""
    prefix = mapping.check_prefix(settings.index_prefix)
    template, mappings_name, settings_name = mapping.template_names(prefix)
    bodies = mapping.component_templates(settings.shards, settings.replicas)
    try:
        client.put_component_template(mappings_name, bodies["mappings"])
        client.put_component_template(settings_name, bodies["settings"])
        client.put_index_template(template, mapping.index_template(prefix))
        families = tuple(_put_family(client, settings, feed) for feed in feeds() if feed.mappings() is not None)
    except EngineError as exc:
        raise IndexingError(f"cannot install the index templates on {client.url} "
                            f"({_PRIVILEGE[client.engine]}): {exc.description}") from None
    return SetupResult(template, (mappings_name, settings_name), mapping.index_pattern(prefix), families)


# Above the aggregate family's 200: its pattern <prefix>-* also matches <prefix>-tls-..., and the
# engine applies the matching template of highest priority.
_FAMILY_PRIORITY = 210


def _put_family(client: SearchClient, settings: ElasticsearchSettings, feed: Feed) -> str:
    """One report kind's templates: its strict mappings, the shared settings, its index pattern."""
    family = feed.family(mapping.check_prefix(settings.index_prefix))
    template, mappings_name, settings_name = mapping.template_names(family)
    body = feed.mappings()
    assert body is not None
    client.put_component_template(mappings_name, {"template": {"mappings": body}, "version": mapping.TEMPLATE_VERSION})
    client.put_component_template(settings_name, mapping.component_templates(settings.shards, settings.replicas)["settings"])
    client.put_index_template(template, {**mapping.index_template(family), "priority": _FAMILY_PRIORITY})
    return template


def ensure_family(client: SearchClient, settings: ElasticsearchSettings, feed: Feed) -> bool:
    """``ensure_template`` for one report kind's family."""
    family = feed.family(settings.index_prefix)
    if client.has_index_template(family):
        return False
    log.warning("index template %s missing on %s: installing it", family, client.url)
    try:
        _put_family(client, settings, feed)
    except EngineError as exc:
        raise IndexingError(f"cannot install the index templates on {client.url} "
                            f"({_PRIVILEGE[client.engine]}): {exc.description}") from None
    return True


def ensure_template(client: SearchClient, settings: ElasticsearchSettings) -> bool:
    """Install the templates if the index template is missing; True if it had to.

    Errors of the existence check propagate as the client raised them (the caller retries them).
    """
    if client.has_index_template(settings.index_prefix):
        return False
    log.warning("index template %s missing on %s: installing it", settings.index_prefix, client.url)
    setup(client, settings)
    return True
