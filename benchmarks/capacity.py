"""Cost of the capacity plan at preview: what its stage adds to a run (components/capacity.plan and
check, the refusal included), for 1, 10, 50 and 200 functions of the recipe's shape on each stack.
Parsing the settings is not part of it (shown beside it for scale). Median of many runs, in one warm process.

usage: .venv/bin/python benchmarks/capacity.py [--runs N] [COUNT ...]
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

BUDGET_MS = 5.0          # issue 12: at most 5 ms for 200 functions


def stack_with(stack: str, count: int) -> dict[str, Any]:
    from harness import stack_config

    return {**stack_config(stack), "topics": [{"name": "orders", "partitions": 6}],
            "functions": [{"name": f"fn-{i}", "topic": "orders", "namespace": f"team-{i % 5}"} for i in range(count)]}


def median_ms(runs: int, step: Any) -> float:
    step()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    from components import capacity
    from components.config import ConfigError, parse

    args = sys.argv[1:]
    runs = 200
    try:
        if args[:1] == ["--runs"]:
            runs, args = int(args[1]), args[2:]
        counts = [int(a) for a in args] or [1, 10, 50, 200]
    except (IndexError, ValueError):
        print("usage: .venv/bin/python benchmarks/capacity.py [--runs N] [COUNT ...] (it plans dev and prod)",
              file=sys.stderr)
        sys.exit(2)
    print(f"{'stack':<6}{'functions':>10}{'plan ms':>9}{'parse ms':>10}{'peak CPU':>10}{'peak mem':>10}  verdict")
    worst = 0.0
    for stack in ("dev", "prod"):
        for count in counts:
            raw = stack_with(stack, count)
            cfg = parse(raw, stack)

            def evaluate(cfg: Any = cfg) -> str:
                p = capacity.plan(cfg)
                try:
                    warnings = capacity.check(p, cfg)
                except ConfigError:
                    return "refused"
                return "warns" if warnings else "fits"

            plan_ms = median_ms(runs, evaluate)
            parse_ms = median_ms(max(runs // 10, 5), lambda raw=raw, stack=stack: parse(raw, stack))
            p = capacity.plan(cfg)
            if count == 200:
                worst = max(worst, plan_ms)
            print(f"{stack:<6}{count:>10}{plan_ms:>9.3f}{parse_ms:>10.2f}{capacity.cores(p.cpu):>10}"
                  f"{capacity.gib(p.memory):>10}  {evaluate()}")
    if 200 in counts:
        verdict = "within" if worst <= BUDGET_MS else "OVER"
        print(f"200 functions: {worst:.3f} ms at most (budget {BUDGET_MS} ms): {verdict}")


if __name__ == "__main__":
    main()
