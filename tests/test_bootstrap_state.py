"""scripts/bootstrap-state against a stand-in `az` (tests/stand_ins.py) that keeps the objects it was asked to create
in a file, answers `show` and `list` from it, and logs every call: what the script creates, that a second run
creates nothing, that shared keys and public access are never turned on, and that it prints README's variables."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import stand_ins

from harness import ROOT

SCRIPT = ROOT / "scripts" / "bootstrap-state"
README = ROOT / "README.md"
BASIC_TOOLS = ("bash", "cat", "seq", "sleep", "tr")
READ_ONLY = ("az group show", "az storage account show", "az storage account blob-service-properties show",
             "az storage container-rm show", "az keyvault show", "az keyvault key show", "az identity show",
             "az identity federated-credential show", "az role assignment list", "az ad signed-in-user show",
             "az account show")
STATE = ["--storage-account", "kkstate", "--key-vault", "kv-kk-state"]
REPO = "example/knative-kafka"
# An object is named by its command group and these options' values; `role assignment` lists by `--assignee`.
AZ = f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["CALLS"], "a") as log:
    log.write("az " + " ".join(args) + "\\n")
words = [a for a in args[:next((i for i, a in enumerate(args) if a.startswith("-")), len(args))]]
group, verb = " ".join(words[:-1]), words[-1]
options = dict(zip(args[len(words)::2], args[len(words) + 1::2]))
names = ("--name", "--account-name", "--identity-name", "--vault-name", "--role", "--scope")
key = " ".join([group, options.get("--assignee", options.get("--assignee-object-id", ""))]
               + [options.get(n, "") for n in names])
path = os.environ["AZ_STATE"]
cloud = json.load(open(path)) if os.path.exists(path) else []
query = options.get("--query", "")
name = options.get("--name", "")
if group == "account":
    print("tenant-1" if query == "tenantId" else "subscription-1")
elif group == "ad signed-in-user":
    print("me-object-id")
elif verb == "list":
    print(sum(1 for k in cloud if k == key))
elif verb in ("show", "create", "update"):
    if verb == "show" and key not in cloud:
        sys.exit("(ResourceNotFound) not found")
    if verb != "show" and key not in cloud:
        json.dump(cloud + [key], open(path, "w"))
    if "==" in query:
        print("false" if group in os.environ.get("AZ_DRIFT", "").split(",") else "true")
    elif query == "key.kid":
        print(f"https://{{options['--vault-name']}}.vault.azure.net/keys/{{name}}/0123")
    elif query == "id":
        print(f"/fake/{{group.replace(' ', '/')}}/{{name}}")
    elif query.startswith("join"):
        print(f"{{name}}-principal {{name}}-client")
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> stand_ins.Sandbox:
    made = stand_ins.sandbox(tmp_path, SCRIPT, {"az": AZ}, BASIC_TOOLS, READ_ONLY)
    made.env["AZ_STATE"] = str(tmp_path / "cloud.json")
    return made


def deployed(sandbox: stand_ins.Sandbox, *groups: str) -> None:
    """Resource groups that exist before the script runs: the stacks' own, made by their first deploy."""
    Path(sandbox.env["AZ_STATE"]).write_text(json.dumps([f"group  {group}     " for group in groups]))


def created(sandbox: stand_ins.Sandbox) -> list[str]:
    return [" ".join(call.split()[:4]) for call in sandbox.changes()]


def option(call: str, name: str) -> str:
    match = re.search(rf"{name} (\S+)", call)
    assert match, (name, call)
    return match.group(1)


def test_a_first_run_creates_the_hardened_state_the_key_and_the_members_roles(sandbox):
    result = sandbox.run(*STATE, "--member", "11111111-1111-1111-1111-111111111111:Group")
    assert result.returncode == 0, result.stderr
    assert created(sandbox) == [
        "az group create --name", "az storage account create", "az storage account blob-service-properties",
        "az storage container-rm create", "az keyvault create --name", "az role assignment create",
        "az keyvault key create", "az role assignment create", "az role assignment create"]
    account, = (c for c in sandbox.calls() if c.startswith("az storage account create"))
    for setting in ("--allow-shared-key-access false", "--allow-blob-public-access false", "--min-tls-version TLS1_2",
                    "--https-only true"):
        assert setting in account
    service, = (c for c in sandbox.calls() if "blob-service-properties update" in c)
    for setting in ("--enable-versioning true", "--enable-delete-retention true",
                    "--enable-container-delete-retention true"):
        assert setting in service
    assert "--public-access off" in next(c for c in sandbox.calls() if "container-rm create" in c)
    vault, = (c for c in sandbox.calls() if c.startswith("az keyvault create"))
    assert "--enable-rbac-authorization true" in vault and "--enable-purge-protection true" in vault
    roles = [(option(c, "--assignee-object-id"), c.split("--role ")[1].split(" --scope")[0], option(c, "--scope"))
             for c in sandbox.calls() if c.startswith("az role assignment create")]
    container = "/fake/storage/account/kkstate/blobServices/default/containers/state"
    member = "11111111-1111-1111-1111-111111111111"
    assert roles == [("me-object-id", "Key Vault Crypto Officer", "/fake/keyvault/kv-kk-state"),
                     (member, "Storage Blob Data Contributor", container),
                     (member, "Key Vault Crypto User", "/fake/keyvault/kv-kk-state/keys/pulumi-state")]


def test_a_second_run_changes_nothing(sandbox):
    member = ["--member", "11111111-1111-1111-1111-111111111111:User"]
    deployed(sandbox, "knative-kafka-dev", "knative-kafka-prod")
    first = sandbox.run("ci", *STATE, *member, "--repo", REPO)
    assert first.returncode == 0, first.stderr
    assert sandbox.changes()
    sandbox.env["CALLS"] += ".second"
    second = sandbox.run("ci", *STATE, *member, "--repo", REPO)
    assert second.returncode == 0, second.stderr
    assert sandbox.calls(), "the second run asked nothing"
    assert sandbox.changes() == []
    assert second.stdout == first.stdout


def test_drifted_hardening_is_put_back_and_never_loosened(sandbox):
    assert sandbox.run(*STATE).returncode == 0
    sandbox.env |= {"CALLS": sandbox.env["CALLS"] + ".drift", "AZ_DRIFT": "storage account,keyvault"}
    result = sandbox.run(*STATE)
    assert result.returncode == 0, result.stderr
    assert created(sandbox) == ["az storage account update", "az keyvault update --name"]
    update = sandbox.changes()[0]
    assert "--allow-shared-key-access false" in update and "--allow-blob-public-access false" in update


def test_no_call_ever_turns_on_shared_keys_or_public_access(sandbox):
    deployed(sandbox, "knative-kafka-dev", "knative-kafka-prod")
    assert sandbox.run("ci", *STATE, "--repo", REPO).returncode == 0
    sandbox.env |= {"AZ_DRIFT": "storage account"}
    assert sandbox.run(*STATE).returncode == 0
    calls = " ".join(sandbox.calls())
    assert "--allow-shared-key-access true" not in calls and "--allow-blob-public-access true" not in calls
    assert not re.search(r"--public-access (blob|container)", calls)
    assert "keys list" not in calls and "generate-sas" not in calls and "secret" not in calls


def test_ci_identities_trust_only_their_github_subjects_and_hold_their_roles(sandbox):
    deployed(sandbox, "knative-kafka-dev", "knative-kafka-prod")
    result = sandbox.run("ci", *STATE, "--repo", REPO)
    assert result.returncode == 0, result.stderr
    trusts = {(option(c, "--identity-name"), option(c, "--subject")): option(c, "--issuer")
              for c in sandbox.calls() if c.startswith("az identity federated-credential create")}
    assert trusts == {
        ("id-knative-kafka-preview", f"repo:{REPO}:pull_request"): "https://token.actions.githubusercontent.com",
        ("id-knative-kafka-deploy-dev", f"repo:{REPO}:ref:refs/heads/main"): "https://token.actions.githubusercontent.com",
        ("id-knative-kafka-deploy-prod", f"repo:{REPO}:environment:prod"): "https://token.actions.githubusercontent.com"}
    roles: dict[str, set[tuple[str, str]]] = {}
    for c in sandbox.calls():
        if c.startswith("az role assignment create"):
            principal = option(c, "--assignee-object-id").removesuffix("-principal")
            roles.setdefault(principal, set()).add((c.split("--role ")[1].split(" --scope")[0], option(c, "--scope")))
            assert "--assignee-principal-type ServicePrincipal" in c or principal == "me-object-id"
    container = "/fake/storage/account/kkstate/blobServices/default/containers/state"
    key = "/fake/keyvault/kv-kk-state/keys/pulumi-state"
    dev, prod = "/fake/group/knative-kafka-dev", "/fake/group/knative-kafka-prod"
    assert roles["id-knative-kafka-preview"] == {
        ("Storage Blob Data Reader", container), ("Key Vault Crypto User", key), ("Reader", dev), ("Reader", prod),
        ("Azure Kubernetes Service Cluster User Role", dev), ("Azure Kubernetes Service Cluster User Role", prod)}
    for stack, scope in (("dev", dev), ("prod", prod)):
        assert roles[f"id-knative-kafka-deploy-{stack}"] == {
            ("Contributor", scope), ("Role Based Access Control Administrator", scope),
            ("Storage Blob Data Contributor", container), ("Key Vault Crypto User", key)}
    rbac_admin = [c for c in sandbox.calls() if c.startswith("az role assignment create")
                  and "--role Role Based Access Control Administrator" in c]
    assert len(rbac_admin) == 2
    assert all("GuidEquals {b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b}" in c for c in rbac_admin)
    assert "--client-secret" not in " ".join(sandbox.calls()) and "credential reset" not in " ".join(sandbox.calls())


def test_ci_refuses_a_stack_that_was_never_deployed(sandbox):
    deployed(sandbox, "knative-kafka-dev")
    result = sandbox.run("ci", *STATE, "--repo", REPO)
    assert result.returncode == 2
    assert "resource group knative-kafka-prod of stack prod does not exist: deploy the stack once" in result.stderr
    assert not [c for c in sandbox.calls() if "identity create --name id-knative-kafka-deploy-prod" in c]


@pytest.mark.parametrize("args", [
    [], ["--storage-account", "Not_Valid", "--key-vault", "kv-kk-state"],
    [*STATE, "--member", "someone"], [*STATE, "--repo", REPO], ["ci", *STATE]])
def test_wrong_arguments_stop_it_before_any_call(sandbox, args):
    result = sandbox.run(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("bootstrap-state: ")
    assert sandbox.calls() == []


def printed_variables(text: str) -> dict[str, str]:
    return dict(re.findall(r"^(?:export )?([A-Z_]+)='?([^'\s]+)'?$", text, re.MULTILINE))


def test_it_prints_the_variables_readme_names(sandbox):
    deployed(sandbox, "knative-kafka-dev", "knative-kafka-prod")
    result = sandbox.run("ci", *STATE, "--repo", REPO)
    assert result.returncode == 0, result.stderr
    printed = printed_variables(result.stdout)
    assert printed == {
        "PULUMI_BACKEND_URL": "azblob://state?storage_account=kkstate",
        "KNATIVE_KAFKA_SECRETS_PROVIDER": "azurekeyvault://kv-kk-state.vault.azure.net/keys/pulumi-state/0123",
        "AZURE_TENANT_ID": "tenant-1", "AZURE_SUBSCRIPTION_ID": "subscription-1",
        "AZURE_CLIENT_ID_PREVIEW": "id-knative-kafka-preview-client",
        "AZURE_CLIENT_ID_DEV": "id-knative-kafka-deploy-dev-client",
        "AZURE_CLIENT_ID_PROD": "id-knative-kafka-deploy-prod-client"}
    assert "unset AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN AZURE_STORAGE_CONNECTION_STRING" in result.stdout
    readme = README.read_text()
    section = readme[readme.index("## Working as a team"):]
    section = section[:section.index("\n## ", 3)]
    # Every variable the workflow reads is one the script prints, and README names each.
    workflow = (ROOT / ".github" / "workflows" / "pulumi.yml").read_text()
    assert set(re.findall(r"vars\.([A-Z_]+)", workflow)) <= set(printed)
    for name in printed:
        assert f"`{name}`" in section, name
    assert "- {objectId: id-knative-kafka-preview-principal, type: ServicePrincipal}" in result.stdout
