"""git's own smart-HTTP server, `git http-backend` (a CGI program), for one bare
repository, read-only.

Why http-backend and not dulwich: it is the server git itself ships and tests
against every git client version (protocol v0/v2, shallow, partial clone), it
needs no new dependency, and the API already reads the repositories with the git
CLI (repo.py). Each request starts one http-backend process; the request body
is streamed into it and its output streamed back, so a large pack never sits in
the API's memory.

The process gets a minimal environment (not the API's: no database URL, no
kubeconfig), no user or system git config, and command-line config that makes
it read-only (receive-pack off) whatever the repository's own config says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio

log = logging.getLogger(__name__)

UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
CHUNK = 64 * 1024
MAX_HEADER_BYTES = 64 * 1024
STDERR_KEPT = 4096
WAIT_SECONDS = 30.0

# git -c equivalents that hold whatever the repository's config says: never accept
# a push, trust the repository although another user (the operator) owns it.
_FORCED_CONFIG = (
    ("http.receivepack", "false"),
    ("http.getanyfile", "false"),  # the dumb protocol's raw object files: not served
    ("uploadpack.allowFilter", "true"),  # partial clone (--filter=blob:none)
)


@dataclass(frozen=True)
class CgiRequest:
    """What http-backend needs to know about one HTTP request."""

    method: str
    path: str  # below the repository: "info/refs" or "git-upload-pack"
    query: str = ""
    content_type: str = ""
    content_length: str | None = None
    content_encoding: str = ""
    git_protocol: str = ""  # the Git-Protocol header: "version=2"
    remote_addr: str = ""


@dataclass
class CgiResponse:
    status: int
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes] = field(repr=False)


class BackendFailed(RuntimeError):
    """http-backend ended without a CGI header (it logged why on stderr)."""


def cgi_env(repo: Path, request: CgiRequest) -> dict[str, str]:
    """http-backend's environment: the CGI variables and nothing of the API's own."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(repo),  # no ~/.gitconfig is read (GIT_CONFIG_GLOBAL below)
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_PROJECT_ROOT": str(repo.parent),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{repo.name}/{request.path}",
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.query,
        "CONTENT_TYPE": request.content_type,
        "REMOTE_ADDR": request.remote_addr,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1",
    }
    if request.content_length is not None:
        env["CONTENT_LENGTH"] = request.content_length
    if request.content_encoding:
        env["HTTP_CONTENT_ENCODING"] = request.content_encoding
    if request.git_protocol:
        env["HTTP_GIT_PROTOCOL"] = request.git_protocol
    config = (*_FORCED_CONFIG, ("safe.directory", str(repo)))
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def parse_headers(raw: bytes) -> tuple[int, list[tuple[str, str]]]:
    """A CGI header block -> (status, headers); "Status: 403 Forbidden" sets the status."""
    status = 200
    headers: list[tuple[str, str]] = []
    for line in raw.decode("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name, value = name.strip(), value.strip()
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            headers.append((name, value))
    return status, headers


def _header_end(buffer: bytes) -> tuple[int, int] | None:
    """(end of the header block, start of the body) or None while incomplete."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        at = buffer.find(separator)
        if at >= 0:
            return at, at + len(separator)
    return None


async def serve(repo: Path, request: CgiRequest, body: AsyncIterator[bytes] | None) -> CgiResponse:
    """Run http-backend for one request; its response with the body still streaming.

    The request body is fed in by a task of its own (so neither side of the pipe
    waits on the other); an exception while reading it (say, the body limit) is
    raised here when the process ends without answering. Whoever consumes the
    returned body must iterate it to the end or close it: closing it early ends
    the process (and the upload-pack it started: they share a process group).
    """
    proc = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        env=cgi_env(repo, request),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    feeder = asyncio.ensure_future(_feed(proc.stdin, body))
    stderr = asyncio.ensure_future(proc.stderr.read())
    buffer = b""
    try:
        while (end := _header_end(buffer)) is None:
            chunk = await proc.stdout.read(CHUNK)
            if not chunk or len(buffer) > MAX_HEADER_BYTES:
                error = await _reap(proc, feeder, stderr, kill=bool(chunk))
                raise error or BackendFailed("git http-backend answered no CGI header")
            buffer += chunk
    except BaseException:
        if proc.returncode is None:
            with anyio.CancelScope(shield=True):
                await _reap(proc, feeder, stderr, kill=True)
        raise
    status, headers = parse_headers(buffer[: end[0]])
    return CgiResponse(status, headers, _stream(proc, buffer[end[1] :], feeder, stderr))


async def _feed(stdin: asyncio.StreamWriter, body: AsyncIterator[bytes] | None) -> None:
    try:
        if body is not None:
            async for chunk in body:
                if chunk:
                    stdin.write(chunk)
                    await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # http-backend stopped reading (it answered an error): nothing to feed
    finally:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.close()


async def _stream(
    proc: asyncio.subprocess.Process,
    first: bytes,
    feeder: asyncio.Future[None],
    stderr: asyncio.Future[bytes],
) -> AsyncIterator[bytes]:
    assert proc.stdout is not None
    ended = False
    try:
        if first:
            yield first
        while chunk := await proc.stdout.read(CHUNK):
            yield chunk
        ended = True
    finally:
        # Also when the client went away: the stream is cancelled, the cleanup is not.
        with anyio.CancelScope(shield=True):
            await _reap(proc, feeder, stderr, kill=not ended)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def _reap(
    proc: asyncio.subprocess.Process,
    feeder: asyncio.Future[None],
    stderr: asyncio.Future[bytes],
    *,
    kill: bool,
) -> BaseException | None:
    """Wait for the process (killing it first if asked); log what it said on
    stderr; the exception the request body's reader raised, if any."""
    if kill:
        _kill_group(proc)
    try:
        code = await asyncio.wait_for(proc.wait(), timeout=WAIT_SECONDS)
    except TimeoutError:
        _kill_group(proc)
        code = await proc.wait()
    if not feeder.done():
        feeder.cancel()
    error: BaseException | None = None
    try:
        await feeder
    except asyncio.CancelledError:
        pass
    except Exception as exc:  # the body reader's error, for the caller to answer
        error = exc
    said = b""
    with contextlib.suppress(Exception):
        said = await asyncio.wait_for(stderr, timeout=WAIT_SECONDS)
    if (code != 0 and not kill) or said.strip():
        log.warning(
            "git http-backend exited %s: %s",
            code,
            said[-STDERR_KEPT:].decode("utf-8", "replace").strip(),
        )
    return error
