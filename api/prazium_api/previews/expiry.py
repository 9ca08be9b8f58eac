"""Previews expire: every API replica sweeps now and then (app.py starts the loop),
stopping each preview whose expires_at has passed and finishing every stop that
was cut short (its record "stopped" but its objects not yet removed).

Why the API and not the operator: the previews' records live in the API's table
and their objects are made by the API with its own rights in tenant namespaces;
the operator knows neither. Several replicas sweeping at once is safe: each locks
the rows it works on with FOR UPDATE SKIP LOCKED (records.sweep), so a preview
is removed by one replica, and removing one twice is harmless (teardown skips
what is gone).
"""

from __future__ import annotations

import logging

from prazium_api.db import Database
from prazium_api.previews import deploy, records
from prazium_api.previews.records import DeploymentRecord
from prazium_api.settings import ApiSettings

log = logging.getLogger(__name__)


def expired_message(record: DeploymentRecord) -> str:
    """Why the sweep stopped it, with the lifetime it was given when made."""
    lifetime = round((record.expires_at - record.created_at).total_seconds())
    hours, rest = divmod(lifetime, 3600)
    if hours and not rest:
        return f"expired after {hours} h"
    minutes, seconds = divmod(lifetime, 60)
    if minutes and not seconds:
        return f"expired after {minutes} min"
    return f"expired after {lifetime} s"


def sweep(settings: ApiSettings, database: Database) -> list[str]:
    """One sweep; the ids of the previews it stopped or finished stopping."""

    def remove(record: DeploymentRecord) -> None:
        deploy.remove(settings, record.namespace, record.id)

    done = records.sweep(database, remove, expired_message)
    if done:
        log.info("stopped %d expired preview(s): %s", len(done), ", ".join(done))
    return done
