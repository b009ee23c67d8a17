"""scripts/deploy, run against stand-ins for the CLIs it needs (pulumi, az, kubelogin, kubectl, python3)
that log what they are asked (tests/stand_ins.py). KNATIVE_KAFKA_SKIP_VENV=1 keeps the project's .venv
untouched and the network out of it."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import stand_ins
from stand_ins import LOG, Sandbox

from components.cluster import RESOURCE_PROVIDERS
from harness import FIXTURES, ROOT

SCRIPT = ROOT / "scripts" / "deploy"
BASIC_TOOLS = ("bash", "dirname", "mkdir")
CLIS = ("pulumi", "az", "kubelogin", "kubectl", "python3")
AZ_PROVIDERS = [f"az provider register --namespace {namespace} --wait" for namespace in RESOURCE_PROVIDERS]
# What the script may ask before it has checked everything: questions, no changes.
READ_ONLY = ("az account show", "az provider show", "az feature show", "python3 -c ", "python3 --version")

STUBS = {
    # The backend in the log line shows what each pulumi command was pointed at.
    "pulumi": '#!/usr/bin/env bash\necho "PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL-} pulumi $*" >> "$CALLS"\n'
              'if [[ ${1-} == up && -n ${PULUMI_UP_FAILS-} ]]; then exit 255; fi\n',
    "az": "#!/usr/bin/env bash\n" + LOG
          + 'if [[ "${1-} ${2-}" == "account show" && -n ${AZ_LOGGED_OUT-} ]]; then\n'
            "  echo \"Please run 'az login' to setup account.\" >&2; exit 1\nfi\n"
            'if [[ "${1-} ${2-}" == "provider show" ]]; then\n'
            '  if [[ " ${AZ_REGISTERED-} " == *" $4 "* ]]; then echo Registered; else echo NotRegistered; fi\nfi\n'
            'if [[ "${1-} ${2-}" == "feature show" ]]; then\n'
            '  if [[ -f "$CALLS.feature" ]]; then echo Registered; else echo NotRegistered; fi\nfi\n'
            'if [[ "${1-} ${2-}" == "feature register" ]]; then : > "$CALLS.feature"; fi\n',
    "python3": "#!/usr/bin/env bash\n" + LOG
               + 'if [[ ${1-} == --version ]]; then echo "Python 3.9.2"; exit 0; fi\n'
                 'if [[ ${1-} == -c && -n ${PYTHON_TOO_OLD-} ]]; then exit 1; fi\n',
    "kubelogin": "#!/usr/bin/env bash\n" + LOG,
    "kubectl": "#!/usr/bin/env bash\n" + LOG,
}


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    made = stand_ins.sandbox(tmp_path, SCRIPT, STUBS, BASIC_TOOLS, READ_ONLY)
    made.env["KNATIVE_KAFKA_SKIP_VENV"] = "1"
    return made


def stack_names(root: Path) -> list[str]:
    return sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in root.glob("Pulumi.*.yaml"))


def project(tmp_path: Path, stacks: dict[str, str]) -> Path:
    """A copy of the script in a project of its own, for stack files the real project does not have."""
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(SCRIPT, root / "scripts" / "deploy")
    (root / "Pulumi.yaml").write_text("name: knative-kafka\nruntime: python\n")
    for shared in ("components", ".venv"):      # the stack file's reader and the environment it runs in
        (root / shared).symlink_to(ROOT / shared)
    for name, text in stacks.items():
        (root / f"Pulumi.{name}.yaml").write_text(text)
    return root / "scripts" / "deploy"


def test_without_arguments_it_prints_the_usage_and_the_stacks(sandbox):
    result = sandbox.run()
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("usage: scripts/deploy <stack>")
    expected = stack_names(ROOT)
    assert {"dev", "local", "prod"} <= set(expected)
    assert f"stacks: {' '.join(expected)}" in lines
    assert sandbox.calls() == []


def test_help_prints_the_usage_and_the_stacks(sandbox):
    result = sandbox.run("--help")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == ["usage: scripts/deploy <stack> [pulumi up options]",
                                          f"stacks: {' '.join(stack_names(ROOT))}"]
    assert sandbox.calls() == []


def test_an_unknown_stack_is_refused_with_the_stacks(sandbox):
    # A name no stack file has, whatever stack files a user added.
    unknown = next(name for name in (f"not-a-stack-{i}" for i in range(100)) if name not in stack_names(ROOT))
    result = sandbox.run(unknown, "--yes")
    assert result.returncode == 2
    assert f"Pulumi.{unknown}.yaml" in result.stderr
    assert f"stacks: {' '.join(stack_names(ROOT))}" in result.stderr.splitlines()
    assert sandbox.calls() == []


def test_the_stacks_are_the_stack_files_each_named_once(sandbox, tmp_path):
    script = project(tmp_path, {"zeta": "config: {}\n", "alpha": "config: {}\n"})
    (script.parents[1] / "Pulumi.alpha.yaml.orig").write_text("config: {}\n")
    (script.parents[1] / "stack.yaml").write_text("config: {}\n")
    result = sandbox.run(script=script)
    assert result.returncode == 2
    assert "stacks: alpha zeta" in result.stderr.splitlines()


def test_every_missing_prerequisite_is_reported_at_once_before_anything_runs(sandbox, tmp_path):
    sandbox.without(*CLIS)
    # The shipped dev stack: the user's may name a secrets provider by now, and need no passphrase.
    script = project(tmp_path, {"dev": (FIXTURES / "Pulumi.dev.yaml").read_text()})
    result = sandbox.run("dev", script=script)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert all(line.startswith("deploy: missing ") for line in lines), lines
    for what in ("Pulumi CLI", "python3", "Azure CLI", "kubelogin", "kubectl", "PULUMI_CONFIG_PASSPHRASE"):
        assert len([line for line in lines if what in line]) == 1, (what, lines)
    assert len(lines) == 6
    assert sandbox.calls() == []
    assert list(sandbox.home.iterdir()) == []


def test_a_logged_out_azure_cli_stops_the_deploy_before_anything_changes(sandbox):
    sandbox.env |= {"AZ_LOGGED_OUT": "1", "PULUMI_CONFIG_PASSPHRASE": "test"}
    result = sandbox.run("dev")
    assert result.returncode == 2
    assert [line for line in result.stderr.splitlines() if line.startswith("deploy: ")] == [
        "deploy: missing an Azure login: run az login"
        " (and az account set --subscription <id> for the target subscription)"]
    assert "az account show" in sandbox.calls()
    assert sandbox.changes() == []
    assert list(sandbox.home.iterdir()) == []


def test_a_python_older_than_3_11_is_reported(sandbox):
    sandbox.env |= {"PYTHON_TOO_OLD": "1", "PULUMI_CONFIG_PASSPHRASE": "test"}
    result = sandbox.run("local")
    assert result.returncode == 2
    assert "deploy: missing python3 3.11 or newer (PATH has Python 3.9.2)" in result.stderr
    assert sandbox.changes() == []
    # No .venv to read the stack file with: bash's own reading still finds the existing cluster, so no Azure.
    assert [call for call in sandbox.calls() if call.startswith("az ")] == []


def test_an_existing_cluster_stack_needs_neither_the_azure_cli_nor_kubelogin(sandbox):
    sandbox.without("az", "kubelogin")
    sandbox.env["PULUMI_CONFIG_PASSPHRASE"] = "test"
    result = sandbox.run("local")
    assert result.returncode == 0, result.stderr
    assert [call for call in sandbox.calls() if call.startswith("az ")] == []
    assert [call.split(" ", 1)[1] for call in sandbox.changes()] == [
        "pulumi stack select --create local", "pulumi up --stack local"]


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_every_stack_needs_kubectl(sandbox, stack):
    sandbox.without("kubectl")
    sandbox.env["PULUMI_CONFIG_PASSPHRASE"] = "test"
    result = sandbox.run(stack)
    assert result.returncode == 2
    assert result.stderr.startswith("deploy: missing kubectl")
    assert sandbox.changes() == []


@pytest.mark.parametrize(("cluster", "existing"), [
    ("  knative-kafka:cluster:\n    mode: existing\n    context: kind-knative\n", True),
    ("  knative-kafka:cluster:\n    context: kind-knative\n\n    # the local one\n    mode: existing  # kind\n", True),
    ("  'knative-kafka:cluster':\n    mode: \"existing\"\n", True),
    ("  knative-kafka:cluster: {context: kind-knative, mode: existing}\n", True),
    ("  knative-kafka:cluster:\n    mode: aks\n", False),
    ("  knative-kafka:cluster:\n    # mode: existing\n    location: westeurope\n", False),
    ("  knative-kafka:cluster:\n    systemPool:\n      mode: existing\n", False),
    ("  knative-kafka:cluster:\n    location: westeurope\n  knative-kafka:kafka:\n    mode: existing\n", False),
    ("  knative-kafka:kafka: {mode: existing}\n", False),
    # Read as Pulumi reads it (components/stack_file.py), where bash alone would not: a key without the project's
    # namespace gets it, a folded scalar, a merged anchor.
    ("  cluster: {mode: existing}\n", True),
    ("  knative-kafka:cluster:\n    mode: >-\n      existing\n", True),
    ("  knative-kafka:cluster:\n    <<: {mode: existing}\n", True),
    ("  knative-kafka:cluster: {context: 'mode: existing'}\n", False),
])
def test_only_mode_existing_under_the_cluster_key_spares_azure(sandbox, tmp_path, cluster, existing):
    script = project(tmp_path, {"s": "config:\n" + cluster})
    sandbox.without("az", "kubelogin")
    sandbox.env["PULUMI_CONFIG_PASSPHRASE"] = "test"
    result = sandbox.run("s", script=script)
    if existing:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == 2
        assert "deploy: missing the Azure CLI" in result.stderr
        assert "deploy: missing kubelogin" in result.stderr


@pytest.mark.parametrize(("backend", "state"), [
    (None, "{home}/.pulumi-knative-kafka"),
    ("file://~/state", "{home}/state"),
    ("file://state", "{cwd}/state"),
])
def test_a_file_backend_reaches_pulumi_through_the_environment_not_a_login(sandbox, tmp_path, backend, state):
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    sandbox.env["PULUMI_CONFIG_PASSPHRASE"] = "test"
    if backend:
        sandbox.env["PULUMI_BACKEND_URL"] = backend
    result = sandbox.run("dev", "--yes", "--skip-preview", cwd=cwd)
    assert result.returncode == 0, result.stderr
    state_dir = state.format(home=sandbox.home, cwd=cwd)
    assert "az account show" in sandbox.calls()
    assert sandbox.changes() == [*AZ_PROVIDERS,
                                 f"PULUMI_BACKEND_URL=file://{state_dir} pulumi stack select --create dev",
                                 f"PULUMI_BACKEND_URL=file://{state_dir} pulumi up --stack dev --yes --skip-preview"]
    assert Path(state_dir).is_dir()
    assert f"export PULUMI_BACKEND_URL=file://{state_dir}" in result.stderr


def test_pulumi_cloud_needs_no_passphrase(sandbox):
    sandbox.env["PULUMI_BACKEND_URL"] = "https://api.pulumi.com"
    result = sandbox.run("prod")
    assert result.returncode == 0, result.stderr
    pulumi = [call for call in sandbox.calls() if " pulumi " in call]
    assert pulumi == ["PULUMI_BACKEND_URL=https://api.pulumi.com pulumi stack select --create prod",
                      "PULUMI_BACKEND_URL=https://api.pulumi.com pulumi up --stack prod"]
    assert list(sandbox.home.iterdir()) == []


@pytest.mark.parametrize("backend", [None, "azblob://state?storage_account=knativekafka"])
def test_a_self_managed_backend_needs_a_passphrase(sandbox, backend):
    if backend:
        sandbox.env["PULUMI_BACKEND_URL"] = backend
    result = sandbox.run("local")
    assert result.returncode == 2
    assert result.stderr.startswith("deploy: missing the passphrase")
    assert "export PULUMI_CONFIG_PASSPHRASE=" in result.stderr
    assert sandbox.changes() == []


@pytest.mark.parametrize(("written", "ok"), [(True, True), (False, False)])
def test_a_passphrase_file_will_do_if_it_exists(sandbox, written, ok):
    if written:
        (sandbox.home / "passphrase.txt").write_text("test\n")
    # Relative to where the caller stands, not to the project root the script moves to.
    sandbox.env["PULUMI_CONFIG_PASSPHRASE_FILE"] = "passphrase.txt"
    result = sandbox.run("local")
    if ok:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == 2
        assert "deploy: missing a readable PULUMI_CONFIG_PASSPHRASE_FILE" in result.stderr
        assert sandbox.changes() == []


def test_a_failed_pulumi_up_keeps_its_exit_status_and_still_names_the_backend(sandbox):
    sandbox.env |= {"PULUMI_CONFIG_PASSPHRASE": "test", "PULUMI_UP_FAILS": "1"}
    result = sandbox.run("local")
    assert result.returncode == 255
    assert f"export PULUMI_BACKEND_URL=file://{sandbox.home}/.pulumi-knative-kafka" in result.stderr


def test_a_new_subscription_gets_every_resource_provider_the_program_uses_registered(sandbox):
    """The script's own copy of components/cluster.py's list, which it needs before .venv exists."""
    sandbox.env["PULUMI_CONFIG_PASSPHRASE"] = "test"
    result = sandbox.run("dev")
    assert result.returncode == 0, result.stderr
    assert [c for c in sandbox.changes() if c.startswith("az ")] == AZ_PROVIDERS


def test_only_resource_providers_not_yet_registered_are_registered(sandbox):
    """Registering needs subscription-wide rights a resource-group-scoped deployer lacks."""
    sandbox.env["PULUMI_CONFIG_PASSPHRASE"] = "test"
    sandbox.env["AZ_REGISTERED"] = " ".join(n for n in RESOURCE_PROVIDERS if n != "Microsoft.Storage")
    result = sandbox.run("dev")
    assert result.returncode == 0, result.stderr
    assert [c for c in sandbox.changes() if c.startswith("az ")] == [
        "az provider register --namespace Microsoft.Storage --wait"]


def test_a_stack_with_encryption_at_host_registers_the_subscription_feature_first(sandbox):
    sandbox.env["PULUMI_CONFIG_PASSPHRASE"] = "test"
    sandbox.env["PULUMI_BACKEND_URL"] = "https://api.pulumi.com"
    sandbox.env["AZ_REGISTERED"] = " ".join(RESOURCE_PROVIDERS)
    result = sandbox.run("prod")
    assert result.returncode == 0, result.stderr
    assert [c for c in sandbox.changes() if c.startswith("az ")] == [
        "az feature register --namespace Microsoft.Compute --name EncryptionAtHost",
        "az provider register --namespace Microsoft.Compute --wait"]
    sandbox.env["CALLS"] += ".dev"
    assert sandbox.run("dev").returncode == 0
    assert not [c for c in sandbox.changes() if "feature" in c], "dev does not ask for it"


@pytest.mark.parametrize("cluster", ["cluster: {encryptionAtHost: true}",
                                     "knative-kafka:cluster:\n    encryptionAtHost: !!bool 'true'"])
def test_encryption_at_host_is_read_as_pulumi_reads_the_stack_file(sandbox, tmp_path, cluster):
    """A key without the project's namespace, an explicit tag: what bash alone did not read."""
    script = project(tmp_path, {"s": f"config:\n  {cluster}\n"})
    sandbox.env |= {"PULUMI_BACKEND_URL": "https://api.pulumi.com", "AZ_REGISTERED": " ".join(RESOURCE_PROVIDERS)}
    result = sandbox.run("s", script=script)
    assert result.returncode == 0, result.stderr
    assert [c for c in sandbox.changes() if c.startswith("az ")] == [
        "az feature register --namespace Microsoft.Compute --name EncryptionAtHost",
        "az provider register --namespace Microsoft.Compute --wait"]


def test_without_creating_venv_a_missing_venv_is_named(sandbox, tmp_path):
    """KNATIVE_KAFKA_SKIP_VENV=1 (the tests') reads the stack file with the .venv that is there, or says it is not."""
    script = project(tmp_path, {"s": "config:\n  knative-kafka:cluster: {mode: existing}\n"})
    (script.parents[1] / ".venv").unlink()
    sandbox.env["PULUMI_CONFIG_PASSPHRASE"] = "test"
    result = sandbox.run("s", script=script)
    assert result.returncode == 2
    assert result.stderr == ("deploy: missing the project's .venv, which KNATIVE_KAFKA_SKIP_VENV=1 leaves to you: "
                             "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt\n")
    assert sandbox.changes() == []


KEY_VAULT = "azurekeyvault://kv-team.vault.azure.net/keys/pulumi-state/0123"


def test_a_key_vault_secrets_provider_needs_no_passphrase_and_makes_the_new_stack(sandbox):
    """scripts/bootstrap-state's variables, as it prints them: the new stack's data key goes to Key Vault."""
    sandbox.env |= {"PULUMI_BACKEND_URL": "azblob://state?storage_account=knativekafka",
                    "KNATIVE_KAFKA_SECRETS_PROVIDER": KEY_VAULT}
    result = sandbox.run("local")
    assert result.returncode == 0, result.stderr
    assert [call.split(" ", 1)[1] for call in sandbox.changes()] == [
        f"pulumi stack select --create local --secrets-provider {KEY_VAULT}", "pulumi up --stack local"]
    assert "PULUMI_CONFIG_PASSPHRASE" not in result.stderr


@pytest.mark.parametrize(("provider", "ok"), [(KEY_VAULT, True), ("passphrase", False), (f'"{KEY_VAULT}"', True),
                                              ("'passphrase'  # the default", False)])
def test_a_stack_file_naming_a_cloud_secrets_provider_needs_no_passphrase(sandbox, tmp_path, provider, ok):
    script = project(tmp_path, {"s": f"secretsprovider: {provider}\nencryptedkey: abc\nconfig:\n"
                                     "  knative-kafka:cluster: {mode: existing}\n"})
    sandbox.env["PULUMI_BACKEND_URL"] = "azblob://state?storage_account=knativekafka"
    result = sandbox.run("s", script=script)
    assert result.returncode == (0 if ok else 2), result.stderr
    assert ("deploy: missing the passphrase" in result.stderr) != ok
    if ok:
        assert "pulumi stack select --create s" in sandbox.calls()[-2]
