"""The search-index projection: SQLite records -> outbox -> Elasticsearch documents -> Kibana.

Modules, one responsibility each:

* ``mapping``  the index template (explicit, ``dynamic: strict``) and index naming;
* ``document`` one stored record (an ``IndexRow``) -> one ECS document with a deterministic ``_id``;
* ``outbox``   the checkpoint and the parked failures in SQLite, and reading what is pending;
* ``elastic``  the client, ``es setup``, one sync pass (``streaming_bulk``, ``op_type: create``), retention;
* ``query``    summaries answered from the index with aggregations;
* ``kibana``   the bundled saved objects: load, adapt to an index prefix, import, export.
"""
