"""The search-index projection: SQLite records -> outbox -> Elasticsearch or OpenSearch documents -> dashboards.

Modules, one responsibility each:

* ``client``    the ``SearchClient`` protocol (the few calls made to an engine) and its two errors;
* ``engines``   one adapter per engine (``elasticsearch``, ``opensearch``); ``connect`` picks it from [index];
* ``retry``     the one retry layer: whole requests and pushed-back bulk items, one backoff;
* ``mapping``   the index template (explicit, ``dynamic: strict``) and index naming;
* ``document``  one stored record (an ``IndexRow``) -> one ECS document with a deterministic ``_id``;
* ``outbox``    the checkpoint and the parked failures in SQLite, and reading what is pending;
* ``templates`` ``index setup``: installing the templates;
* ``sync``      one sync pass (bulk ``op_type: create`` in chunks, checkpoint per chunk);
* ``status``    what the engine holds for a prefix (``index status --cluster``);
* ``retention`` deleting indices past the retention, or all of ours (``--rebuild``);
* ``query``     ``IndexBackend``: the summary's query results answered with aggregations;
* ``hook``      the daemon's after-pass sync (registered as an entry point);
* ``kibana``    the bundled saved objects (Kibana, OpenSearch Dashboards): load, adapt, import, export;
* ``elastic``   the 0.1 API over a raw Elasticsearch client, kept for its callers.
"""
