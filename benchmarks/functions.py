"""Cost of evaluating the program per function: wall time, peak memory and resources registered
for 1, 10 and 50 functions, each count in a fresh process under Pulumi's mocks. Wall time is of a
warm run (imports done); peak memory is what Python allocates during one run (tracemalloc).

usage: .venv/bin/python benchmarks/functions.py [--stack dev|prod] [COUNT ...]
(prod: authentication on, so each function also gets a KafkaUser, a password and two Secrets)
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def stack_with(count: int) -> dict:
    return {
        "topics": [{"name": "orders", "partitions": 6}],
        "functions": [{"name": f"fn-{i}", "topic": "orders", "namespace": f"team-{i % 5}"} for i in range(count)],
    }


def measure(stack: str, count: int) -> dict:
    """Warm-up run (imports, first-use caches), then a timed run, then a run traced for memory."""
    from harness import Harness, stack_config

    overrides = {**stack_config(stack), **stack_with(count)}
    Harness().run_main(stack, overrides)
    started = time.perf_counter()
    registry = Harness().run_main(stack, overrides)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    Harness().run_main(stack, overrides)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"functions": count, "seconds": round(seconds, 3), "peak_mib": round(peak / 2**20, 1),
            "resources": len(registry.registrations)}


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--one"]:
        print(json.dumps(measure(args[1], int(args[2]))))
        return
    stack = "dev"
    if args[:1] == ["--stack"]:
        stack, args = args[1], args[2:]
    counts = [int(a) for a in args] or [1, 10, 50]
    rows = [json.loads(subprocess.run([sys.executable, __file__, "--one", stack, str(c)], check=True,
                                      capture_output=True, text=True).stdout.splitlines()[-1]) for c in counts]
    print(f"stack {stack}")
    print(f"{'functions':>9} {'wall s':>8} {'peak MiB':>9} {'resources':>9}")
    for r in rows:
        print(f"{r['functions']:>9} {r['seconds']:>8.3f} {r['peak_mib']:>9.1f} {r['resources']:>9}")
    first, last = rows[0], rows[-1]
    if last["functions"] > first["functions"]:
        per = {k: (last[k] - first[k]) / (last["functions"] - first["functions"])
               for k in ("seconds", "peak_mib", "resources")}
        print(f"per extra function: {per['seconds'] * 1000:.1f} ms, {per['peak_mib']:.2f} MiB, "
              f"{per['resources']:.1f} resources")


if __name__ == "__main__":
    main()
