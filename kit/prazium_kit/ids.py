"""The one rule between API ids and custom-resource names.

    Project  proj_<name>      <->  Project <name>
    Run      run_<name>       <->  Run <name>
    Task     task_<NNN>       <->  Task <run-name>-task-<NNN>   (id within its run)

A CR name is DNS-1123, so it never contains "_": the prefix up to the first
"_" is the kind, the rest is the name, and the mapping is reversible for
objects created through the API or with kubectl alike.
"""

from __future__ import annotations

import re

# The patterns as text as well, for pydantic models and the CRDs' own copies
# (crds/*.yaml, checked against the models by tests/unit/test_models_match_crds.py).
# There "$" is the end of the text (Rust and Go regular expressions); Python's "$"
# also matches before a final newline, so the compiled forms end in \Z instead.
DNS1123_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"  # also a task slug
TASK_DEFINITION_ID_PATTERN = r"^task-([0-9]{3})$"


def _whole(pattern: str) -> re.Pattern[str]:
    """pattern compiled to match whole strings only (a name and a newline is no name)."""
    return re.compile(pattern.removesuffix("$") + r"\Z")


DNS1123_LABEL = _whole(DNS1123_LABEL_PATTERN)
TASK_DEFINITION_ID = _whole(TASK_DEFINITION_ID_PATTERN)
TASK_API_ID = _whole(r"^task_(\d{3})$")
PROJECT_NAME_MAX = 40
# What every API id in a path looks like, whatever its kind (proj_, run_, task_,
# exp_, dep_, key_): letters, digits, "_" and "-", at most API_ID_MAX characters.
# Anything else (a NUL byte, a newline, a space, a very long string) is malformed:
# refused before it reaches a lookup, the apiserver or PostgreSQL.
API_ID_MAX = 128
API_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{API_ID_MAX}}}")


class InvalidId(ValueError):
    """An API id that does not follow the rule above."""


def well_formed(api_id: str) -> bool:
    """Whether api_id has the form every API id has (API_ID); its kind and name are
    checked by the function that maps it to a resource."""
    return API_ID.fullmatch(api_id) is not None


def _name_from(api_id: str, prefix: str, max_len: int = 253) -> str:
    if not api_id.startswith(prefix):
        raise InvalidId(f"{api_id!r} is not a {prefix.rstrip('_')} id (expected {prefix}<name>)")
    name = api_id[len(prefix) :]
    if not name or len(name) > max_len or not DNS1123_LABEL.fullmatch(name):
        raise InvalidId(f"{api_id!r} does not name a valid resource")
    return name


def project_id(name: str) -> str:
    return f"proj_{name}"


def project_name(api_id: str) -> str:
    return _name_from(api_id, "proj_", PROJECT_NAME_MAX)


def run_id(name: str) -> str:
    return f"run_{name}"


def run_name(api_id: str) -> str:
    return _name_from(api_id, "run_", 63)


def task_id(definition_id: str) -> str:
    """task-001 (plan/definition id) -> task_001 (API id)."""
    match = TASK_DEFINITION_ID.fullmatch(definition_id)
    if not match:
        raise InvalidId(f"{definition_id!r} is not a task definition id (task-NNN)")
    return f"task_{match.group(1)}"


def task_definition_id(api_id: str) -> str:
    """task_001 (API id) -> task-001 (plan/definition id)."""
    match = TASK_API_ID.fullmatch(api_id)
    if not match:
        raise InvalidId(f"{api_id!r} is not a task id (task_NNN)")
    return f"task-{match.group(1)}"


def task_cr_name(run: str, definition_id: str) -> str:
    """The Task CR's name: the natural key (run, task id), so creation is idempotent."""
    task_id(definition_id)  # validates
    return f"{run}-{definition_id}"


def branch_name(run_number: int, definition_id: str, slug: str) -> str:
    """feat/run-1/task-001-ui-shell: one branch per task, scoped by run number so a
    retry never reuses (or force-moves) the branch of an earlier run."""
    return f"feat/run-{run_number}/{definition_id}-{slug}"


def run_tag(run: str) -> str:
    """The tag a succeeded run leaves on its merged commit: run-<runId> (run-run_<name>)."""
    return f"run-{run_id(run)}"
