"""One fixture for every test: a fresh mocked Pulumi runtime that records registrations.

Whole-program renders (`Harness.run_main`) are shared between tests through one cache per session,
keyed by stack, settings and deployed outputs; each test gets its own copy in a fresh runtime. A test
that patches the program (it uses `monkeypatch`) or compares two renders of the same settings (marker
`fresh_render`) renders anew. ../shared/tools/check-crs starts for every stack file as soon as the
tests are collected, to run beside them (tests/crs.py). Checks that cannot run are listed at the end
without `-rs`, and the summary line closes the output at any verbosity.
"""
from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pulumi.resource
import pulumi.runtime.resource
import pytest
from pulumi.runtime.proto import source_pb2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import crs  # noqa: E402
import harness  # noqa: E402
import webhooks  # noqa: E402
from harness import Harness  # noqa: E402

SESSION_RENDERS = harness.RenderCache()
# __main__.py tunes the collector for one program in one process (a million new objects before a collection).
# A test session runs hundreds of programs: with that setting the garbage of many renders piles up (about a
# second per collection, in memory long out of cache), and with CPython's defaults every full collection
# re-scans the modules of three SDKs. So the session freezes what it imported (never scanned again), the
# harness restores these thresholds after each program, and each render's cycles go while still young:
# 25 s of CPU for the suite instead of 31 (1M) or 35 (defaults), measured with pytest-xdist on 2 cores. The
# oldest generation only every 100th middle one: in one process, 2.6 s of collection in all instead of 3.8.
GC_THRESHOLDS = (5000, 10, 100)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fresh_render: render every stack anew, not from the session's render "
                                       "cache (a test comparing two renders of the same settings)")
    config.addinivalue_line("markers", "any_stack: what must hold for any valid stack file: reads the user's "
                                       "stack files (harness.STACK_FILES), not the fixtures under tests/fixtures")
    # The SDK gives every resource its source position, turning each frame of the call stack into a file
    # URI: under pytest's fifty frames an eighth of the suite's time, for a field the mocked engine never
    # reads. Tests only: benchmarks/ measure the program as `pulumi up` runs it.
    pulumi.runtime.resource._get_stack_trace = source_pb2.StackTrace
    # Resource.__init__ collapses each of a resource's aliases to a URN at once (about ten Outputs each; an
    # azure-native ManagedCluster or AgentPool lists over a hundred API-version aliases, `Alias(type_=...)`):
    # 45% of a render. The URNs themselves are read only by `all_aliases`, for an engine without alias specs;
    # the mocked engine has them (as the real one does), so the aliases reach it as specs (prepare_aliases).
    # The session skips those type-only aliases, which cannot fail to collapse (name, parent, stack and
    # project are the resource's own), collapses every other alias as the SDK does (the program awaits them
    # all at its end: an alias that cannot be collapsed still fails the run), and fails at once should the
    # SDK read the URNs after all. (The cost of azure-native's many aliases: pulumi/pulumi#10010; alias specs
    # replaced the URNs: pulumi/pulumi#11983.)
    pulumi.resource.collapse_alias_to_urn = _collapse_unless_type_only  # type: ignore[assignment] # see above
    pulumi.runtime.resource.all_aliases = _alias_urns_read  # type: ignore[assignment] # raises instead
    if not hasattr(config, "workerinput"):           # the process that runs the session, not an xdist worker
        os.environ[crs.RUNS_DIRECTORY] = tempfile.mkdtemp(prefix="check-crs-")
    # Every program a test runs is held against the upstream admission webhooks, whatever the test asserts.
    harness.RUN_CHECKS.append(webhooks.require_admitted)


_COLLAPSE_ALIAS_TO_URN = pulumi.resource.collapse_alias_to_urn


def _collapse_unless_type_only(alias: object, name: str, typ: str, parent: object) -> object:
    if isinstance(alias, pulumi.Alias) and isinstance(alias.type_, str) and all(
            value is ... for value in (alias.name, alias.parent, alias.stack, alias.project)):
        return None
    return _COLLAPSE_ALIAS_TO_URN(alias, name, typ, parent)  # type: ignore[arg-type]


def _alias_urns_read(*_: object) -> list[object]:
    raise AssertionError("the Pulumi SDK computed alias URNs itself (an engine without alias specs): "
                         "tests/conftest.py skips the URNs it collapses in Resource.__init__")


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = crs.runs()
    if not hasattr(config, "workerinput") and directory is not None:
        crs.stop()
        shutil.rmtree(directory, ignore_errors=True)
        del os.environ[crs.RUNS_DIRECTORY]


def pytest_collection_finish(session: pytest.Session) -> None:
    """check-crs runs in processes of its own: start them now, to run beside the tests. Then the collector
    is set for a long session of short programs (see `GC_THRESHOLDS`)."""
    if not hasattr(session.config, "workerinput"):
        crs.start(crs.stacks_of(item.nodeid for item in session.items))
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    harness.SESSION_GC_THRESHOLDS = GC_THRESHOLDS


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: object, ids: list[str]) -> None:
    crs.start(crs.stacks_of(ids))


@pytest.fixture(autouse=True)
def _shared_renders(request: pytest.FixtureRequest) -> Iterator[None]:
    """Renders come from the session's cache unless the test patches the program or compares renders."""
    fresh = "monkeypatch" in request.fixturenames or request.node.get_closest_marker("fresh_render") is not None
    harness.RENDER_CACHE = None if fresh else SESSION_RENDERS
    yield
    harness.RENDER_CACHE = None


@pytest.fixture(autouse=True)
def _stack_files(request: pytest.FixtureRequest) -> Iterator[None]:
    """Stack files from tests/fixtures, or the user's own for a test marked any_stack."""
    any_stack = request.node.get_closest_marker("any_stack") is not None
    harness.READ_FROM = harness.STACK_FILES if any_stack else harness.FIXTURES
    yield
    harness.READ_FROM = harness.STACK_FILES


@pytest.fixture
def pulumi_mocks() -> Harness:
    """A new runtime per test, so no root stack, config or registration leaks between tests."""
    return Harness()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name every check that did not run, and why, without -rs: a skip is easy to miss in a row of dots."""
    if set(terminalreporter.reportchars) & set("saA"):
        return                                  # pytest lists them itself
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.write_sep("-", "checks that did not run")
        for reason, count in reasons.items():
            terminalreporter.write_line(f"SKIPPED {count}x: {reason}", yellow=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Below -q pytest prints no summary line, so `scripts/test -q` (on top of addopts' -q) would end
    without it: keep the line that says how many passed and failed."""
    if session.config.option.verbose < -1:
        session.config.option.verbose = -1
