#!/usr/bin/env python3
"""A stack's `pulumi preview` as one comment on the pull request, edited in place on every push.

  scripts/preview_comment.py --stack dev --status 0 [--commit SHA] [--pr N] < preview output

Prints the comment (Markdown) on standard output; the workflow appends it to the job summary. With --pr it also
posts it through `gh api` (GH_TOKEN, GITHUB_REPOSITORY): it edits the comment of github-actions[bot] on that pull
request whose first line is the stack's marker `<!-- knative-kafka preview: <stack> -->`, or creates it when there
is none. So each stack has one comment, and a push updates it rather than adding another.

GitHub refuses a comment longer than 65536 characters (and one over 262144 bytes, which 65536 characters never
exceed): a longer output keeps its end, where the policy violations and the totals are, and says how many lines
it left out and that the job's log holds all of them.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from typing import Any

LIMIT = 65536
# The author of every comment made with the workflow's GITHUB_TOKEN.
BOT = "github-actions[bot]"


def marker(stack: str) -> str:
    return f"<!-- knative-kafka preview: {stack} -->"


def log_url() -> str:
    """The run's page, whose job log holds the whole output (the variables every Actions step has)."""
    names = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    if not all(os.environ.get(name) for name in names):
        return ""
    server, repo, run = (os.environ[name] for name in names)
    return f"{server}/{repo}/actions/runs/{run}"


def fence_for(text: str) -> str:
    """A code fence longer than any run of backticks in the text, so the text cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def comment(stack: str, output: str, status: int, commit: str = "", log: str = "") -> str:
    """The comment's Markdown, at most LIMIT characters: all of `output`, or as much of its end as fits."""
    verdict = "ok" if status == 0 else f"failed (exit {status})"
    where = " ".join(part for part in (f"at {commit[:12]}" if commit else "", f"([run]({log}))" if log else "") if part)
    head = f"{marker(stack)}\n### `pulumi preview --stack {stack}`: {verdict}\n" + (f"{where}\n" if where else "")
    lines = output.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    fence = fence_for(output)

    def render(kept: list[str], left_out: int) -> str:
        note = ""
        if left_out:
            place = f"the job log of [the run]({log})" if log else "the job log"
            note = (f"\nThe first {left_out} of the output's {len(lines)} lines do not fit in a comment "
                    f"(GitHub's limit: {LIMIT} characters); {place} has all of them.\n")
        return f"{head}{note}\n{fence}\n{''.join(kept)}{fence}\n"

    whole = render(lines, 0)
    if len(whole) <= LIMIT:
        return whole
    # What the comment holds besides the output, with the longest note it can carry.
    budget = LIMIT - len(render([], len(lines)))
    kept: list[str] = []
    cut = ""
    for line in reversed(lines):
        if len(line) > budget:
            if not kept:                  # a last line longer than a whole comment: its end
                cut = line[len(line) - budget:]
            break
        kept.append(line)
        budget -= len(line)
    kept.reverse()
    return render([cut, *kept], len(lines) - len(kept))


def gh(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(["gh", *args], input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"preview_comment: gh {' '.join(args[:3])} failed ({result.returncode}): "
                         f"{result.stderr.strip()}")
    return result.stdout


def json_values(text: str) -> list[Any]:
    """The JSON values `gh api --paginate` prints one after another (one array a page)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
        while at < len(text) and text[at].isspace():
            at += 1
    return values


def post(stack: str, body: str, pr: str, repo: str) -> str:
    """Edits the stack's comment on the pull request, or creates it; returns what it did."""
    pages = json_values(gh("api", "--paginate", f"repos/{repo}/issues/{pr}/comments?per_page=100"))
    ours = [c for page in pages for c in page
            if c.get("user", {}).get("login") == BOT and (c.get("body") or "").split("\n", 1)[0] == marker(stack)]
    payload = json.dumps({"body": body})
    if ours:
        gh("api", "--method", "PATCH", f"repos/{repo}/issues/comments/{ours[0]['id']}", "--input", "-", stdin=payload)
        return f"edited comment {ours[0]['id']}"
    gh("api", "--method", "POST", f"repos/{repo}/issues/{pr}/comments", "--input", "-", stdin=payload)
    return "created a comment"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--status", type=int, required=True, help="pulumi preview's exit code")
    parser.add_argument("--commit", default="", help="the commit previewed")
    parser.add_argument("--pr", help="the pull request to post on (needs GH_TOKEN and GITHUB_REPOSITORY)")
    args = parser.parse_args(argv)
    output = sys.stdin.buffer.read().decode("utf-8", "replace")
    body = comment(args.stack, output, args.status, args.commit, log_url())
    sys.stdout.write(body)
    if args.pr:
        repo = os.environ.get("GITHUB_REPOSITORY", "")
        if not repo:
            print("preview_comment: --pr needs GITHUB_REPOSITORY (owner/name)", file=sys.stderr)
            return 2
        print(f"preview_comment: {post(args.stack, body, args.pr, repo)} on #{args.pr}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
