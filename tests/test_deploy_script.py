"""The README's deploy command, with stand-ins for the pulumi and az CLIs that log what they are asked."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness import ROOT

STUB = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$CALLS"
"""


@pytest.fixture
def cli(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("pulumi", "az"):
        (bin_dir / tool).write_text(STUB)
        (bin_dir / tool).chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path),
            "CALLS": str(tmp_path / "calls.log"), "PULUMI_BACKEND_URL": "", "PULUMI_CONFIG_PASSPHRASE": ""}


def deploy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in env.items() if v != ""}
    return subprocess.run([str(ROOT / "scripts" / "deploy"), *args], env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def calls(env: dict[str, str]) -> list[str]:
    path = Path(env["CALLS"])
    return path.read_text().splitlines() if path.exists() else []


def test_deploy_uses_a_local_file_backend_and_registers_aks_providers(cli):
    cli["PULUMI_CONFIG_PASSPHRASE"] = "test"
    result = deploy(cli, "dev", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    home = cli["HOME"]
    assert calls(cli) == [
        "az provider register --namespace Microsoft.ContainerService --wait",
        "az provider register --namespace Microsoft.Compute --wait",
        "az provider register --namespace Microsoft.Network --wait",
        "az provider register --namespace Microsoft.Storage --wait",
        f"pulumi login file://{home}/.pulumi-knative-kafka",
        "pulumi stack select --create dev",
        "pulumi up --stack dev --yes",
    ]
    assert Path(home, ".pulumi-knative-kafka").is_dir()


def test_deploy_of_an_existing_cluster_stack_needs_no_azure(cli):
    cli["PULUMI_CONFIG_PASSPHRASE"] = "test"
    result = deploy(cli, "local")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c for c in calls(cli) if c.startswith("az ")] == []


def test_deploy_refuses_without_a_passphrase_for_a_self_managed_backend(cli):
    result = deploy(cli, "dev")
    assert result.returncode == 2
    assert "PULUMI_CONFIG_PASSPHRASE" in result.stdout
    assert calls(cli) == []


def test_deploy_to_pulumi_cloud_needs_no_passphrase(cli):
    cli["PULUMI_BACKEND_URL"] = "https://api.pulumi.com"
    result = deploy(cli, "prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pulumi login https://api.pulumi.com" in calls(cli)


def test_deploy_names_the_stacks_when_the_stack_file_is_missing(cli):
    result = deploy(cli, "staging")
    assert result.returncode == 2
    assert "stacks: dev local prod" in result.stdout
