"""Type names for the Kubernetes I/O edge."""

from __future__ import annotations

from typing import Any

# A Kubernetes object or a part of one as the client returns it (parsed JSON).
Obj = dict[str, Any]
