"""The API's router: every route answers exactly the keys its answer set, and every
id in its path is checked to be well formed before anything looks it up.

With response_model_exclude_unset, FastAPI serializes a handler's answer (a model
of contract/responses.py in its envelope) with only the fields that were set:
optional keys a view leaves unset stay out, as the contract shows them.

Path ids ({projectId}, {runId}, {taskId}, {exportId}, {deploymentId}, {keyId},
and any added later by that name) pass one check, prazium_kit.ids.well_formed:
a malformed one (a NUL byte that PostgreSQL refuses in text, a trailing newline, a
very long string) is 400 VALIDATION_ERROR naming the parameter; a well-formed id
that names nothing stays 404. The check runs after the credential check the
router's include adds (FastAPI solves those dependencies first).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request

from prazium_api.contract.errors import ApiError
from prazium_kit import ids

_PATH_ID = re.compile(r"\{([A-Za-z]+Id)\}")


async def well_formed_path_ids(request: Request) -> None:
    for name, value in request.path_params.items():
        if name.endswith("Id") and not ids.well_formed(str(value)):
            # The value is not echoed: it is what the log and the client should not get.
            message = (
                f"{name} is not a well-formed id: letters, digits, '_' and '-',"
                f" at most {ids.API_ID_MAX} characters"
            )
            field = {"field": name, "location": "path", "message": message}
            raise ApiError("VALIDATION_ERROR", message, {"fields": [field]})


class ApiRouter(APIRouter):
    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # Always: the decorators pass False explicitly, and include_router copies it.
        kwargs["response_model_exclude_unset"] = True
        if _PATH_ID.search(path):
            kwargs["dependencies"] = [
                *(kwargs.get("dependencies") or []),
                Depends(well_formed_path_ids),
            ]
        super().add_api_route(path, endpoint, **kwargs)
