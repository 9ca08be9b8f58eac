"""Delivering a verified run, just before it is marked succeeded: the tag
run-<runId> on its merged commit (what `git clone` / `git fetch` of the API's
git URL see per run), then the push to spec.publish if the Run or its Project
names a remote.

A refused push does not fail the run: its code is built, verified, on main and
tagged (clonable), only the copy elsewhere is missing. The run ends succeeded
with the condition Published=False (reason PublishFailed), status.publish
{phase: failed, message}, a Warning Event PublishFailed, the journal event
PUBLISH_FAILED and the reason at the end of its message - for a failed push
itself one generic reason, with git's own words in the operator's log only;
fixing the remote or the Secret and starting a new run publishes again (the
push carries all history).
A push that went through: status.publish {phase: succeeded, url, branch, commit,
pushedAt}, Published=True, Event Published, PUBLISH_COMPLETED.

Both steps come before the final status, so whoever sees the run succeeded finds
the tag and the publish outcome in place, and the journal's final event stays
the last. After an operator restart the run resumes at verifying and comes
here again: the tag is kept, the push of the same commit is a no-op.
"""

from __future__ import annotations

import asyncio
import logging

from prazium_kit import ids, journal
from prazium_kit.models import Condition, ConditionStatus, Publish, PublishStatus
from prazium_kit.timefmt import utc_now
from prazium_operator import gitrepo, publish
from prazium_operator.reconcilers.run.context import (
    RunContext,
    apiserver,
    event,
    generation,
    k8s_event,
    set_status,
)
from prazium_operator.status.conditions import MAX_MESSAGE

log = logging.getLogger(__name__)
PUBLISHED = "Published"


def tag_run(ctx: RunContext) -> None:
    """run-<runId> on the merged commit (idempotent; a tag is never moved)."""
    commit = ctx.status.merged_commit
    if not commit or not ctx.repo.exists():
        return
    tag = ids.run_tag(ctx.name)
    ref = f"refs/tags/{tag}"
    proc = gitrepo.git("rev-parse", "--verify", "--quiet", ref, cwd=ctx.repo, check=False)
    if proc.returncode == 0:
        return
    gitrepo.git("update-ref", ref, commit, "0" * 40, cwd=ctx.repo)


def target_of(ctx: RunContext) -> Publish | None:
    """The Run's spec.publish, else its Project's."""
    return ctx.spec.publish or (ctx.project_spec.publish if ctx.project_spec else None)


async def deliver(ctx: RunContext) -> str:
    """Tag, then publish; what to add to the run's final message ("" if nothing)."""
    await asyncio.to_thread(tag_run, ctx)
    target = target_of(ctx)
    commit = ctx.status.merged_commit
    if target is None or not commit:
        return ""
    done = ctx.status.publish
    if (
        done is not None
        and done.phase == "succeeded"
        and (done.url, done.branch, done.commit) == (target.url, target.branch, commit)
    ):
        return ""  # pushed before a restart
    where = f"{target.url} (branch {target.branch})"
    try:
        credentials = None
        if target.credentials_secret:
            credentials = await apiserver(
                ctx, publish.read_credentials, ctx.ns, target.credentials_secret
            )
        await asyncio.to_thread(
            publish.push,
            ctx.repo,
            commit,
            target,
            credentials,
            allow_http=ctx.settings.publish_allow_http,
            timeout=ctx.settings.publish_timeout_seconds,
            allow_private_targets=ctx.settings.publish_allow_private_targets,
        )
    except publish.PublishError as exc:
        # The tenant reads str(exc); what the network answered (exc.detail) stays in
        # this log: it would tell closed, open and TLS ports apart (publish.py).
        reason = str(exc)
        log.warning("run %s/%s: publishing to %s failed: %s", ctx.ns, ctx.name, where, exc.detail)
        await _record(
            ctx,
            PublishStatus(phase="failed", url=target.url, branch=target.branch, message=reason),
            ok=False,
            message=f"publishing to {where} failed: {reason}",
        )
        await event(
            ctx,
            journal.PUBLISH_FAILED,
            {"url": target.url, "branch": target.branch, "message": reason},
        )
        return f"; publishing to {where} failed: {reason}"
    await _record(
        ctx,
        PublishStatus(
            phase="succeeded",
            url=target.url,
            branch=target.branch,
            commit=commit,
            pushedAt=utc_now(),
        ),
        ok=True,
        message=f"pushed {commit[:12]} to {where}",
    )
    await event(
        ctx,
        journal.PUBLISH_COMPLETED,
        {"url": target.url, "branch": target.branch, "commit": commit},
    )
    return ""


async def _record(ctx: RunContext, outcome: PublishStatus, *, ok: bool, message: str) -> None:
    """status.publish and the Published condition in one write, then the Event."""
    reason = PUBLISHED if ok else "PublishFailed"
    previous = {c.type: c for c in ctx.status.conditions or []}.get(PUBLISHED)
    status: ConditionStatus = "True" if ok else "False"
    condition = Condition(
        type=PUBLISHED,
        status=status,
        reason=reason,
        message=message[:MAX_MESSAGE],
        lastTransitionTime=previous.last_transition_time
        if previous is not None and previous.status == status
        else utc_now(),
        observedGeneration=generation(ctx),
    )
    others = [c for c in ctx.status.conditions or [] if c.type != PUBLISHED]
    await set_status(ctx, publish=outcome, conditions=[*others, condition])
    await k8s_event(ctx.run, reason, message, warning=not ok)
