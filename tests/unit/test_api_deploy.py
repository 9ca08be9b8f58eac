"""How a preview's status follows its Deployment, how the entry point is found, where
its data lives, and what an expired one says."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from prazium_api.contract.errors import ApiError
from prazium_api.previews import deploy, expiry
from prazium_api.previews.records import DeploymentRecord
from prazium_api.settings import ApiSettings


def _deployment(available: int = 0, conditions: list | None = None) -> dict:
    return {"status": {"availableReplicas": available, "conditions": conditions or []}}


def test_available_replica_is_live() -> None:
    assert deploy.status_of(_deployment(available=1)) == "live"


def test_rollout_in_progress_is_deploying() -> None:
    progressing = {"type": "Progressing", "status": "True"}
    assert deploy.status_of(_deployment(conditions=[progressing])) == "deploying"
    assert deploy.status_of({"metadata": {}}) == "deploying"


def test_stalled_rollout_is_failed() -> None:
    stalled = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    assert deploy.status_of(_deployment(conditions=[stalled])) == "failed"
    quota = {"type": "ReplicaFailure", "status": "True"}
    assert deploy.status_of(_deployment(conditions=[quota])) == "failed"


def test_entry_point_from_package_run_script_or_readme() -> None:
    assert deploy.entry_command({"app/__main__.py": 1}, "") == ["python", "-m", "app"]
    assert deploy.entry_command({"run.sh": 1}, "") == ["sh", "run.sh"]
    assert deploy.entry_command({"x.py": 1}, "Run: `python3 -m notes.web`") == [
        "python",
        "-m",
        "notes.web",
    ]
    with pytest.raises(ApiError):
        deploy.entry_command({"x.py": 1}, "no idea")


def _meta() -> dict:
    return {"name": "pzd-0a1b2c3d4e", "namespace": "t-team", "labels": {"a": "b"}}


def test_preview_data_on_a_claim_of_the_clusters_storage() -> None:
    settings = ApiSettings(deploy_data="claim", deploy_data_size="1Gi")
    claim, volume, host_dir = deploy._data(settings, _meta())
    assert volume is None and host_dir is None
    assert claim is not None and claim["kind"] == "PersistentVolumeClaim"
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
    }  # no class named: the cluster's default StorageClass provisions it
    fast = ApiSettings(deploy_data="claim", deploy_data_storage_class="fast")
    claim, _, _ = deploy._data(fast, _meta())
    assert claim is not None and claim["spec"]["storageClassName"] == "fast"


def test_preview_data_in_a_host_directory_bound_by_name(tmp_path: Path) -> None:
    settings = ApiSettings(deploy_data="host", data_dir=tmp_path)
    claim, volume, host_dir = deploy._data(settings, _meta())
    assert host_dir == tmp_path / "previews" / "t-team" / "pzd-0a1b2c3d4e"
    assert claim is not None and volume is not None
    # The claim names its volume and the volume its claim: nothing else binds them.
    assert claim["spec"]["volumeName"] == volume["metadata"]["name"] == "pzd-0a1b2c3d4e"
    assert claim["spec"]["storageClassName"] == volume["spec"]["storageClassName"] == ""
    assert volume["spec"]["claimRef"] == {"namespace": "t-team", "name": "pzd-0a1b2c3d4e"}
    assert volume["spec"]["hostPath"] == {"path": str(host_dir), "type": "Directory"}
    assert "namespace" not in volume["metadata"]  # cluster-scoped
    elsewhere = ApiSettings(deploy_data="host", deploy_data_host_dir="/srv/previews")
    assert deploy.host_data_dir(elsewhere, "t-team", "x") == Path("/srv/previews/t-team/x")


def test_preview_data_none_is_an_empty_dir() -> None:
    assert deploy._data(ApiSettings(deploy_data="none"), _meta()) == (None, None, None)


def test_the_pod_keeps_the_apps_database_on_the_data_volume() -> None:
    data = {"persistentVolumeClaim": {"claimName": "pzd-x"}}
    pod = deploy._pod_spec("python:3.11-slim", ["python", "-m", "app"], "pzd-x", [], data)
    container = pod["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["APP_DATABASE"] == "/data/app.sqlite3"
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["data"]["mountPath"] == "/data" and not mounts["data"].get("readOnly")
    assert {"name": "data", **data} in pod["volumes"]
    assert pod["securityContext"]["fsGroup"] == deploy.NOBODY_UID
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def _record(lifetime: dt.timedelta) -> DeploymentRecord:
    made = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return DeploymentRecord(
        "dep_x", "t", "p", "r", "kubernetes", "live", None, None, made, made + lifetime, None
    )


def test_an_expired_preview_says_the_lifetime_it_had() -> None:
    assert expiry.expired_message(_record(dt.timedelta(hours=24))) == "expired after 24 h"
    assert expiry.expired_message(_record(dt.timedelta(minutes=2))) == "expired after 2 min"
    assert expiry.expired_message(_record(dt.timedelta(seconds=45))) == "expired after 45 s"
    assert expiry.expired_message(_record(dt.timedelta(seconds=90))) == "expired after 90 s"
