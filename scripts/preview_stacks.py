#!/usr/bin/env python3
"""The stacks a pull request previews (.github/workflows/pulumi.yml, job `stacks`).

  git diff --name-only --no-renames -z BASE...HEAD | python3 scripts/preview_stacks.py [--root DIR]

Input: the paths the pull request changes on standard input, NUL- or newline-separated (a deleted file's path is
among them, and with --no-renames so is a renamed file's old path), and the stack files present: every
Pulumi.<stack>.yaml at the root of the checkout (--root, default the repository this script is in).
Output: one line, the stacks to preview as a compact JSON list (`["dev","prod"]`, or `[]` for none), the workflow's
matrix; the workflow skips the preview job when it reads `[]`.

A stack is previewed when its own file changed, or when anything that deploys changed: every path but README.md,
docs/, tests/, benchmarks/ and the stack files themselves. A path this list does not know counts as deploying, so a
new directory is previewed rather than missed. A deleted stack file previews nothing: there is no file to preview.
Stacks whose file sets `cluster.mode: existing` (local: a cluster on a developer's machine) are never previewed,
since CI cannot reach their cluster; a file that is not valid YAML is previewed, so the preview shows the error.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
STACK_FILE = re.compile(r"Pulumi\.([^/]+)\.yaml")
# What changes no deployment: the docs, the tests and the benchmarks. A stack file changes only its own stack.
NOT_DEPLOYED = ("docs/", "tests/", "benchmarks/")


def stack_of(path: str) -> str | None:
    """The stack a path is the stack file of (at the checkout's root), or None."""
    match = STACK_FILE.fullmatch(path)
    return match.group(1) if match else None


def deploys(path: str) -> bool:
    """Whether a change of this path can change what every stack deploys."""
    return not (path == "README.md" or path.startswith(NOT_DEPLOYED) or stack_of(path) is not None)


def on_a_reachable_cluster(stack_file: str) -> bool:
    """False for a stack file whose cluster is an existing one (cluster.mode: existing), which CI cannot reach."""
    try:
        data = yaml.safe_load(stack_file)
    except yaml.YAMLError:
        return True
    config = data.get("config") if isinstance(data, dict) else None
    cluster = config.get("knative-kafka:cluster") if isinstance(config, dict) else None
    return not (isinstance(cluster, dict) and cluster.get("mode") == "existing")


def stacks_to_preview(changed: Iterable[str], stack_files: Mapping[str, str]) -> list[str]:
    """The stacks to preview, sorted: `stack_files` maps each stack present to its file's text."""
    changed = [path for path in changed if path]
    everything = any(deploys(path) for path in changed)
    touched = {stack_of(path) for path in changed}
    return sorted(stack for stack, text in stack_files.items()
                  if (everything or stack in touched) and on_a_reachable_cluster(text))


def read_paths(data: bytes) -> list[str]:
    text = data.decode("utf-8", "surrogateescape")
    return text.split("\0") if "\0" in text else text.splitlines()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose Pulumi.<stack>.yaml files count")
    args = parser.parse_args(argv)
    stack_files = {stack_of(path.name): path.read_text() for path in args.root.glob("Pulumi.*.yaml")}
    present = {stack: text for stack, text in stack_files.items() if stack is not None}
    print(json.dumps(stacks_to_preview(read_paths(sys.stdin.buffer.read()), present), separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
