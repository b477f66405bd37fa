"""The indexer: evidence documents from profiles and answers -> embeddings -> SearchIndex."""
