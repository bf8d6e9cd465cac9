"""``index setup``: the component and index templates on the engine, installed idempotently."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dmarcflow.config import ElasticsearchSettings
from dmarcflow.errors import IndexingError
from dmarcflow.index import mapping
from dmarcflow.index.client import EngineError, SearchClient

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


def setup(client: SearchClient, settings: ElasticsearchSettings) -> SetupResult:
    """Install (or update to the same content) the component and index templates: idempotent."""
    prefix = mapping.check_prefix(settings.index_prefix)
    template, mappings_name, settings_name = mapping.template_names(prefix)
    bodies = mapping.component_templates(settings.shards, settings.replicas)
    try:
        client.put_component_template(mappings_name, bodies["mappings"])
        client.put_component_template(settings_name, bodies["settings"])
        client.put_index_template(template, mapping.index_template(prefix))
    except EngineError as exc:
        raise IndexingError(f"cannot install the index templates on {client.url} "
                            f"({_PRIVILEGE[client.engine]}): {exc.description}") from None
    return SetupResult(template, (mappings_name, settings_name), mapping.index_pattern(prefix))


def ensure_template(client: SearchClient, settings: ElasticsearchSettings) -> bool:
    """Install the templates if the index template is missing; True if it had to.

    Errors of the existence check propagate as the client raised them (the caller retries them).
    """
    if client.has_index_template(settings.index_prefix):
        return False
    log.warning("index template %s missing on %s: installing it", settings.index_prefix, client.url)
    setup(client, settings)
    return True
