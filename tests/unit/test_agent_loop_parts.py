"""The coding-agent loop's parts, each on its own: the file tools' confinement, the run
tool's sandbox, the bounds and the stuck-loop detector, usage, cost and the budget,
the settings, the worker contract's new fields and what the operator accepts of them."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from prazium_kit.plan import PlanError, validate_plan
from prazium_operator import recorder
from prazium_operator.agents.loop import credentials, limits, search, tools, usage
from prazium_operator.agents.loop import mirror as mirror_module
from prazium_operator.agents.loop.bounds import Bounds, StuckDetector, call_key
from prazium_operator.agents.loop.commands import CommandBox
from prazium_operator.agents.loop.contract import AgentBudget, AgentLimits
from prazium_operator.agents.loop.prompts import owned_tests
from prazium_operator.agents.structured import validate
from prazium_operator.worker_contract import WorkerRequest, WorkerResult, read_worker_result

SCOPE = ["app/**", "tests/test_app.py"]


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    root = tmp_path / "wt"
    (root / "app").mkdir(parents=True)
    (root / "app" / "main.py").write_text("def answer():\n    return 41\n" + "# pad\n" * 3)
    (root / "README.md").write_text("# Notes\nline two\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET-OUTSIDE")
    (root / "escape").symlink_to(outside)
    (root / "app" / "link.py").symlink_to(outside / "secret.txt")
    return root


def _call(workspace: tools.Workspace, name: str, **args: object) -> tools.ToolResult:
    return getattr(workspace, name)(args)  # type: ignore[no-any-return]


# -- file tools ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../outside/secret.txt", "leads outside the repository"),
        ("/etc/passwd", "is absolute"),
        (".git/config", "is not a file of the repository"),
        ("escape/secret.txt", "resolves outside the repository"),
        ("app/link.py", "resolves outside the repository"),
        ("app/../../outside/secret.txt", "leads outside the repository"),
    ],
)
def test_reads_stay_inside_the_worktree(worktree: Path, path: str, why: str) -> None:
    workspace = tools.Workspace(worktree, SCOPE)
    with pytest.raises(tools.ToolError, match=why):
        _call(workspace, "read_file", path=path)


def test_read_file_gives_line_ranges_and_stops_at_its_cap(worktree: Path) -> None:
    workspace = tools.Workspace(worktree, SCOPE)
    whole = _call(workspace, "read_file", path="app/main.py")
    assert whole.content.startswith("app/main.py: lines 1-5 of 5\ndef answer():")
    part = _call(workspace, "read_file", path="./app/main.py", start_line=2, end_line=2)
    assert part.content == "app/main.py: lines 2-2 of 5\n    return 41\n"
    (worktree / "app" / "big.py").write_text("x = 1\n" * 40_000)
    big = _call(workspace, "read_file", path="app/big.py")
    assert big.size < tools.READ_MAX_BYTES + 200
    assert "[truncated at 64 KiB: continue with start_line=" in big.content
    with pytest.raises(tools.ToolError, match="does not exist"):
        _call(workspace, "read_file", path="app/missing.py")
    with pytest.raises(tools.ToolError, match="past its end"):
        _call(workspace, "read_file", path="app/main.py", start_line=99)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("README.md", "outside the task's pathScope"),
        ("../x.py", "not a normalized relative path"),
        ("/tmp/x.py", "not a normalized relative path"),
        (".git/hooks/pre-commit", "inside .git"),
        ("app/./x.py", "not a normalized relative path"),
    ],
)
def test_writes_outside_the_scope_are_tool_errors(worktree: Path, path: str, why: str) -> None:
    workspace = tools.Workspace(worktree, SCOPE)
    for name, args in (
        ("write_file", {"content": "x"}),
        ("edit_file", {"old_string": "a", "new_string": "b"}),
    ):
        with pytest.raises(tools.ToolError, match=why) as refused:
            _call(workspace, name, path=path, **args)
        assert "the task may write only ['app/**', 'tests/test_app.py']" in str(refused.value)
    assert (worktree / "README.md").read_text() == "# Notes\nline two\n"


def test_a_write_through_a_symlink_is_refused(worktree: Path, tmp_path: Path) -> None:
    (worktree / "app" / "sub").symlink_to(tmp_path / "outside")
    workspace = tools.Workspace(worktree, SCOPE)
    with pytest.raises(tools.ToolError, match="is a symlink"):
        _call(workspace, "write_file", path="app/sub/x.py", content="x")
    with pytest.raises(tools.ToolError, match="is a symlink"):
        _call(workspace, "write_file", path="app/link.py", content="x")
    assert (tmp_path / "outside" / "secret.txt").read_text() == "SECRET-OUTSIDE"
    assert not (tmp_path / "outside" / "x.py").exists()


def test_write_and_edit_change_files_in_scope_exactly(worktree: Path) -> None:
    workspace = tools.Workspace(worktree, SCOPE)
    created = _call(workspace, "write_file", path="app/new/mod.py", content="a = 1\nb = 2\n")
    assert created.content == "created app/new/mod.py (12 bytes, 2 lines)"
    script = _call(
        workspace, "write_file", path="app/run.sh", content="#!/bin/sh\n", executable=True
    )
    assert script.ok and os.access(worktree / "app" / "run.sh", os.X_OK)
    edited = _call(workspace, "edit_file", path="app/main.py", old_string="41", new_string="42")
    assert edited.ok and "return 42" in (worktree / "app" / "main.py").read_text()
    with pytest.raises(tools.ToolError, match=r"occurs 3 times in app/main\.py"):
        _call(workspace, "edit_file", path="app/main.py", old_string="# pad", new_string="#")
    with pytest.raises(tools.ToolError, match=r"was not found in app/main\.py"):
        _call(workspace, "edit_file", path="app/main.py", old_string="return 41", new_string="x")
    with pytest.raises(tools.ToolError, match="does not exist; create it with write_file"):
        _call(workspace, "edit_file", path="app/none.py", old_string="a", new_string="b")
    with pytest.raises(tools.ToolError, match="must be a string"):
        _call(workspace, "write_file", path="app/x.py", content=7)


def test_list_and_search_leave_out_git_and_cap_their_answers(
    worktree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A git worktree's .git is a file naming the repository: never listed either.
    (worktree / "app" / ".git").write_text("gitdir: /elsewhere\n")
    workspace = tools.Workspace(worktree, SCOPE)
    listed = _call(workspace, "list_files").content.splitlines()
    assert listed == ["README.md", "app/main.py"]  # no .git, no symlinks followed out
    assert _call(workspace, "list_files", glob="app/**").content == "app/main.py"
    assert _call(workspace, "list_files", glob="*.md").content == "README.md"
    found = _call(workspace, "search", pattern=r"return \d+")
    assert found.content == "app/main.py:2: return 41" and found.summary == "1 matches"
    with pytest.raises(tools.ToolError, match="invalid regular expression"):
        _call(workspace, "search", pattern="(unclosed")
    (worktree / "app" / "many.py").write_text("hit\n" * 500)
    many = _call(workspace, "search", pattern="hit", glob="app/*.py")
    assert many.content.count("\n") == search.SEARCH_MAX_MATCHES
    assert many.content.endswith(f"... and {500 - search.SEARCH_MAX_MATCHES} more")
    # A pattern that backtracks without end is stopped, and the worker goes on.
    (worktree / "app" / "slow.py").write_text("a" * 40 + "!\n")
    monkeypatch.setattr(search, "SEARCH_SECONDS", 1.0)
    started = time.monotonic()
    helper = workspace.searcher.pid
    with pytest.raises(tools.ToolError, match="the search took longer than 1 s"):
        _call(workspace, "search", pattern=r"^(a+)+$")
    assert time.monotonic() - started < 5
    assert workspace.searcher.pid is None  # the helper killed, reaped
    with pytest.raises(ChildProcessError):
        os.waitpid(helper or -1, os.WNOHANG)
    # The next search forks a new helper; one helper serves every search until then.
    assert _call(workspace, "search", pattern="return").summary == "1 matches"
    again = workspace.searcher.pid
    assert again is not None and again != helper
    _call(workspace, "search", pattern="hit")
    assert workspace.searcher.pid == again
    workspace.close()
    assert workspace.searcher.pid is None


# -- the run tool's sandbox ----------------------------------------------------------


def _tree(root: Path) -> dict[str, tuple[str, bytes, bool]]:
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel == ".git" or rel.startswith(".git/"):
            continue
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path).encode(), False)
        elif path.is_dir():
            found[rel] = ("dir", b"", False)
        else:
            found[rel] = ("file", path.read_bytes(), os.access(path, os.X_OK))
    return found


def test_the_mirror_undoes_what_a_command_did_and_copies_only_what_changed(
    worktree: Path, tmp_path: Path
) -> None:
    (worktree / "escape").unlink()
    (worktree / "app" / "link.py").unlink()
    (worktree / "app" / "inner").mkdir()
    (worktree / "app" / "inner" / "x.sh").write_text("#!/bin/sh\n")
    (worktree / "app" / "inner" / "x.sh").chmod(0o755)
    (worktree / "app" / "rel").symlink_to("main.py")
    copy = tmp_path / "copy"
    copy.mkdir()
    mirror = mirror_module.Mirror(worktree, copy, None)
    mirror.sync()
    assert _tree(copy) == _tree(worktree) and not (copy / ".git").exists()
    assert mirror.files_copied == 3
    mirror.sync()
    assert mirror.files_copied == 0  # nothing changed on either side
    # What a command may do to its copy: rewrite (same size), chmod, add, delete,
    # rename, put a link where a directory was, take the directory's permissions.
    (copy / "README.md").write_text("# NOTES\nline two\n")
    (copy / "app" / "main.py").chmod(0o777)
    (copy / "new.txt").write_text("left over")
    (copy / "app" / "cache").mkdir()
    (copy / "app" / "inner" / "x.sh").unlink()
    (copy / "app" / "rel").rename(copy / "app" / "moved")
    shutil.rmtree(copy / "app" / "inner")
    (copy / "app" / "inner").symlink_to(tmp_path / "outside")
    copy.chmod(0o000)
    # ...while the model changed the worktree.
    (worktree / "app" / "main.py").write_text("def answer():\n    return 42\n")
    (worktree / "README.md").rename(worktree / "NOTES.md")
    mirror.sync()
    assert _tree(copy) == _tree(worktree)
    assert (copy / "app" / "inner").is_dir() and not (copy / "app" / "inner").is_symlink()
    assert list((tmp_path / "outside").iterdir()) == [tmp_path / "outside" / "secret.txt"]
    assert mirror.files_copied == 3  # main.py, NOTES.md, x.sh
    assert stat.S_IMODE((copy / "app" / "main.py").stat().st_mode) == 0o644
    shutil.rmtree(copy)  # even the copy's own directory
    mirror.sync()
    assert _tree(copy) == _tree(worktree)
    mirror.close()


@pytest.fixture
def box(worktree: Path, monkeypatch: pytest.MonkeyPatch) -> CommandBox:
    if os.geteuid() != 0:  # the local stack's single-tenant switch (as the command coder)
        monkeypatch.setenv("PRAZIUM_LOCAL_UNSANDBOXED_COMMANDS", "true")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-in-a-command-0123")
    credentials.drop_keys()
    opened = CommandBox(worktree, f"{worktree}/1/agent", {"PRAZIUM_TASK_ID": "task-001"})
    opened.open()
    yield opened  # type: ignore[misc]
    opened.close()


def test_commands_run_in_a_fresh_copy_whose_changes_stay_there(
    box: CommandBox, worktree: Path
) -> None:
    first = box.run_shell("pwd; cat app/main.py; echo changed > app/main.py; touch made.txt", 30)
    assert first.passed and "return 41" in first.output
    assert str(worktree) not in first.output  # not the worktree itself
    assert "return 41" in (worktree / "app" / "main.py").read_text()
    assert not (worktree / "made.txt").exists()
    second = box.run_shell("cat app/main.py; ls made.txt", 30)
    assert "return 41" in second.output and second.exit_code != 0  # fresh again
    env = box.run_shell("env; ls -a", 30).output
    assert "sk-never-in-a-command" not in env and ".git" not in env.split()
    assert "PRAZIUM_TASK_ID=task-001" in env
    python = box.run_shell("python -c 'print(6 * 7)'", 30)
    assert python.output.strip() == "42", python.output
    # Nothing a command leaves outside its copy changes the next one (or the tests that
    # finish runs): HOME starts empty, and the sandbox's python cannot be swapped.
    site = "$HOME/.local/lib/python3.11/site-packages"
    rigged = box.run_shell(
        f"mkdir -p {site} && echo 'raise SystemExit(0)' > {site}/usercustomize.py;"
        " echo '#!/bin/sh' > ../bin/python; mv ../bin ../old-bin; touch ~/left",
        30,
    )
    if os.geteuid() == 0:  # as a uid of its own, bin/ is out of its reach
        assert "cannot create ../bin/python: Permission denied" in rigged.output
        assert "cannot move '../bin' to '../old-bin': Permission denied" in rigged.output
    after = box.run_shell("ls -A ~; python -c 'print(6 * 7)'", 30)
    assert after.output.strip() == "42", after.output


def test_commands_run_as_the_sandbox_uid_without_groups_or_capabilities(box: CommandBox) -> None:
    if os.geteuid() != 0:
        pytest.fail("the sandbox uid needs root: run the unit tests as root")
    assert box.box is not None and box.box.uid is not None
    status = box.run_shell("grep -E '^(Uid|Gid|Groups|CapEff|NoNewPrivs):' /proc/self/status", 30)
    fields = dict(line.split(":", 1) for line in status.output.strip().splitlines())
    uid = str(box.box.uid)
    assert fields["Uid"].split() == [uid] * 4 and fields["Gid"].split() == [uid] * 4
    assert fields["Groups"].strip() == "" and int(fields["CapEff"], 16) == 0
    assert fields["NoNewPrivs"].strip() == "1"
    assert box.run_shell("umask", 30).output.strip() == "0077"


def test_a_command_past_its_timeout_is_killed_with_its_children(box: CommandBox) -> None:
    started = time.monotonic()
    outcome = box.run_shell("echo begun; (sleep 300; echo late) & sleep 300", 1.0)
    assert outcome.timed_out and outcome.exit_code is None
    assert "begun" in outcome.output and "late" not in outcome.output
    assert time.monotonic() - started < 8


def test_long_output_keeps_its_start_and_end(box: CommandBox) -> None:
    outcome = box.run_shell("seq 1 200000", 30)
    assert outcome.total_bytes > 1_000_000
    assert outcome.output.startswith("1\n2\n3\n") and outcome.output.rstrip().endswith("200000")
    assert "bytes of output omitted" in outcome.output
    assert len(outcome.output.encode()) < 17 * 1024


def test_the_worker_made_undumpable_hides_its_environment_from_its_own_uid(
    tmp_path: Path,
) -> None:
    """A command in a worker Pod runs as the worker's uid: without PR_SET_DUMPABLE 0 it
    could read /proc/<worker>/environ; with it, it cannot."""
    if os.geteuid() != 0:
        pytest.fail("this test runs the worker as another uid: run the unit tests as root")
    # The system's python3 (the venv's may be out of that uid's reach) loads the module
    # by its path: it needs nothing but the standard library.
    script = (
        "import importlib.util, os, subprocess, sys\n"
        "spec = importlib.util.spec_from_file_location('credentials', sys.argv[2])\n"
        "credentials = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(credentials)\n"
        "if sys.argv[1] == 'hardened':\n"
        "    credentials.make_undumpable()\n"
        "    assert not credentials.is_dumpable()\n"
        'command = \'cat /proc/$PPID/environ | tr "\\\\0" "\\\\n"\'\n'
        "out = subprocess.run(['/bin/sh', '-c', command], capture_output=True, text=True)\n"
        "print(out.stdout + out.stderr)\n"
    )
    secret = "sk-in-the-worker-environ-4242"
    results = {}
    for mode in ("plain", "hardened"):
        results[mode] = subprocess.run(
            ["/usr/bin/python3", "-c", script, mode, credentials.__file__],
            env={**os.environ, "OPENAI_API_KEY": secret},
            user=65534,
            group=65534,
            extra_groups=[],
            cwd=tmp_path.anchor,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    assert secret in results["plain"]  # the control: same uid, readable
    assert secret not in results["hardened"] and "Permission denied" in results["hardened"]


# -- bounds, stuck loops ---------------------------------------------------------------


def _limits(**changes: object) -> limits.Limits:
    base = limits.from_settings(limits.LoopSettings())
    return limits.overridden(base, AgentLimits.model_validate(changes))


def test_bounds_say_which_limit_stops_the_next_request() -> None:
    bounds = Bounds(_limits(maxSteps=2, maxOutputBytes=100, maxSeconds=60))
    assert bounds.before_request() is None
    bounds.output_bytes = 101
    assert bounds.before_request() == (
        "OutputLimit",
        "101 bytes of tool output fed back, the limit is 100",
    )
    bounds.steps = 2
    assert bounds.before_request() == ("StepLimit", "2 steps made, the limit is 2")
    late = Bounds(_limits(maxSeconds=5), clock=time.monotonic() - 10)
    reason = late.before_request()
    assert reason is not None and reason[0] == "TimeLimit"
    assert late.command_timeout() == 1.0  # never below a second
    assert Bounds(_limits(commandTimeoutSeconds=30)).command_timeout(500) == 30
    assert Bounds(_limits(commandTimeoutSeconds=30)).command_timeout(5) == 5
    assert Bounds(_limits(commandTimeoutSeconds=30)).command_timeout("soon") == 30


def test_the_same_call_with_the_same_result_n_times_in_a_row_is_stuck() -> None:
    detector = StuckDetector(3)
    key = call_key("read_file", {"path": "a.py"})
    assert call_key("read_file", {"path": "a.py"}) == key != call_key("read_file", {"path": "b"})
    assert not detector.stuck(key, True, "x")
    assert not detector.stuck(key, True, "x")
    assert not detector.stuck(key, True, "changed")  # a different result breaks the run
    assert not detector.stuck(key, True, "changed")
    assert detector.stuck(key, True, "changed")


# -- usage, cost, budget ---------------------------------------------------------------


def test_providers_usage_is_brought_to_one_shape_and_priced() -> None:
    assert usage.openai_usage(1000, 50, 800) == usage.RequestUsage(1000, 50, 800, 0)
    # Anthropic's input_tokens leave out the cache's reads and writes.
    assert usage.anthropic_usage(10, 50, 800, 190) == usage.RequestUsage(1000, 50, 800, 190)
    assert usage.anthropic_usage(None, 5, None, None) == usage.RequestUsage(0, 5, 0, 0)
    price = AgentBudget.model_validate(
        {"prices": {"m": {"input": 3, "output": 15, "cachedInput": 0.3, "cacheWriteInput": 3.75}}}
    ).prices["m"]
    cost = usage.cost(usage.RequestUsage(1_000_000, 100_000, 500_000, 100_000), price)
    assert cost == pytest.approx(0.4 * 3 + 0.5 * 0.3 + 0.1 * 3.75 + 0.1 * 15)


def test_the_meter_stops_at_the_budgets_tokens_or_cost() -> None:
    meter = usage.UsageMeter("openai", "m", None, max_tokens=1000)
    meter.add(usage.RequestUsage(900, 99))
    assert meter.exceeded() is None
    meter.add(usage.RequestUsage(1, 0))
    assert meter.exceeded() == "1000 tokens spent of 1000 (the attempt's token limit)"
    budget = AgentBudget.model_validate(
        {"maxCost": 0.01, "prices": {"m": {"input": 10, "output": 10}}}
    )
    priced = usage.UsageMeter("openai", "m", budget)
    priced.add(usage.RequestUsage(500, 400))
    assert priced.exceeded() is None
    priced.add(usage.RequestUsage(100, 0))
    assert priced.exceeded() == "cost 0.0100 of 0.0100 (the budget's maxCost)"
    summary = priced.summary().model_dump(by_alias=True, exclude_unset=True)
    assert summary == {
        "provider": "openai",
        "model": "m",
        "requests": 2,
        "inputTokens": 600,
        "outputTokens": 400,
        "cachedInputTokens": 0,
        "cacheWriteInputTokens": 0,
        "cost": 0.01,
    }
    unpriced = usage.UsageMeter("openai", "other", budget)
    unpriced.add(usage.RequestUsage(10**6, 10**6))
    assert unpriced.exceeded() is None  # no price for the model: no cost counted
    assert "cost" not in unpriced.summary().model_dump(exclude_unset=True)


def test_the_stop_file_is_read_bounded_and_never_through_a_symlink(tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    assert usage.stop_requested(str(stop)) is None
    assert usage.stop_requested(None) is None
    stop.write_text("the run's budget of 50000 tokens is spent\nmore\n" + "x" * 5000)
    assert usage.stop_requested(str(stop)) == "the run's budget of 50000 tokens is spent"
    stop.unlink()
    (tmp_path / "elsewhere").write_text("forged reason")
    stop.symlink_to(tmp_path / "elsewhere")
    assert usage.stop_requested(str(stop)) == "the stop file is there"


# -- settings and the worker contract --------------------------------------------------


def test_limits_come_from_the_environment_and_the_request_overrides_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PRAZIUM_AGENT_MAX_STEPS", "7")
    monkeypatch.setenv("PRAZIUM_AGENT_STUCK_REPEATS", "4")
    monkeypatch.setenv("PRAZIUM_AGENT_MAX_TOKENS", "5000")
    base = limits.from_settings(limits.LoopSettings())
    assert (base.max_steps, base.stuck_repeats, base.max_tokens) == (7, 4, 5000)
    assert base.as_request()["maxSteps"] == 7
    chosen = limits.overridden(base, AgentLimits.model_validate({"maxSteps": 3}))
    assert (chosen.max_steps, chosen.stuck_repeats) == (3, 4)
    monkeypatch.setenv("PRAZIUM_AGENT_MAX_STEPS", "0")
    with pytest.raises(ValueError, match="max_steps"):
        limits.LoopSettings()


def test_old_requests_still_parse_and_newer_fields_are_ignored() -> None:
    old = {
        "namespace": "t",
        "project": "p",
        "run": "r",
        "task": {"id": "task-001", "slug": "s", "pathScope": ["a/**"]},
        "documents": {},
        "repo_path": "/r",
        "worktree": "/w",
        "branch": "b",
        "base_commit": "c",
        "attempt": 1,
        "result_path": "/x/task-001-1.json",
    }
    request = WorkerRequest.from_json(json.dumps(old))
    assert request.budget is None and request.agent_limits is None and request.stop_file is None
    newer = WorkerRequest.from_json(json.dumps({**old, "someday": {"x": 1}, "stop_file": "/s"}))
    assert newer.stop_file == "/s"
    assert WorkerRequest.from_json(newer.to_json()) == newer


def test_the_result_carries_usage_reason_and_steps(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(
        json.dumps(
            {
                "status": "failed",
                "reason": "BudgetExceeded",
                "steps": 3,
                "usage": {
                    "provider": "anthropic",
                    "model": "m",
                    "requests": 3,
                    "inputTokens": 10,
                    "outputTokens": 5,
                    "cachedInputTokens": 2,
                    "cacheWriteInputTokens": 1,
                },
            }
        )
    )
    result = read_worker_result(path)
    assert result is not None and result.reason == "BudgetExceeded" and result.steps == 3
    assert result.usage is not None and result.usage.cached_input_tokens == 2
    assert WorkerResult(status="succeeded").to_file() == {"status": "succeeded"}
    path.write_text(json.dumps({"status": "failed", "reason": "Whatever"}))
    assert read_worker_result(path) is None  # not a result this contract knows


def test_forged_usage_events_are_rebuilt_from_checked_counts() -> None:
    identity = recorder.WorkerIdentity("t1", "p", "r", "task-002", 2, "api", "b")
    items = [
        {
            "type": "AGENT_USAGE",
            "payload": {
                "request": 4,
                "provider": "openai",
                "model": "m" * 500,
                "inputTokens": 100,
                "outputTokens": -5,
                "cachedInputTokens": "lots",
                "cacheWriteInputTokens": True,
                "secret": "x",
            },
            "key": "forged",
            "run": "someone-else",
        },
        {"type": "AGENT_USAGE", "payload": {"request": 0}},
        {"type": "AGENT_USAGE", "payload": {"request": "1"}},
    ]
    [accepted] = recorder.worker_events(items, identity)
    assert accepted["run"] == "r" and accepted["key"] == "t1/r/task-002/AGENT_USAGE/2/4"
    assert accepted["payload"] == {
        "taskId": "task_002",
        "attempt": 2,
        "request": 4,
        "provider": "openai",
        "model": "m" * recorder.MAX_USAGE_NAME_CHARS,
        "inputTokens": 100,
        "outputTokens": 0,
        "cachedInputTokens": 0,
        "cacheWriteInputTokens": 0,
    }


# -- the tests a task owns -------------------------------------------------------------


def test_a_task_owns_its_test_command_else_the_plans_verify_command() -> None:
    task = {"id": "task-001", "slug": "a", "pathScope": ["a/**"]}
    assert owned_tests({**task, "testCommand": ["pytest", "-q"]}, ["make", "test"]) == (  # type: ignore[typeddict-item]
        ["pytest", "-q"],
        "the task's testCommand",
    )
    assert owned_tests(task, ["make", "test"]) == (["make", "test"], "the plan's verifyCommand")  # type: ignore[arg-type]
    assert owned_tests(task, None) == (None, "none")  # type: ignore[arg-type]


def test_plans_may_name_a_test_command_per_task() -> None:
    plan = {
        "tasks": [
            {"id": "task-001", "slug": "a", "pathScope": ["a/**"], "testCommand": ["t"]},
            {"id": "task-002", "slug": "b", "pathScope": ["b/**"], "testCommand": []},
        ],
        "mergeOrder": ["task-001", "task-002"],
    }
    kept = validate.plan(json.loads(json.dumps(plan)))  # [] is the schema's "none"
    assert kept["tasks"][0]["testCommand"] == ["t"] and "testCommand" not in kept["tasks"][1]
    plan["tasks"][1]["testCommand"] = ["ok", ""]
    with pytest.raises(PlanError, match="task-002: testCommand must be a non-empty list"):
        validate_plan(plan)
