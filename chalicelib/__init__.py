"""Relais: an expertise directory and Q&A service that relays questions to colleagues."""
