"""Publishing: pushing a succeeded run's merged commit to the remote spec.publish names.

The push runs here, in the operator (trusted), never in worker code. Three things
keep the credential where it belongs:

* It is read from the Secret spec.publish.credentialsSecret names in the run's
  own namespace, and handed to git as an `http.extraHeader` through the
  environment (GIT_CONFIG_COUNT/KEY/VALUE): never on a command line (ps shows
  those), never in a file, never in status, events, the journal or a log line.
  Every message that leaves this module has the secret scrubbed out.
* git runs in a throw-away bare repository of its own that borrows the project
  repository's objects (objects/info/alternates): the project repository's
  config and hooks, which worker code can write to through its worktree, are
  never read, so nothing there can redirect the push (url.*.insteadOf), add a
  proxy or run a pre-push hook with the credential in its environment.
* Only http(s) transports are allowed (GIT_ALLOW_PROTOCOL), plain http only when
  the operator is configured to allow it, and git's environment is built from
  scratch (no operator secrets such as the database URL reach it).

The operator pushes from its own network position, which the tenant does not
share, so neither where it may connect nor what the network answered reaches the
tenant:

* A remote whose host is (or resolves to) a loopback, link-local or unspecified
  address is refused unless PRAZIUM_PUBLISH_ALLOW_PRIVATE_TARGETS allows it;
  git is then pinned to the addresses checked (http.curloptResolve), so a second
  DNS answer cannot swap in another.
* Every failure of the push itself (refused, unreachable, TLS, credentials, a
  moved branch, a timeout, a refused address) tells the tenant the same
  PUSH_FAILED; git's own words, which differ by port state (closed, open plain,
  open TLS) and would make publishing a port scanner, are PublishError.detail,
  for the operator's log only.

The push is a fast-forward (never forced): a remote branch that moved on its own
refuses it (non-fast-forward), and the run records that as PublishFailed.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from prazium_kit.models import Publish

DEFAULT_USERNAME = "prazium"
PASSWORD_KEYS = ("password", "token")
MAX_MESSAGE = 600
_PROXY_VARIABLES = (
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)
_USERINFO = re.compile(r"(?i)\b(https?://)[^/@\s]+@")


# What the tenant reads of any failed push (status, Event, journal).
PUSH_FAILED = (
    "the push did not go through: the remote refused it or could not be reached (check"
    " spec.publish's url and branch and the credentials Secret); the operator's log has"
    " the details"
)
# Never a publish target without an admin's leave: this host, and link-local ranges
# (169.254.169.254 is the metadata service of most clouds).
_REFUSED_NETWORKS = {
    "loopback": ("127.0.0.0/8", "::1/128"),
    "link-local": ("169.254.0.0/16", "fe80::/10"),
    "unspecified (this host)": ("0.0.0.0/8", "::/128"),
}


class PublishError(Exception):
    """The push did not happen. str() is what the tenant is told (never a credential;
    for the push itself never the network's answer either); detail is what the
    operator logs (git's own words, the credential scrubbed)."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail or message


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = ""

    @property
    def basic(self) -> str:
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def header(self) -> str:
        return f"Authorization: Basic {self.basic}"

    def secrets(self) -> list[str]:
        """Every form the credential could take in a message, longest first."""
        forms = [self.basic, f"{self.username}:{self.password}", self.password]
        return sorted({form for form in forms if len(form) >= 4}, key=len, reverse=True)

    def __repr__(self) -> str:  # never the password, even in a traceback
        return f"Credentials(username={self.username!r}, password=***)"


def scrub(text: str, credentials: Credentials | None) -> str:
    """text without the credential (in any form) and without user information in URLs."""
    if credentials is not None:
        for secret in credentials.secrets():
            text = text.replace(secret, "***")
    return _USERINFO.sub(r"\1***@", text)


def read_credentials(namespace: str, secret_name: str) -> Credentials:
    """The Basic credentials of a Secret in the run's namespace: password (or token),
    username optional."""
    try:
        secret = client.CoreV1Api().read_namespaced_secret(secret_name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            raise PublishError(
                f"Secret {secret_name} (spec.publish.credentialsSecret) not found in"
                f" namespace {namespace}"
            ) from None
        if exc.status == 403:
            raise PublishError(
                f"the operator may not read Secret {secret_name} in namespace {namespace}"
            ) from None
        raise
    data = secret.data or {}

    def value(key: str) -> str | None:
        raw = data.get(key)
        if raw is None:
            return None
        try:
            return base64.b64decode(raw).decode("utf-8").strip()
        except (binascii.Error, UnicodeDecodeError):
            raise PublishError(f"key {key} of Secret {secret_name} is not UTF-8 text") from None

    password = next((v for key in PASSWORD_KEYS if (v := value(key))), None)
    if not password:
        raise PublishError(
            f"Secret {secret_name} has no key {' or '.join(PASSWORD_KEYS)} (spec.publish"
            ".credentialsSecret: keys username, optional, and password or token)"
        )
    return Credentials(value("username") or DEFAULT_USERNAME, password)


def check_target(target: Publish, allow_http: bool) -> None:
    if target.url.lower().startswith("http://") and not allow_http:
        raise PublishError(
            f"refusing to publish to {target.url} over plain http (the credentials would"
            " cross the network unencrypted); use https, or allow it with"
            " PRAZIUM_PUBLISH_ALLOW_HTTP=true"
        )


def refused_network(address: str) -> str | None:
    """Which refused kind of address this is (loopback, link-local, ...), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # fe80::1%eth0: no zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for kind, networks in _REFUSED_NETWORKS.items():
        if any(ip in ipaddress.ip_network(network) for network in networks):
            return kind
    return None


def resolve_target(url: str) -> tuple[str, int, list[str]]:
    """(host, port, the addresses it resolves to, each an allowed one); PublishError
    (PUSH_FAILED, the reason in detail) for a name that does not resolve or any
    address in a refused network."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise PublishError(PUSH_FAILED, f"cannot resolve {host}: {exc}") from None
    addresses = sorted({str(info[4][0]) for info in found})
    for address in addresses:
        kind = refused_network(address)
        if kind is not None:
            raise PublishError(
                PUSH_FAILED,
                f"refused to push to {host} ({address}): a {kind} address; an admin"
                " allows such remotes with PRAZIUM_PUBLISH_ALLOW_PRIVATE_TARGETS=true",
            )
    return host, port, addresses


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _pinned(host: str, port: int, addresses: list[str]) -> str:
    """http.curloptResolve's HOST:PORT:ADDRESS[,ADDRESS...]: curl connects to the
    addresses checked, never to what a second lookup of the name might answer."""
    listed = ",".join(f"[{a}]" if ":" in a else a for a in addresses)
    return f"{host}:{port}:{listed}"


def _environment(
    home: Path,
    credentials: Credentials | None,
    allow_http: bool,
    resolve: str | None = None,
) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",  # a refused credential fails, it never waits on a prompt
        "GIT_ALLOW_PROTOCOL": "http:https" if allow_http else "https",
        "LC_ALL": "C",  # git's messages in English, as the status shows them
    }
    env.update({name: os.environ[name] for name in _PROXY_VARIABLES if name in os.environ})
    config = [
        ("core.hooksPath", os.devnull),
        ("credential.helper", ""),  # no helper stores or supplies anything
        ("http.followRedirects", "false"),  # the header goes to the named host only
    ]
    if credentials is not None:
        config.append(("http.extraHeader", credentials.header()))
    if resolve is not None:
        config.append(("http.curloptResolve", resolve))
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def push(
    repo: Path,
    commit: str,
    target: Publish,
    credentials: Credentials | None,
    *,
    allow_http: bool,
    timeout: float,
    allow_private_targets: bool = False,
) -> None:
    """Push commit to target.branch of target.url (fast-forward only); PublishError
    (PUSH_FAILED, git's scrubbed words in detail) when the remote or the transport
    refuses, or the remote's address is one refused without allow_private_targets."""
    check_target(target, allow_http)
    resolve = None
    if not allow_private_targets:
        host, port, addresses = resolve_target(target.url)
        if not _is_address(host):  # an address itself: nothing to pin
            resolve = _pinned(host, port, addresses)
    with tempfile.TemporaryDirectory(prefix="prazium-publish-") as tmp:
        home = Path(tmp)
        bare = home / "push.git"
        env = _environment(home, credentials, allow_http, resolve)
        _run(["git", "init", "--quiet", "--bare", str(bare)], env, timeout, credentials)
        (bare / "objects" / "info" / "alternates").write_text(f"{repo / 'objects'}\n")
        _run(
            [
                "git",
                "--git-dir",
                str(bare),
                "push",
                "--porcelain",
                "--no-verify",
                "--end-of-options",
                target.url,
                f"{commit}:refs/heads/{target.branch}",
            ],
            env,
            timeout,
            credentials,
        )


def _run(
    args: list[str], env: dict[str, str], timeout: float, credentials: Credentials | None
) -> str:
    try:
        proc = subprocess.run(
            args,
            env=env,
            cwd=env["HOME"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise PublishError(PUSH_FAILED, f"the push did not finish within {timeout:g} s") from None
    if proc.returncode != 0:
        said = "\n".join(
            line.strip()
            for line in f"{proc.stderr}\n{proc.stdout}".splitlines()
            if line.strip() and line.strip() != "Done"
        )
        said = scrub(said, credentials)[-MAX_MESSAGE:] or f"git exited {proc.returncode}"
        if "could not read Username" in said:  # the remote answered 401 to what was sent
            said = (
                "the remote refused the credentials of spec.publish.credentialsSecret"
                if credentials is not None
                else "the remote wants credentials: set spec.publish.credentialsSecret"
            ) + f" (HTTP 401; git: {said})"
        raise PublishError(PUSH_FAILED, said)
    return proc.stdout
