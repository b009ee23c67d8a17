"""Mutation testing of components/ and policy/rules.py: a seeded random sample of simple mutants, each
applied alone to a copy of the repository, and the tests run against it (pytest -x -q in one process, with a
timeout; --jobs copies side by side).
A mutant the tests fail on (or time out on) is killed; one they pass survives and is listed with where
it is. It prints figures; it is not a test.

usage: .venv/bin/python benchmarks/mutants.py [--seed S] [--sample N] [--jobs J] [--timeout T]
                                              [--json FILE] [--list] [PATH ...]

Operators, each on one node of the module's syntax tree (the module is written back with ast.unparse):
  drop-keyword   a keyword argument removed from a call            f(parent=self, x=1) -> f(x=1)
  drop-entry     an entry removed from a dict literal              {"name": n, "ns": s} -> {"ns": s}
  drop-element   an element removed from a list, tuple or set      [a, b] -> [b]
  flip-bool      True <-> False
  change-string  a string constant emptied ("" becomes "mutant")   f"topic-{n}" -> f"{n}"
  change-number  n -> n + 1
  swap-compare   == <-> !=, < <-> <=, > <-> >=, in <-> not in, is <-> is not
  swap-boolop    and <-> or
  drop-not       not x -> x
  negate-test    the test of an if, elif, while or conditional expression negated
  return-none    return x -> return None
  swap-arith     + <-> -, * <-> /, // -> /, % -> *
Never mutated, as no mutant of them can change behaviour: docstrings and annotations (the modules use
`from __future__ import annotations`, so annotations are never evaluated).

The unmutated modules, written back the same way, are run first: a failure there stops the run.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PATHS = ["components", "policy/rules.py"]
COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
ARITH_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
    ast.Mod: ast.Mult}


@dataclass(frozen=True)
class Mutant:
    path: str           # relative to the repository
    index: int          # the index-th mutation site of the module, in ast.walk order
    operator: str
    line: int
    before: str         # the mutated node's source before and after
    after: str


@dataclass
class Outcome:
    mutant: Mutant
    status: str         # killed | survived | timeout
    seconds: float
    failed_test: str


def excluded_nodes(tree: ast.Module) -> set[int]:
    """ids of the nodes never mutated: docstrings and everything inside annotations."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body and \
                isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and \
                isinstance(body[0].value.value, str):
            skip.add(id(body[0].value))
        annotations: list[ast.AST | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations.append(node.returns)
        if isinstance(node, ast.arg):
            annotations.append(node.annotation)
        if isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for annotation in annotations:
            if annotation is not None:
                skip.update(id(n) for n in ast.walk(annotation))
    return skip


def parents_of(tree: ast.Module) -> dict[int, tuple[ast.AST, str, int | None]]:
    found: dict[int, tuple[ast.AST, str, int | None]] = {}
    for node in ast.walk(tree):
        for name, value in ast.iter_fields(node):
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        found[id(item)] = (node, name, i)
            elif isinstance(value, ast.AST):
                found[id(value)] = (node, name, None)
    return found


def replace(parents: dict[int, tuple[ast.AST, str, int | None]], node: ast.AST, new: ast.AST) -> None:
    parent, name, index = parents[id(node)]
    if index is None:
        setattr(parent, name, new)
    else:
        getattr(parent, name)[index] = new


def drop_entry(node: ast.Dict, i: int) -> None:
    node.keys.pop(i)
    node.values.pop(i)


def sites(tree: ast.Module) -> Iterator[tuple[str, ast.AST, Callable[[], object]]]:
    """Every mutation of the module: (operator, node, apply it in place), in a fixed order."""
    skip, parents = excluded_nodes(tree), parents_of(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Call):
            for i, keyword in enumerate(node.keywords):
                if keyword.arg is not None:
                    yield "drop-keyword", keyword, partial(node.keywords.pop, i)
        elif isinstance(node, ast.Dict):
            for i, key in enumerate(node.keys):
                if key is not None:
                    yield "drop-entry", key, partial(drop_entry, node, i)
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)) and not isinstance(getattr(node, "ctx", None), ast.Store):
            if len(node.elts) > (1 if isinstance(node, ast.Set) else 0):
                for i, element in enumerate(node.elts):
                    if not isinstance(element, ast.Starred):
                        yield "drop-element", element, partial(node.elts.pop, i)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                yield "flip-bool", node, partial(setattr, node, "value", not node.value)
            elif isinstance(node.value, str):
                yield "change-string", node, partial(setattr, node, "value", "" if node.value else "mutant")
            elif isinstance(node.value, (int, float)):
                yield "change-number", node, partial(setattr, node, "value", node.value + 1)
        elif isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in COMPARE_SWAPS:
                    yield "swap-compare", node, partial(node.ops.__setitem__, i, COMPARE_SWAPS[type(op)]())
        elif isinstance(node, ast.BoolOp):
            yield "swap-boolop", node, partial(setattr, node, "op", ast.Or() if isinstance(node.op, ast.And)
                                               else ast.And())
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield "drop-not", node, partial(replace, parents, node, node.operand)
        elif isinstance(node, ast.BinOp) and type(node.op) in ARITH_SWAPS:
            yield "swap-arith", node, partial(setattr, node, "op", ARITH_SWAPS[type(node.op)]())
        elif isinstance(node, ast.Return) and node.value is not None and \
                not (isinstance(node.value, ast.Constant) and node.value.value is None):
            yield "return-none", node, partial(setattr, node, "value", ast.Constant(None))
        if isinstance(node, (ast.If, ast.While, ast.IfExp)):
            yield "negate-test", node.test, partial(setattr, node, "test", ast.UnaryOp(ast.Not(), node.test))


def describe(node: ast.AST) -> str:
    text = ast.unparse(node) if not isinstance(node, ast.keyword) else f"{node.arg}={ast.unparse(node.value)}"
    return text if len(text) <= 70 else text[:67] + "..."


def mutants_of(path: str) -> list[Mutant]:
    """Every mutant of the module (what it becomes is worked out for the sampled ones only)."""
    tree = ast.parse((ROOT / path).read_text())
    return [Mutant(path, index, operator, getattr(node, "lineno", 0) or getattr(getattr(node, "value", None),
                                                                                "lineno", 0),
                   describe(node), "")
            for index, (operator, node, _) in enumerate(sites(tree))]


def with_result(mutant: Mutant) -> Mutant:
    """The mutant with the mutated node's source."""
    if mutant.operator in ("drop-keyword", "drop-entry", "drop-element"):
        return replace_field(mutant, "(removed)")
    tree = ast.parse((ROOT / mutant.path).read_text())
    _, node, apply = list(sites(tree))[mutant.index]
    apply()
    target = node.operand if isinstance(node, ast.UnaryOp) and mutant.operator == "drop-not" else node
    return replace_field(mutant, describe(target))


def replace_field(mutant: Mutant, after: str) -> Mutant:
    return Mutant(mutant.path, mutant.index, mutant.operator, mutant.line, mutant.before, after)


def mutated_source(mutant: Mutant | None, path: str) -> str:
    tree = ast.parse((ROOT / path).read_text())
    if mutant is not None:
        _, _, apply = list(sites(tree))[mutant.index]
        apply()
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def copy_repository(into: Path) -> Path:
    main = into / "main"
    shutil.copytree(ROOT, main, ignore=shutil.ignore_patterns(".venv", ".git", ".mypy_cache", ".ruff_cache",
                                                               "__pycache__", ".pytest_cache"))
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        (into / "shared").symlink_to(shared)
    return main


def run_tests(main: Path, timeout: float) -> tuple[str, float, str]:
    # Never a stale .pyc of a mutated module; check-crs runs with this Python (the copy has no .venv).
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHON": sys.executable}
    started = time.perf_counter()
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-n", "0"], cwd=main,
                                env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - started, ""
    seconds = time.perf_counter() - started
    failed = next((line.split()[1] for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))),
                  "")
    return ("survived" if result.returncode == 0 else "killed"), seconds, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=DEFAULT_PATHS, help="modules or directories to mutate")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--sample", type=int, default=200, help="how many mutants (default 200)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested side by side (default 2)")
    parser.add_argument("--timeout", type=float, default=180, help="seconds per test run (default 180)")
    parser.add_argument("--json", type=Path, help="write every outcome to this file")
    parser.add_argument("--list", action="store_true", help="print the sample and stop")
    args = parser.parse_args()

    files = sorted(str(p.relative_to(ROOT)) for path in args.paths
                   for p in ([ROOT / path] if (ROOT / path).is_file() else sorted((ROOT / path).rglob("*.py"))))
    population = [m for path in files for m in mutants_of(path)]
    sample = [with_result(m) for m in random.Random(args.seed).sample(population, min(args.sample, len(population)))]
    print(f"{len(population)} mutants in {len(files)} modules; sample of {len(sample)} with seed {args.seed}: "
          + ", ".join(f"{op} {n}" for op, n in sorted(Counter(m.operator for m in sample).items())))
    if args.list:
        for m in sample:
            print(f"{m.path}:{m.line} {m.operator}: {m.before} -> {m.after}")
        return

    workdir = Path(tempfile.mkdtemp(prefix="mutants-"))
    try:
        copies = [copy_repository(workdir / str(job)) for job in range(args.jobs)]
        for path in files:                    # the modules as ast.unparse writes them, unmutated
            for main in copies:
                (main / path).write_text(mutated_source(None, path))
        status, seconds, failed = run_tests(copies[0], args.timeout)
        print(f"baseline (unmutated, unparsed): {status} in {seconds:.0f} s {failed}")
        if status != "survived":
            sys.exit("the tests fail without a mutant: fix that first")
        free = list(copies)
        outcomes: list[Outcome] = []

        def test(mutant: Mutant) -> Outcome:
            main = free.pop()
            try:
                (main / mutant.path).write_text(mutated_source(mutant, mutant.path))
                status, seconds, failed = run_tests(main, args.timeout)
                return Outcome(mutant, status, seconds, failed)
            finally:
                (main / mutant.path).write_text(mutated_source(None, mutant.path))
                free.append(main)

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for outcome in pool.map(test, sample):
                outcomes.append(outcome)
                m = outcome.mutant
                print(f"{len(outcomes):4d} {outcome.status:8s} {outcome.seconds:5.1f}s {m.path}:{m.line} "
                      f"{m.operator}: {m.before} -> {m.after}   {outcome.failed_test}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    killed = [o for o in outcomes if o.status != "survived"]
    survivors = [o for o in outcomes if o.status == "survived"]
    print(f"\nkilled {len(killed)} of {len(outcomes)} ({100 * len(killed) / len(outcomes):.1f}%), "
          f"{sum(o.status == 'timeout' for o in outcomes)} of them by timeout; seed {args.seed}")
    for o in survivors:
        m = o.mutant
        print(f"  survivor {m.path}:{m.line} {m.operator}: {m.before} -> {m.after}")
    if args.json:
        args.json.write_text(json.dumps([{**asdict(o.mutant), "status": o.status, "seconds": round(o.seconds, 1),
                                          "failed_test": o.failed_test} for o in outcomes], indent=1))


if __name__ == "__main__":
    main()
