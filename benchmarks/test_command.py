"""How long the README's test command (scripts/test) takes: cold, in a fresh clone with a new venv and no
caches of its own, and warm, run again in that clone; and pytest alone, warm. It prints figures; it is
not a test.

usage: python3 benchmarks/test_command.py [--warm N] [--worktree] [--no-pip-cache] [--keep]

The clone (committed HEAD; --worktree adds the working tree's uncommitted and untracked files) goes
into a temporary directory beside a copy of ../shared, as CI lays it out. Each phase of scripts/test is
timed from the line it prints when it starts (== install, == ruff, == mypy, == pytest). The machine's
pip cache is used as it is; --no-pip-cache measures a first install on a new machine (downloads too).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("install", "ruff", "mypy", "pytest")


def clone(into: Path, worktree: bool) -> Path:
    main = into / "main"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(main)], check=True)
    if worktree:
        listed = subprocess.run(["git", "ls-files", "-z", "--modified", "--others", "--exclude-standard"],
                                cwd=ROOT, check=True, capture_output=True, text=True).stdout
        for name in filter(None, listed.split("\0")):
            source, target = ROOT / name, main / name
            if source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
            elif target.exists():
                target.unlink()                           # deleted in the working tree
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        shutil.copytree(shared, into / "shared", symlinks=True)
    else:
        print(f"warning: no {shared}: the check-crs tests cannot run", file=sys.stderr)
    return main


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, dict[str, float], int, str]:
    """Wall time of the command, the time of each scripts/test phase, its exit status and last line."""
    started = time.perf_counter()
    marks: dict[str, float] = {}
    last = ""
    with subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("== "):
                marks[line.split()[1]] = time.perf_counter() - started
            if line.strip():
                last = line.rstrip()
    total = time.perf_counter() - started
    order = [p for p in PHASES if p in marks]
    ends = [marks[p] for p in order[1:]] + [total] * bool(order)
    # The first phase from the start: what the script does before its first line (the stamp check).
    phases = {p: end - (marks[p] if i else 0.0) for i, (p, end) in enumerate(zip(order, ends, strict=True))}
    return total, phases, process.returncode, last


def row(label: str, total: float, phases: dict[str, float], status: int, last: str) -> str:
    parts = "  ".join(f"{p} {phases[p]:5.1f}" for p in PHASES if p in phases)
    return f"{label:<22} {total:6.1f} s   {parts}   exit {status}   {last[-60:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=3, help="warm runs of each (default 3)")
    parser.add_argument("--worktree", action="store_true", help="measure the working tree, not HEAD")
    parser.add_argument("--no-pip-cache", action="store_true", help="install without the machine's pip cache")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    if args.no_pip_cache:
        env["PIP_NO_CACHE_DIR"] = "1"
    print(f"{os.cpu_count()} cores, {sys.version.split()[0]}, PYTHONDONTWRITEBYTECODE="
          f"{env.get('PYTHONDONTWRITEBYTECODE', '')!r}, CI={env.get('CI', '')!r}, "
          f"{'no pip cache' if args.no_pip_cache else 'pip cache as it is'}")
    workdir = Path(tempfile.mkdtemp(prefix="test-command-"))
    try:
        main_dir = clone(workdir, args.worktree)
        print(f"clone of {'the working tree' if args.worktree else 'HEAD'} in {main_dir}")
        script = ["bash", "scripts/test"]
        cold = timed(script, main_dir, env)
        print(row("scripts/test, cold", *cold))
        warm = [timed(script, main_dir, env) for _ in range(args.warm)]
        for run in warm:
            print(row("scripts/test, warm", *run))
        alone = [timed([str(main_dir / ".venv" / "bin" / "python"), "-m", "pytest"], main_dir, env)
                 for _ in range(args.warm)]
        for run in alone:
            print(row("pytest alone, warm", *run))
        print(f"\ncold {cold[0]:.1f} s; warm median {statistics.median(r[0] for r in warm):.1f} s "
              f"(best {min(r[0] for r in warm):.1f}); pytest alone median "
              f"{statistics.median(r[0] for r in alone):.1f} s (best {min(r[0] for r in alone):.1f})")
        if any(r[2] for r in [cold, *warm, *alone]):
            print("some runs failed: the times are not of a passing run", file=sys.stderr)
            sys.exit(1)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
