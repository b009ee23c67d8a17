"""The shipped stack files are the user's to edit: done as README says, the suite stays green. The tests that
assert particular values read copies under tests/fixtures; those marked any_stack read the user's files, and
here they run on the shipped files edited as a user would."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import FIXTURES, PLACEHOLDERS, ROOT, SHIPPED_STACKS

# Pulumi.prod.yaml's REPLACE lines as a user fills them in: other values than the tests' own PLACEHOLDERS, so
# no test passes only because it expects the values it filled in itself.
FILLED_IN = {
    "00000000-0000-0000-0000-000000000000   # REPLACE: Entra ID group of the cluster admins":
        "2d7f4b9e-61a3-4c58-9e0d-7a1b3c5d8f20",
    "203.0.113.0/24                         # REPLACE: egress range of the deployers / CI": "20.61.4.0/24",
}
# A second function on dev's topic, appended to its functions list.
ADDED_FUNCTION = """    - name: orders
      topic: my-topic
"""
# What Pulumi writes into a stack file once it has a secrets provider (README "Working as a team": commit it).
SECRETS_PROVIDER = """secretsprovider: azurekeyvault://kv-knative-kafka.vault.azure.net/keys/pulumi-state/4f2a
encryptedkey: ZXhhbXBsZS1lbmNyeXB0ZWQta2V5
"""


def edited_as_readme_says(directory: Path) -> None:
    """The shipped stack files, into `directory`, with prod's placeholders filled in and a function added to dev;
    and two stacks a user adds beside them: `staging` (prod's settings in another region, with lag-driven
    consumers kept warm) and `idle` (prod without functions)."""
    for stack in SHIPPED_STACKS:
        text = (FIXTURES / f"Pulumi.{stack}.yaml").read_text()
        if stack == "prod":
            for placeholder, value in FILLED_IN.items():
                assert text.count(placeholder) == 1, placeholder
                text = text.replace(placeholder, value)
        if stack == "dev":
            text = SECRETS_PROVIDER + text + ADDED_FUNCTION
        (directory / f"Pulumi.{stack}.yaml").write_text(text)
    prod = yaml.safe_load((directory / "Pulumi.prod.yaml").read_text())
    for stack, settings in added_stacks(prod["config"]).items():
        (directory / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": settings}, sort_keys=False))


def added_stacks(prod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cluster = {**prod["knative-kafka:cluster"], "location": "northeurope"}
    staging = {**prod, "knative-kafka:cluster": cluster,
               # prod's function is kept warm (minScale 1): its consumers are too (README, policy pack)
               "knative-kafka:consumerScaling": {"enabled": True, "minConsumers": 1}}
    return {"staging": staging, "idle": {**prod, "knative-kafka:functions": []}}


def test_the_edits_are_what_they_say(tmp_path):
    edited_as_readme_says(tmp_path)
    prod = yaml.safe_load((tmp_path / "Pulumi.prod.yaml").read_text())["config"]["knative-kafka:cluster"]
    assert (prod["adminGroupObjectIds"], prod["authorizedIpRanges"]) == (["2d7f4b9e-61a3-4c58-9e0d-7a1b3c5d8f20"],
                                                                         ["20.61.4.0/24"])
    assert not set(PLACEHOLDERS.values()) & {*prod["adminGroupObjectIds"], *prod["authorizedIpRanges"]}
    dev = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())
    assert [f["name"] for f in dev["config"]["knative-kafka:functions"]] == ["event-display", "orders"]
    assert "# REPLACE" not in (tmp_path / "Pulumi.prod.yaml").read_text()
    staging = yaml.safe_load((tmp_path / "Pulumi.staging.yaml").read_text())["config"]
    assert staging["knative-kafka:cluster"]["location"] == "northeurope"
    assert staging["knative-kafka:consumerScaling"]["enabled"] is True
    assert yaml.safe_load((tmp_path / "Pulumi.idle.yaml").read_text())["config"]["knative-kafka:functions"] == []


@pytest.mark.timeout(600)
def test_the_any_stack_tests_pass_on_the_shipped_files_edited_as_readme_says(tmp_path):
    edited_as_readme_says(tmp_path)
    # A session of its own (one process: this one's worker already has a core), on the edited files.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KNATIVE_KAFKA_"))}
    result = subprocess.run([sys.executable, "-m", "pytest", "-m", "any_stack", "-n", "0", "-q"], cwd=ROOT,
                            env={**env, "KNATIVE_KAFKA_STACK_FILES": str(tmp_path)}, capture_output=True, text=True,
                            timeout=540, check=False)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " failed" not in summary and " error" not in summary, summary


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_the_fixtures_are_the_shipped_stack_files(stack):
    """The tests that assert values read tests/fixtures; a maintainer who changes a shipped stack file copies it
    there. A user's edited file differs on purpose: said here, not failed."""
    shipped = ROOT / f"Pulumi.{stack}.yaml"
    if not shipped.exists() or shipped.read_bytes() != (FIXTURES / f"Pulumi.{stack}.yaml").read_bytes():
        pytest.skip(f"Pulumi.{stack}.yaml is not the shipped file the value tests read (tests/fixtures/"
                    f"Pulumi.{stack}.yaml): edited, which is yours to do; a change to the template itself goes to both")
    assert yaml.safe_load(shipped.read_text())["config"]
