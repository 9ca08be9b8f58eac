"""Structured logs for the API, the operator and the worker: one shape for all three.

PRAZIUM_LOG_FORMAT picks the format of every line a process writes to stderr:

* ``json`` (the default, and what the Helm chart runs): one JSON object per line,
  ``timestamp`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, then the
  context bound for the current request or task (see bind: request id, tenant
  namespace, API key id; namespace, run, task id, attempt), then any ``extra=``
  of the call, and ``exc_info`` for a traceback.
* ``text``: one readable line per record with the context as ``key=value`` at the
  end, for people running ``make up`` in a terminal.

The severity is always under ``level`` (the operator replaces kopf's own JSON
formatter, which says ``severity``, with this one; kopf's reference to the object a
handler works on becomes ``object``).

Logs name API key ids (``key_...``), never keys: as a safety net, anything shaped
like a key (``pzm_...``) and the value of a token-like query parameter is masked
in every line whatever logged it.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import re
import sys
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

# Fields logged with every record of the current request / task. A mutable dict, so
# middleware further in (which learns the caller) can add to what an outer one bound,
# and threads and tasks started by the request (they copy the context) see it too.
_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "prazium_log_context", default=None
)
# Record attributes that are not context: uvicorn's ANSI-coloured copy of the message,
# kopf's per-record settings and flags (its object reference is logged as OBJECT_KEY).
_KOPF_REF = "k8s_ref"
_SKIP = {*RESERVED_ATTRS, "color_message", "settings", "k8s_skip", _KOPF_REF}
LEVEL_KEY = "level"
OBJECT_KEY = "object"
_SECRETS = re.compile(
    r"pzm_[A-Za-z0-9_\-]+|(?<=[?&])([^=&\s\"']*(?:token|key|secret|session"
    r"|password|auth)[^=&\s\"']*=)[^&\s\"']+",
    re.IGNORECASE,
)


def bind(**fields: Any) -> dict[str, Any]:
    """Start a new context for this task/thread (and what it starts) with fields."""
    context = {k: v for k, v in fields.items() if v is not None}
    _CONTEXT.set(context)
    return context


def context() -> dict[str, Any]:
    """The fields bound now (a live dict: adding to it adds to every later line)."""
    return _CONTEXT.get() or {}


def redact(text: str) -> str:
    return _SECRETS.sub(lambda m: f"{m.group(1)}***" if m.group(1) else "pzm_***", text)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """Context fields, overridden by the call's own extra=."""
    extra = {k: v for k, v in record.__dict__.items() if k not in _SKIP and not k.startswith("_")}
    return {**context(), **extra}


class JsonFormatter(_JsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            ["asctime", "levelname", "name", "message"],
            rename_fields={"asctime": "timestamp", "levelname": LEVEL_KEY, "name": "logger"},
            reserved_attrs=list(_SKIP),
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return (
            dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        if isinstance(getattr(record, _KOPF_REF, None), dict):
            log_data[OBJECT_KEY] = getattr(record, _KOPF_REF)
        for key, value in context().items():
            log_data.setdefault(key, value)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        return redact(super().format(record) + (f" [{fields}]" if fields else ""))


def formatter(fmt: str) -> logging.Formatter:
    return TextFormatter() if fmt == "text" else JsonFormatter()


def dict_config(level: str, fmt: str) -> dict[str, Any]:
    """logging.config.dictConfig for a process (uvicorn's log_config): one stderr
    handler on the root logger, uvicorn's loggers propagating to it."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"prazium": {"()": f"{__name__}.formatter", "fmt": fmt}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "prazium",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": level.upper()}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }


def configure(level: str, fmt: str) -> None:
    """Install the stderr handler on the root logger (once; uvicorn may have already)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter | TextFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
