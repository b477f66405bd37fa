"""Use cases of Relais. Each service takes its ports in its constructor (see bootstrap)."""
