"""The pull-request preview of .github/workflows/pulumi.yml: which stacks it previews (scripts/preview_stacks.py) and
the one comment per stack it keeps up to date (scripts/preview_comment.py), each on its own and as the workflow's
steps run them: the `run:` scripts are taken from the workflow and run by bash as GitHub runs them, in a git
repository for the stacks and with stand-ins for `pulumi` and `gh` (a fake GitHub that keeps its comments in a file)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import stand_ins
import yaml

from harness import FIXTURES, ROOT, load_script

WORKFLOW = ROOT / ".github" / "workflows" / "pulumi.yml"
STACKS = load_script("preview_stacks")
COMMENT = load_script("preview_comment")
REPO = "example/knative-kafka"
AKS = "config:\n  knative-kafka:cluster:\n    location: westeurope\n"
EXISTING = "config:\n  knative-kafka:cluster:\n    mode: existing\n    context: kind-knative\n"
SHIPPED = {"dev": AKS, "prod": AKS, "local": EXISTING}
# The scripts are Python; the stand-ins run them with the interpreter running the tests (it has PyYAML).
PYTHON = f'#!/bin/sh\nexec "{sys.executable}" "$@"\n'


def workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def step(job: str, name: str) -> dict[str, Any]:
    found, = (s for s in workflow()["jobs"][job]["steps"] if name in (s.get("id"), s.get("name")))
    assert isinstance(found, dict)
    return found


def run_step(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A `run:` script as GitHub runs it with `shell: bash` (workflow defaults)."""
    assert workflow()["defaults"]["run"]["shell"] == "bash"
    (cwd.parent / "step.sh").write_text(script)
    bash = shutil.which("bash")
    assert bash
    return subprocess.run([bash, "--noprofile", "--norc", "-eo", "pipefail", str(cwd.parent / "step.sh")],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


# --- which stacks ---------------------------------------------------------------------------------------------------

CODE = ["components/strimzi.py", "__main__.py", "requirements.txt", "Pulumi.yaml", "policy/rules.py",
        "policy/dev.json", ".github/workflows/pulumi.yml", ".github/actions/pulumi-azure/action.yml",
        "scripts/preview_comment.py", "a-new-directory/module.py", "README.md.orig"]


@pytest.mark.parametrize("path", CODE)
def test_a_change_that_deploys_previews_every_stack_ci_can_reach(path):
    assert STACKS.stacks_to_preview([path], SHIPPED) == ["dev", "prod"]
    assert STACKS.stacks_to_preview(["README.md", path, "Pulumi.dev.yaml"], SHIPPED) == ["dev", "prod"]


@pytest.mark.parametrize("changed", [
    [], ["README.md"], ["docs/development.md"], ["tests/test_stacks.py", "tests/fixtures/Pulumi.dev.yaml"],
    ["benchmarks/functions.py", "README.md", "docs/x.md"],
    ["Pulumi.local.yaml"],                    # an existing cluster: CI cannot reach it
    ["Pulumi.staging.yaml"],                  # deleted: no file left to preview
])
def test_docs_tests_benchmarks_a_local_or_a_deleted_stack_file_preview_nothing(changed):
    assert STACKS.stacks_to_preview(changed, SHIPPED) == []


def test_a_stack_file_previews_its_own_stack_only():
    assert STACKS.stacks_to_preview(["Pulumi.dev.yaml"], SHIPPED) == ["dev"]
    assert STACKS.stacks_to_preview(["Pulumi.prod.yaml", "README.md", "Pulumi.staging.yaml"], SHIPPED) == ["prod"]
    assert STACKS.stacks_to_preview(["Pulumi.prod.yaml", "Pulumi.dev.yaml"], SHIPPED) == ["dev", "prod"]


def test_a_stack_the_user_added_is_previewed_by_its_file_not_by_its_name():
    added = {**SHIPPED, "staging": AKS, "kind": "config:\n  knative-kafka:cluster: {mode: existing}\n",
             "broken": "config:\n  knative-kafka:cluster: [unclosed\n", "empty": ""}
    assert STACKS.stacks_to_preview(["Pulumi.staging.yaml"], added) == ["staging"]
    assert STACKS.stacks_to_preview(["Pulumi.kind.yaml"], added) == []
    # A file that is not YAML is previewed: the preview reports the error where the author sees it.
    assert STACKS.stacks_to_preview(["components/x.py"], added) == ["broken", "dev", "empty", "prod", "staging"]
    assert STACKS.stacks_to_preview(["Pulumi.local.yaml"], {"local": AKS}) == ["local"]


def cli(root: Path, stdin: bytes) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "preview_stacks.py"), "--root", str(root)],
                            input=stdin, capture_output=True, timeout=60, check=True)
    return result.stdout.decode()


def test_the_command_reads_the_stack_files_of_the_root_and_prints_the_workflows_json_line():
    assert cli(FIXTURES, b"components/strimzi.py\0README.md\0") == '["dev","prod"]\n'
    assert cli(FIXTURES, b"README.md\ndocs/a b.md\n") == "[]\n"        # the string the preview job's `if` compares
    assert cli(FIXTURES, b"Pulumi.prod.yaml") == '["prod"]\n'


@pytest.fixture
def checkout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A repository at BASE (the shipped stack files, some code, README) and a sandbox to run the step in."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "components").mkdir()
    shutil.copy(ROOT / "scripts" / "preview_stacks.py", repo / "scripts")
    for stack in ("dev", "prod", "local"):
        shutil.copy(FIXTURES / f"Pulumi.{stack}.yaml", repo)
    (repo / "components" / "strimzi.py").write_text("KAFKA = 'my-cluster'\n" * 20)
    (repo / "README.md").write_text("# knative-kafka\n")
    box = stand_ins.sandbox(tmp_path, ROOT / "scripts" / "preview_stacks.py", {"python3": PYTHON}, ("git",), ())
    git(repo, "init", "-q")
    commit(repo)
    return repo, box.env | {"GITHUB_OUTPUT": str(tmp_path / "output"),
                            "BASE": git(repo, "rev-parse", "HEAD"), "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True).stdout.strip()


def commit(repo: Path) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", "change")
    return git(repo, "rev-parse", "HEAD")


@pytest.mark.parametrize(("action", "paths", "stacks"), [
    ("edit", ["README.md"], "[]"),
    # git quotes such a path ("docs/\303\274...") unless -z: it would not start with docs/.
    ("add", ["docs/über notes.md"], "[]"),
    ("edit", ["Pulumi.prod.yaml"], '["prod"]'),
    ("edit", ["Pulumi.local.yaml"], "[]"),
    ("edit", ["components/strimzi.py"], '["dev","prod"]'),
    ("delete", ["Pulumi.dev.yaml"], "[]"),
    # A rename lists only the new path unless --no-renames: code moved into docs/ would preview nothing.
    ("rename", ["components/strimzi.py", "docs/strimzi.py"], '["dev","prod"]'),
])
def test_the_stacks_step_previews_what_the_pull_request_changed(checkout, action, paths, stacks):
    repo, env = checkout
    first = repo / paths[0]
    if action == "add":
        first.parent.mkdir(exist_ok=True)
        first.write_text("notes\n")
    elif action == "edit":
        first.write_text(first.read_text() + "# edited\n")
    elif action == "delete":
        first.unlink()
    else:
        (repo / paths[1]).parent.mkdir(exist_ok=True)
        first.rename(repo / paths[1])
    env["HEAD"] = commit(repo)
    result = run_step(step("stacks", "changed")["run"], env, repo)
    assert result.returncode == 0, result.stderr
    assert Path(env["GITHUB_OUTPUT"]).read_text() == f"stacks={stacks}\n"


def test_the_preview_job_runs_for_the_stacks_the_step_printed():
    jobs = workflow()["jobs"]
    assert jobs["stacks"]["outputs"]["stacks"] == "${{ steps.changed.outputs.stacks }}"
    assert "needs.stacks.outputs.stacks != '[]'" in jobs["preview"]["if"]
    assert jobs["preview"]["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    # The stacks job installs requirements.txt's PyYAML, which the script reads the stack files with.
    pinned = re.search(r"^PyYAML==(\S+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pinned and any(f"PyYAML=={pinned.group(1)}" in s.get("run", "") for s in jobs["stacks"]["steps"])


# --- the comment ----------------------------------------------------------------------------------------------------

def preview_output(lines: int, width: int = 60) -> str:
    body = [f"    + kubernetes:core/v1:ConfigMap cm-{i:06d} create {'x' * width}\n" for i in range(lines)]
    return "Previewing update (dev):\n" + "".join(body) + "Resources:\n    + 3 to create\n"


def test_a_preview_that_fits_is_posted_whole_under_the_stacks_marker():
    output = preview_output(10)
    body = COMMENT.comment("dev", output, 0, "0123456789abcdef0123", "https://github.example/run/1")
    assert body.splitlines()[0] == "<!-- knative-kafka preview: dev -->"
    assert "### `pulumi preview --stack dev`: ok\nat 0123456789ab ([run](https://github.example/run/1))\n" in body
    assert f"\n```\n{output}```\n" in body
    assert "do not fit" not in body
    assert "`pulumi preview --stack prod`: failed (exit 255)" in COMMENT.comment("prod", output, 255)


def test_a_long_preview_keeps_its_end_within_githubs_limit_and_says_so():
    output = preview_output(2000)
    assert len(output) > COMMENT.LIMIT
    body = COMMENT.comment("dev", output, 0, "", "https://github.example/run/1")
    assert len(body) <= COMMENT.LIMIT
    assert body.endswith("Resources:\n    + 3 to create\n```\n")
    assert "Previewing update (dev)" not in body
    shown = body.count("kubernetes:core/v1:ConfigMap")
    left_out = 2003 - shown - 2
    assert (f"The first {left_out} of the output's 2003 lines do not fit in a comment (GitHub's limit: 65536 "
            "characters); the job log of [the run](https://github.example/run/1) has all of them.") in body
    # As much as fits: one more line would not.
    assert len(body) + len(output.splitlines(keepends=True)[left_out - 1]) > COMMENT.LIMIT


def test_the_limit_is_met_to_the_character():
    fixed = len(COMMENT.comment("dev", "", 0))
    exact = "x" * (COMMENT.LIMIT - fixed - 1) + "\n"
    assert COMMENT.comment("dev", exact, 0) == COMMENT.comment("dev", "", 0).replace("```\n```", f"```\n{exact}```")
    assert len(COMMENT.comment("dev", exact, 0)) == COMMENT.LIMIT
    # Two lines that do not fit together: the first is left out, the second fills the comment to its limit.
    note = len(COMMENT.comment("dev", "a" * COMMENT.LIMIT + "\nb\n", 0)) - len(COMMENT.comment("dev", "b\n", 0))
    last = "x" * (COMMENT.LIMIT - fixed - note - 1) + "\n"
    over = COMMENT.comment("dev", "a" * (note + 10) + "\n" + last, 0)
    assert over.endswith(f"\n```\n{last}```\n") and len(over) == COMMENT.LIMIT
    assert "The first 1 of the output's 2 lines do not fit" in over


@pytest.mark.parametrize("output", [
    "y" * 200_000,                                       # one line longer than a comment: its end
    "├─ " * 30_000 + "\n" + "└─ done\n",                  # three bytes a character: still 65536 characters at most
])
def test_any_output_fits(output):
    body = COMMENT.comment("dev", output, 1)
    assert len(body) <= COMMENT.LIMIT and len(body.encode()) <= 4 * COMMENT.LIMIT
    assert body.endswith(output.splitlines()[-1][-1000:] + "\n```\n")


def test_backticks_in_the_output_cannot_close_its_code_block():
    output = "data:\n  README.md: |\n    ```sh\n    scripts/test\n    ````\n"
    body = COMMENT.comment("dev", output, 0)
    assert f"\n`````\n{output}`````\n" in body


GH = f"""#!{sys.executable}
# A fake GitHub behind `gh api`: issue comments kept in $GH_STATE, listed $GH_PAGE a page.
import json, os, sys
args = sys.argv[1:]
with open(os.environ["CALLS"], "a") as log:
    log.write("gh " + " ".join(args) + "\\n")
if os.environ.get("GH_FAILS"):
    sys.exit("HTTP 403: Resource not accessible by integration")
assert args[0] == "api", args
options, positional, rest = {{}}, [], args[1:]
while rest:
    word = rest.pop(0)
    if word in ("--method", "--input"):
        options[word] = rest.pop(0)
    elif word.startswith("--"):
        options[word] = True
    else:
        positional.append(word)
method, path = options.get("--method", "GET"), positional[0].split("?")[0]
state = json.load(open(os.environ["GH_STATE"]))
parts = path.split("/")
assert parts[:3] == ["repos", *os.environ["EXPECTED_REPO"].split("/")], path
if method == "GET" and parts[3:4] == ["issues"] and parts[5:] == ["comments"]:
    mine = [c for c in state if c["issue"] == int(parts[4])]
    size = int(os.environ.get("GH_PAGE", "100"))
    pages = [mine[i:i + size] for i in range(0, len(mine), size)] or [[]]
    for page in pages if "--paginate" in options else pages[:1]:
        print(json.dumps(page, indent=1))
elif method == "POST" and parts[5:] == ["comments"]:
    assert options["--input"] == "-"
    state.append({{"id": 1000 + len(state), "issue": int(parts[4]), "user": {{"login": "github-actions[bot]"}},
                  "body": json.load(sys.stdin)["body"]}})
elif method == "PATCH" and parts[3:5] == ["issues", "comments"]:
    found, = (c for c in state if c["id"] == int(parts[5]))
    found["body"] = json.load(sys.stdin)["body"]
else:
    sys.exit(f"unexpected: {{method}} {{path}}")
json.dump(state, open(os.environ["GH_STATE"], "w"))
"""
# $PULUMI_PRINTS x's in lines of 99, then the totals, their last line on stderr; exits with $PULUMI_EXIT.
PULUMI = ('#!/usr/bin/env bash\necho "pulumi $*" >> "$CALLS"\n'
          'head -c "$PULUMI_PRINTS" /dev/zero | tr "\\0" "x" | fold -w 99\n'
          'echo; echo "Resources:"; echo "    + 3 to create" >&2\nexit "${PULUMI_EXIT:-0}"\n')


@pytest.fixture
def github(tmp_path: Path) -> stand_ins.Sandbox:
    box = stand_ins.sandbox(tmp_path, ROOT / "scripts" / "preview_comment.py", {"gh": GH, "pulumi": PULUMI},
                            ("bash", "tee", "head", "tr", "fold"), ())
    state = [{"id": 1, "issue": 7, "user": {"login": "someone"}, "body": "Looks good.\n"},
             {"id": 2, "issue": 8, "user": {"login": "github-actions[bot]"}, "body": COMMENT.marker("dev") + "\nother"}]
    (tmp_path / "state.json").write_text(json.dumps(state))
    box.env |= {"GH_STATE": str(tmp_path / "state.json"), "GITHUB_REPOSITORY": REPO, "EXPECTED_REPO": REPO,
                "GITHUB_SERVER_URL": "https://github.example", "GITHUB_RUN_ID": "42", "GH_TOKEN": "token"}
    return box


def comments(box: stand_ins.Sandbox, issue: int = 7) -> list[dict[str, Any]]:
    return [c for c in json.loads(Path(box.env["GH_STATE"]).read_text()) if c["issue"] == issue]


def post(box: stand_ins.Sandbox, stack: str, output: str, status: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(box.script), "--stack", stack, "--status", str(status), "--pr", "7"],
                          input=output, env=box.env, capture_output=True, text=True, timeout=60, check=False)


def test_each_stack_has_one_comment_edited_on_every_push(github):
    first = post(github, "dev", "dev: first push\n")
    assert first.returncode == 0, first.stderr
    assert "created a comment on #7" in first.stderr
    assert first.stdout == comments(github)[1]["body"]            # the job summary gets what the comment holds
    assert post(github, "prod", "prod: first push\n").returncode == 0
    again = post(github, "dev", "dev: second push\n", 1)
    assert again.returncode == 0, again.stderr
    assert "edited comment 1002 on #7" in again.stderr
    assert [(c["user"]["login"], c["body"].splitlines()[0]) for c in comments(github)] == [
        ("someone", "Looks good."), ("github-actions[bot]", COMMENT.marker("dev")),
        ("github-actions[bot]", COMMENT.marker("prod"))]
    dev, prod = comments(github)[1:]
    assert "dev: second push" in dev["body"] and "failed (exit 1)" in dev["body"] and "first push" not in dev["body"]
    assert "prod: first push" in prod["body"]
    assert comments(github, 8)[0]["body"].endswith("other"), "another pull request's comment was edited"
    assert all(f"repos/{REPO}/issues/" in call for call in github.calls())


def test_only_the_bots_comment_that_starts_with_the_marker_is_edited(github):
    state = json.loads(Path(github.env["GH_STATE"]).read_text())
    state += [{"id": 3, "issue": 7, "user": {"login": "someone"}, "body": COMMENT.marker("dev") + "\nmine"},
              {"id": 4, "issue": 7, "user": {"login": "github-actions[bot]"},
               "body": "quoting:\n" + COMMENT.marker("dev")}]
    Path(github.env["GH_STATE"]).write_text(json.dumps(state))
    assert post(github, "dev", "ok\n").returncode == 0
    assert [c["body"].split("\n")[-1] for c in comments(github)[1:3]] == ["mine", COMMENT.marker("dev")]
    assert len(comments(github)) == 4
    # Two of the stack's comments (two first pushes at once): the older one is edited, no third is made.
    state = json.loads(Path(github.env["GH_STATE"]).read_text())
    state.append({"id": 5, "issue": 7, "user": {"login": "github-actions[bot]"}, "body": COMMENT.marker("dev")})
    Path(github.env["GH_STATE"]).write_text(json.dumps(state))
    again = post(github, "dev", "again\n")
    assert "edited comment 1004 on #7" in again.stderr and len(comments(github)) == 5
    assert ["again" in c["body"] for c in comments(github)[3:]] == [True, False]


def test_the_comment_is_found_on_any_page(github):
    for n in range(5):
        assert post(github, f"stack{n}", "ok\n").returncode == 0
    github.env["GH_PAGE"] = "2"
    result = post(github, "stack4", "again\n")
    assert result.returncode == 0, result.stderr
    assert "edited comment" in result.stderr and len(comments(github)) == 6


def test_a_refused_request_fails_the_step_and_says_why(github):
    github.env["GH_FAILS"] = "1"
    result = post(github, "dev", "ok\n")
    assert result.returncode != 0
    assert "preview_comment: gh api --paginate" in result.stderr and "Resource not accessible" in result.stderr


@pytest.mark.parametrize(("prints", "exit_code"), [(3000, 0), (300_000, 255)])
def test_the_preview_step_logs_everything_comments_the_end_and_keeps_pulumis_exit_code(github, prints, exit_code):
    work = github.home / "checkout"
    (work / "scripts").mkdir(parents=True)
    (work / "policy").mkdir()
    (work / "policy" / "dev.json").write_text("{}")
    shutil.copy(ROOT / "scripts" / "preview_comment.py", work / "scripts")
    (work / ".venv" / "bin").mkdir(parents=True)
    (work / ".venv" / "bin" / "python").write_text(PYTHON)
    (work / ".venv" / "bin" / "python").chmod(0o755)
    summary = github.home / "summary.md"
    env = github.env | {"STACK": "dev", "PR": "7", "COMMIT": "c0ffee" * 7, "GITHUB_STEP_SUMMARY": str(summary),
                        "PULUMI_PRINTS": str(prints), "PULUMI_EXIT": str(exit_code)}
    result = run_step(step("preview", "pulumi preview")["run"], env, work)
    assert result.returncode == exit_code, result.stderr
    pulumi_call, = (c for c in github.calls() if c.startswith("pulumi"))
    assert pulumi_call == ("pulumi preview --stack dev --policy-pack policy --diff --non-interactive --color never "
                           "--policy-pack-config policy/dev.json")
    assert result.stdout.count("x") == prints                   # the job log has all of it
    posted, = (c["body"] for c in comments(github) if c["user"]["login"] == COMMENT.BOT)
    assert summary.read_text() == posted and len(posted) <= COMMENT.LIMIT
    assert posted.endswith("Resources:\n    + 3 to create\n```\n")  # stderr too
    verdict = "ok" if exit_code == 0 else f"failed (exit {exit_code})"
    assert f"`pulumi preview --stack dev`: {verdict}\nat c0ffeec0ffee ([run](https://github.example/{REPO}/" \
           "actions/runs/42))" in posted
    assert ("do not fit in a comment" in posted) == (prints > COMMENT.LIMIT)


def test_only_the_preview_job_may_write_to_pull_requests():
    jobs = workflow()["jobs"]
    assert workflow()["permissions"] == {}
    writers = {name for name, job in jobs.items() if job.get("permissions", {}).get("pull-requests")}
    assert writers == {"preview"} and jobs["preview"]["permissions"]["pull-requests"] == "write"
    assert "issues" not in jobs["preview"]["permissions"]


# --- every run: script passes shellcheck ----------------------------------------------------------------------------

def run_scripts() -> list[tuple[str, str]]:
    """(where, script) of every `run:` step of the workflows and the local actions."""
    found = []
    for path in sorted((ROOT / ".github").rglob("*.yml")):
        document = yaml.safe_load(path.read_text())
        jobs = document.get("jobs") or {}
        steps = [(f"{name}.{i}", s) for name, job in jobs.items() for i, s in enumerate(job.get("steps") or [])]
        steps += [(f"runs.{i}", s) for i, s in enumerate((document.get("runs") or {}).get("steps") or [])]
        found += [(f"{path.relative_to(ROOT)}:{where}", s["run"]) for where, s in steps if "run" in s]
    return found


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "shellcheck").exists(), reason="no shellcheck wheel for this machine")
def test_every_run_script_passes_shellcheck():
    # GitHub substitutes ${{ }} before bash runs the script: a placeholder word stands in for each (zizmor already
    # refuses one that expands untrusted input into the script).
    scripts = run_scripts()
    assert len(scripts) >= 5
    findings = []
    for where, script in scripts:
        text = "#!/usr/bin/env bash\nset -eo pipefail\n" + re.sub(r"\$\{\{.*?\}\}", "EXPRESSION", script)
        checked = subprocess.run([str(ROOT / ".venv" / "bin" / "shellcheck"), "-"], input=text, capture_output=True,
                                 text=True, check=False)
        if checked.returncode:
            findings.append(f"{where}:\n{checked.stdout}")
    assert findings == []
