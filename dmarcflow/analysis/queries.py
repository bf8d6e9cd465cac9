"""0.1 name of ``dmarcflow.store.rollups``: the summary's SQL moved into the store, which owns every statement.

Importing this module gives the store's module itself, so code (and tests) written against the 0.1 names
(``queries.source_rows(conn, ...)``, ``queries._INDEX_SHARE``) keeps working on the one implementation.
"""

import sys

from dmarcflow.store import rollups

sys.modules[__name__] = rollups
