#!/usr/bin/env python3
"""scripts/capacity <stack> [--json]: a stack's capacity plan, from its stack file alone.

Reads Pulumi.<stack>.yaml (or a stack file's path) with the program's own parser and prints what the
stack requests at its peak, component by component, against what its cluster gives: the plan
`pulumi preview` enforces and `pulumi up` exports as `capacity`. No Pulumi CLI, no cloud, no cluster.

Exit codes: 0 the peak fits (a warning, if within the margin, on stderr) or nothing is declared to hold
it against (existing cluster without cluster.capacity); 1 the stack is refused (the reason on stderr);
2 no such stack file, one that is not YAML, or one the program's reader refuses (one line, as preview's),
or no .venv to run in.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
INSTALL = "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt"

try:
    from components import capacity, stack_file
    from components.config import ConfigError, notices, parse
except ModuleNotFoundError as missing:      # a Python without the requirements: no .venv yet
    print(f"capacity: {missing.name} is not installed: run `{INSTALL}` in {ROOT} (scripts/test does it too)",
          file=sys.stderr)
    sys.exit(2)


def stack_path(stack: str) -> tuple[str, Path]:
    """A stack name (Pulumi.<stack>.yaml beside the program) or a stack file's path -> (stack, path)."""
    path = Path(stack)
    if path.suffix in (".yaml", ".yml") and path.name.startswith("Pulumi."):
        return path.name[len("Pulumi."):-len(path.suffix)], path
    return stack, ROOT / f"Pulumi.{stack}.yaml"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="capacity", description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("stack", help="a stack with a Pulumi.<stack>.yaml (dev, local, prod, ...) or a stack file's path")
    p.add_argument("--json", action="store_true", help="print the `capacity` output as JSON instead of the table")
    a = p.parse_args(argv)
    name, path = stack_path(a.stack)
    if not path.exists():
        stacks = sorted(f.name[len("Pulumi."):-len(".yaml")] for f in ROOT.glob("Pulumi.*.yaml"))
        print(f"capacity: no stack file {path} (stacks: {', '.join(stacks)})", file=sys.stderr)
        return 2
    try:
        cfg = parse(stack_file.read(path), name)
    except ConfigError as e:
        hint = f" ({path.name} still has lines marked REPLACE)" if b"REPLACE" in path.read_bytes() else ""
        print(f"capacity: {e}{hint}", file=sys.stderr)
        return 2
    try:
        plan = capacity.plan(cfg)
    except ConfigError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    print(json.dumps(plan.output(), indent=2) if a.json else f"stack {name}: requests at peak and idle\n{plan.table()}")
    try:
        warnings = capacity.check(plan, cfg)
    except ConfigError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    for warning in [*notices(cfg), *warnings]:
        print(f"warning: {warning}", file=sys.stderr)
    most = capacity.most_functions(cfg)
    if most is not None and not a.json:
        print(f"functions shaped like {cfg.functions[0].name!r} this cluster holds: {most[0]} "
              f"({most[1]} within the {capacity.MARGIN:.0%} margin)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
