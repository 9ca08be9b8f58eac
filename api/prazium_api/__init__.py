"""Prazium's /v1 REST facade over the custom resources, the journal and the repos."""

__version__ = "0.1.0"
