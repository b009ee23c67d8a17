"""Every setting's live-change behaviour, complete by construction: components/live_changes.py has a row
for each configuration key the parser reads (the keys are recorded from the parser, not listed here), and
each row's example edit goes through the day-2 layer (tests/day2.py) as the row says: only accepted
updates, the planned replacements it names, or a refusal at preview naming the key, where the day-2 rules
show what the platform would have refused. README "Day 2" holds the table as `live_changes.markdown()`
renders it:

    UPDATE_README=1 scripts/test -k live_changes      (then review the diff of README.md)
"""
from __future__ import annotations

import os
import re
from typing import Any

import pytest
from reference import declarations
from test_day2 import base_settings, edit, refusal, refusals

import day2
from components import config, live_changes
from components.config import ConfigError
from components.live_changes import IN_PLACE, KEPT, MANUAL, REFUSED, REPLACED, ROWS, LiveChange
from harness import ROOT

PREFIX = f"{config.PROJECT}:"
README = ROOT / "README.md"
README_START = "<!-- live-changes: components/live_changes.py renders this table; UPDATE_README=1 scripts/test " \
               "-k live_changes -->\n"
README_END = "<!-- /live-changes -->"
UPDATE = os.environ.get("UPDATE_README", "") not in ("", "0")


def example_settings(row: LiveChange) -> dict[str, Any]:
    return day2.settings(row.stack, row.example, base_settings(row.stack, row.base))


def keys_the_parser_reads() -> tuple[frozenset[str], tuple[str, ...]]:
    """The settings the parser declares, objects aside (tests/reference.py), over every shipped stack file, each
    with every function setting off its default, and each row's example; and the examples it refuses to parse."""
    d = declarations()
    return d.keys, d.unparsed


def row_keys() -> list[str]:
    return [key for row in ROWS for key in row.keys]


def test_every_key_the_parser_reads_has_exactly_one_row():
    read, _ = keys_the_parser_reads()
    keys = row_keys()
    assert sorted(k for k in set(keys) if keys.count(k) > 1) == []
    assert sorted(read - set(keys)) == [], "keys the parser reads without a row in components/live_changes.py"


def test_every_row_names_keys_the_parser_reads():
    read, unparsed = keys_the_parser_reads()
    assert unparsed == (), "examples the parser refuses"
    assert sorted(set(row_keys()) - read) == [], "rows of components/live_changes.py for keys nobody reads"


def test_the_parser_records_keys_as_the_table_names_them():
    read, _ = keys_the_parser_reads()
    assert {"functions[].secretEnv.<name>.secret", "topics[].partitions", "topics", "cluster.userPool.vmSize",
            "versions.knativeServing"} <= read
    assert not {k for k in read if re.search(r"\[\d+\]|API_TOKEN", k)}


def refused_at_preview(row: LiveChange) -> str:
    base = base_settings(row.stack, row.base)
    with pytest.raises(ConfigError) as refused:
        day2.redeploy(row.stack, example_settings(row), day2.deploy(row.stack, base))
    return str(refused.value)


def refused_key(message: str) -> str:
    """'knative-kafka:topics[0].partitions: 3 is not allowed; ...' -> 'topics[].partitions'."""
    assert message.startswith(PREFIX) and " is not allowed; " in message, message
    return re.sub(r"\[\d+\]", "[]", message.split(": ", 1)[0].removeprefix(PREFIX))


@pytest.mark.parametrize("row", ROWS, ids=[row.key for row in ROWS])
def test_an_edit_of_each_setting_does_to_a_live_stack_what_its_row_says(row):
    if row.effect in (REFUSED, MANUAL) and row.refused_by_platform:
        message, unchecked = refusal(row.stack, row.example, row.base)
        assert set(row.refused_by_platform) <= refusals(unchecked).keys(), str(unchecked)
    if row.effect in (REFUSED, MANUAL):
        if not row.refused_by_platform:       # what the day-2 rules cannot see needs no render without the check
            message = refused_at_preview(row)
        assert refused_key(message) in live_changes.expand(row.refused_as or row.key)
        return
    before, after = edit(row.stack, row.example, row.base)
    if row.effect == KEPT:
        outcome = day2.judge(before, after)
        assert refusals(outcome).keys() == set(row.refused_by_platform), str(outcome)
        assert all("silently ignored by ignore_changes" in refusals(outcome)[k] for k in row.refused_by_platform)
        return
    assert row.effect in (IN_PLACE, REPLACED)
    outcome = day2.check(before, after, may_touch={"*"})
    assert {k: v for k, v in outcome.verdicts().items() if v != day2.ACCEPTED} == dict.fromkeys(row.replaces,
                                                                                               day2.REPLACED)
    assert {k: outcome[k].change.resource.delete_before_replace for k in row.replaces} == dict(row.replaces)
    assert bool(list(outcome)) is row.modelled, str(outcome)


def test_readme_day_2_holds_the_table():
    text = README.read_text()
    assert README_START in text and README_END in text, f"README.md lacks the block {README_START!r}"
    head, rest = text.split(README_START, 1)
    block, tail = rest.split(README_END, 1)
    if UPDATE:
        README.write_text(head + README_START + live_changes.markdown() + README_END + tail)
        return
    assert block == live_changes.markdown(), "README's table differs from components/live_changes.py: " + \
        README_START.strip()
