"""Entry points of the indexer (chalicelib.services.indexing): `python -m indexer reindex`
and the DynamoDB stream Lambda (lambda_handler)."""
