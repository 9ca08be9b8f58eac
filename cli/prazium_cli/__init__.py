"""`prazium`: the command line client of the Prazium REST API (/v1).

It talks to the API over HTTP only (httpx), never to Kubernetes or PostgreSQL,
and imports neither prazium_api nor prazium_operator: it works against any
Prazium installation it can reach.
"""

from importlib import metadata

try:
    __version__ = metadata.version("prazium")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "unknown"
