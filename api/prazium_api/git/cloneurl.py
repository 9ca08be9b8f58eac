"""The URL `git clone` takes for a project: <base>/v1/projects/<projectId>/git.

The base is PRAZIUM_EXTERNAL_URL when set (the address clients reach the API at,
say behind an Ingress), else the base URL of the request being answered (its
scheme, Host header and root path, as uvicorn saw them after any trusted proxy's
X-Forwarded-* headers).
"""

from __future__ import annotations

from starlette.requests import Request

from prazium_api.settings import ApiSettings

GIT_PATH = "/v1/projects/{project_id}/git"


def base_url(request: Request, settings: ApiSettings) -> str:
    return (settings.external_url or str(request.base_url)).rstrip("/")


def clone_url(base: str, project_id: str) -> str:
    return base + GIT_PATH.format(project_id=project_id)
