"""The API's router: every route answers exactly the keys its answer set.

With response_model_exclude_unset, FastAPI serializes a handler's answer (a model
of contract/responses.py in its envelope) with only the fields that were set:
optional keys a view leaves unset stay out, as the contract shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter


class ApiRouter(APIRouter):
    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # Always: the decorators pass False explicitly, and include_router copies it.
        kwargs["response_model_exclude_unset"] = True
        super().add_api_route(path, endpoint, **kwargs)
