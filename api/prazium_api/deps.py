"""Route dependencies: who is calling (tenant), pagination."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from prazium_api.errors import ApiError
from prazium_api.keys import Principal

# Declared for the OpenAPI document; the check itself ran in ApiGateMiddleware.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer pzm_...")
_cookie = APIKeyCookie(name="prazium_session", auto_error=False)


def current_principal(
    request: Request,
    _token: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    _session: Annotated[str | None, Depends(_cookie)] = None,
) -> Principal:
    principal = request.scope.get("state", {}).get("principal")
    if not isinstance(principal, Principal):
        raise ApiError("UNAUTHORIZED", "missing or invalid credentials")
    return principal


def admin_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_admin:
        raise ApiError("FORBIDDEN", "this route needs an admin API key")
    return principal


Caller = Annotated[Principal, Depends(current_principal)]
Admin = Annotated[Principal, Depends(admin_principal)]


@dataclass(frozen=True)
class Page:
    page: int
    page_size: int

    def apply(self, items: list[Any]) -> tuple[list[Any], dict[str, int]]:
        total = len(items)
        start = (self.page - 1) * self.page_size
        return items[start:start + self.page_size], {
            "page": self.page, "pageSize": self.page_size, "total": total,
            "totalPages": math.ceil(total / self.page_size),
        }


def pagination(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number")] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100,
                                    description="Items per page (max 100)")] = 20,
) -> Page:
    return Page(page, page_size)


Paging = Annotated[Page, Depends(pagination)]


def ok(data: Any, **extra: Any) -> dict[str, Any]:
    return {"success": True, "data": data, **extra}
