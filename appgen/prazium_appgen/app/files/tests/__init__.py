"""HTTP-level tests; run ``python -m unittest discover -s tests -t . -v`` from the root."""
