"""dmarcflow: fetch, parse, store and summarise DMARC aggregate reports."""

__version__ = "0.1.0"
