"""Type names for the Kubernetes I/O edge."""

from __future__ import annotations

from typing import Any

# A Kubernetes object or a part of one as the client returns it (parsed JSON).
Obj = dict[str, Any]

# A JSON object from or for an I/O edge other than Kubernetes (a language model's
# answer, a JSON schema sent to a provider): values stay `object`, so a reader
# narrows each one with isinstance before using it.
JsonObject = dict[str, object]
