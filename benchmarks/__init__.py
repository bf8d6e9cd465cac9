"""Benchmarks and synthetic DMARC aggregate-report data (see generator.py)."""
