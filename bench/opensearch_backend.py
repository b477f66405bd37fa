"""The routing benchmark on OpenSearch: records in SQLite, search in a fresh OpenSearch index
on the node at RELAIS_OPENSEARCH_URL (start one with scripts/opensearch-node start)."""
from __future__ import annotations

import uuid

from chalicelib.adapters.opensearch_index import OpenSearchIndex
from chalicelib.bootstrap import Adapters, embedded_adapters, opensearch_client
from chalicelib.config import Settings


def adapters_for_bench(settings: Settings) -> Adapters:
    adapters = embedded_adapters(settings)
    adapters.index = OpenSearchIndex(opensearch_client(settings),
                                     f"relais-bench-{uuid.uuid4().hex[:8]}",
                                     dimensions=adapters.index.dimensions,
                                     half_life_days=settings.recency_half_life_days,
                                     activity_half_life_days=settings.activity_half_life_days)
    return adapters
