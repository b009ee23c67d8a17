"""../shared/tools/check-crs for every stack file, run beside the tests rather than in turn.

tests/conftest.py starts one run per stack file as soon as the tests are collected, in the process that
runs the session (pytest-xdist's controller when there is one, so its workers share the runs). Each run
writes what it printed and its exit status into a directory the session names in $RUNS_DIRECTORY;
`result` waits for a run there, or runs check-crs itself when nothing started it.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from harness import PROJECT, ROOT, SHARED_TOOLS, STACK_FILES, stack_config

CHECK_CRS = SHARED_TOOLS / "check-crs"
RUNS_DIRECTORY = "KNATIVE_KAFKA_CHECK_CRS_RUNS"
TEST = "test_check_crs_finds_every_custom_resource_valid"
_started: list[subprocess.Popen[bytes]] = []


def command(stack: str) -> list[str]:
    """check-crs on the user's stack file (STACK_FILES) with its placeholders filled in, as the user must before a
    deploy. check-crs reads the checkout's file: what differs from it is set (or unset) over it."""
    wanted = stack_config(stack, directory=STACK_FILES)
    checkout = ROOT / f"Pulumi.{stack}.yaml"
    read = stack_config(stack, placeholders_filled=False, directory=ROOT) if checkout.exists() else {}
    return [str(CHECK_CRS), "--stack", stack,
            *(f"--set={PROJECT}:{key}={json.dumps(value)}" for key, value in wanted.items() if value != read.get(key)),
            *(f"--unset={PROJECT}:{key}" for key in read if key not in wanted)]


def environment() -> dict[str, str]:
    python = Path(os.environ.get("PYTHON", ROOT / ".venv" / "bin" / "python"))
    return {**os.environ, "PYTHON": str(python if python.exists() else shutil.which("python3"))}


def runs() -> Path | None:
    directory = os.environ.get(RUNS_DIRECTORY)
    return Path(directory) if directory else None


def start(stacks: Iterable[str]) -> None:
    """Start check-crs for each stack not started yet, each writing <stack>.out, .err and, at the end, .rc."""
    directory = runs()
    if directory is None or not CHECK_CRS.exists():
        return
    for stack in stacks:
        started = directory / f"{stack}.started"
        if started.exists():
            continue
        started.touch()
        out, err, rc = (directory / f"{stack}.{suffix}" for suffix in ("out", "err", "rc"))
        script = '"$@" >"$OUT" 2>"$ERR"; echo $? >"$RC.tmp"; mv "$RC.tmp" "$RC"'
        _started.append(subprocess.Popen(["bash", "-c", script, "check-crs", *command(stack)], cwd=ROOT,
                                         env={**environment(), "OUT": str(out), "ERR": str(err), "RC": str(rc)},
                                         start_new_session=True))


def stop() -> None:
    """End the runs still going (the session ended early) and forget them."""
    for process in _started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    _started.clear()


def result(stack: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    directory = runs()
    if directory is None or not (directory / f"{stack}.started").exists():
        return subprocess.run(command(stack), cwd=ROOT, env=environment(), capture_output=True, text=True,
                              timeout=timeout, check=False)
    rc, deadline = directory / f"{stack}.rc", time.monotonic() + timeout
    while not rc.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"check-crs --stack {stack} did not finish in {timeout:.0f} s")
        time.sleep(0.05)
    return subprocess.CompletedProcess(command(stack), int(rc.read_text()), (directory / f"{stack}.out").read_text(),
                                       (directory / f"{stack}.err").read_text())


def stacks_of(test_ids: Iterable[str]) -> list[str]:
    """The stacks of the check-crs tests among these test ids (test_x[dev] -> dev)."""
    return [test_id.rsplit("[", 1)[1].rstrip("]") for test_id in test_ids if f"::{TEST}[" in test_id]
