"""Benchmarks: routing quality on real data (routing) and performance (perf)."""
