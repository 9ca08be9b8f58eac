"""Prazium's operator: reconciles Projects, Runs and Tasks (group prazium.io)."""

__version__ = "0.1.0"
