"""Cost of evaluating the program per function: wall time, peak memory and resources registered
for 1, 50 and 200 functions, each count in a fresh process under Pulumi's mocks. Wall time is the best
of --repeat warm runs (imports done, the previous run's garbage collected first); peak memory is what
Python allocates during one run (tracemalloc). The cost per extra function is printed between each
pair of counts, so a cost that grows with the count (not linear) shows.

usage: .venv/bin/python benchmarks/functions.py [--stack STACK] [--repeat N] [COUNT ...]
(prod: authentication on, so each function also gets a KafkaUser, a password and two Secrets)
"""
from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def stack_with(count: int) -> dict:
    return {
        "topics": [{"name": "orders", "partitions": 6}],
        "functions": [{"name": f"fn-{i}", "topic": "orders", "namespace": f"team-{i % 5}"} for i in range(count)],
    }


USAGE = "usage: .venv/bin/python benchmarks/functions.py [--stack STACK] [--repeat N] [COUNT ...]"


def stacks() -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def usage(problem: str) -> NoReturn:
    print(f"{USAGE}\n{problem}stacks: {' '.join(stacks())}", file=sys.stderr)
    sys.exit(2)


def measure(stack: str, count: int, repeat: int = 3) -> dict:
    """Warm-up run (imports, first-use caches), then the best of `repeat` timed runs, then a run traced
    for memory."""
    from harness import Harness, stack_config

    overrides = {**stack_config(stack), **stack_with(count)}
    # Pools that hold any count: at preview the capacity plan (components/capacity.py) refuses a peak that
    # does not fit, and this measures the program, not the cluster.
    cluster = overrides.get("cluster") or {}
    overrides["cluster"] = {**cluster, **{key: {**pool, "maxCount": 1000} for key, pool in cluster.items()
                                          if key in ("systemPool", "userPool") and pool.get("enabled", True)}}
    Harness().run_main(stack, overrides)
    seconds = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        registry = Harness().run_main(stack, overrides)
        seconds = min(seconds, time.perf_counter() - started)
    tracemalloc.start()
    Harness().run_main(stack, overrides)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"functions": count, "seconds": round(seconds, 3), "peak_mib": round(peak / 2**20, 1),
            "resources": len(registry.registrations)}


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--one"]:
        print(json.dumps(measure(args[1], int(args[2]), int(args[3]))))
        return
    stack, repeat = "dev", 3
    try:
        while args[:1] in (["--stack"], ["--repeat"]):
            if args[0] == "--stack":
                stack = args[1]
            else:
                repeat = int(args[1])
            args = args[2:]
        counts = [int(a) for a in args] or [1, 50, 200]
    except (IndexError, ValueError):
        usage("")
    if stack not in stacks():
        usage(f"no stack file Pulumi.{stack}.yaml\n")
    rows = [json.loads(subprocess.run([sys.executable, __file__, "--one", stack, str(c), str(repeat)], check=True,
                                      capture_output=True, text=True).stdout.splitlines()[-1]) for c in counts]
    print(f"stack {stack}")
    print(f"{'functions':>9} {'wall s':>8} {'peak MiB':>9} {'resources':>9} {'ms per extra function':>22}")
    for before, r in zip([None, *rows], rows, strict=False):
        step = "" if before is None or r["functions"] == before["functions"] else \
            f"{(r['seconds'] - before['seconds']) / (r['functions'] - before['functions']) * 1000:22.1f}"
        print(f"{r['functions']:>9} {r['seconds']:>8.3f} {r['peak_mib']:>9.1f} {r['resources']:>9} {step}")
    first, last = rows[0], rows[-1]
    if last["functions"] > first["functions"]:
        per = {k: (last[k] - first[k]) / (last["functions"] - first["functions"])
               for k in ("seconds", "peak_mib", "resources")}
        print(f"per extra function: {per['seconds'] * 1000:.1f} ms, {per['peak_mib']:.2f} MiB, "
              f"{per['resources']:.1f} resources")


if __name__ == "__main__":
    main()
