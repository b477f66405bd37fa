"""Adapters: the technologies behind the ports (SQLite, DynamoDB, search engines, mail)."""
