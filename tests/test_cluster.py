"""The cluster components alone: AKS secure by default, or an existing cluster; one explicit provider."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from pulumi.errors import RunError

from components.cluster import (
    ACCESS_WAIT,
    AksCluster,
    AksClusterArgs,
    ExistingCluster,
    ExistingClusterArgs,
    kubelogin_kubeconfig,
)
from components.config import ConfigError, Section, parse_cluster
from harness import AKS_USER_KUBECONFIG, DEPLOYER, is_secret, resolve

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
PROVIDER = "pulumi:providers:kubernetes"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ACCESS_WAIT_COMMAND = "command:local:Command"
DATA_COLLECTION_RULE = "azure-native:monitor:DataCollectionRule"
DATA_COLLECTION_RULE_ASSOCIATION = "azure-native:monitor:DataCollectionRuleAssociation"
# "Azure Kubernetes Service AAD Server", the Entra ID application every AKS API server takes tokens for
# (kubelogin's `--server-id`), the same in every tenant: azure.github.io/kubelogin/concepts/aks.html;
# ../shared/UPSTREAM.md "Known pitfalls".
AKS_SERVER_APPLICATION_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
# The built-in role "Azure Kubernetes Service RBAC Cluster Admin" (Azure built-in roles reference;
# ../shared/UPSTREAM.md "AKS with Azure RBAC and no local accounts").
CLUSTER_ADMIN_ROLE_ID = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"


def cluster_config(**settings):
    return parse_cluster(Section("knative-kafka:cluster", {"authorizedIpRanges": ["20.50.10.0/24"], **settings}),
                         "test")


def run_aks(pulumi_mocks, **settings):
    box: dict[str, AksCluster] = {}
    registry = pulumi_mocks.run(lambda: box.setdefault("aks", AksCluster("cluster", AksClusterArgs(
        cluster_config(**settings), "test"))))
    return registry, box["aks"]


def test_aks_is_entra_id_only_with_azure_rbac_and_no_local_accounts(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks, adminGroupObjectIds=["00000000-0000-0000-0000-0000000000a1"])
    aks = registry.one(MANAGED_CLUSTER).inputs
    assert aks["disableLocalAccounts"] is True
    assert aks["aadProfile"] == {"managed": True, "enableAzureRBAC": True,
                                 "adminGroupObjectIDs": ["00000000-0000-0000-0000-0000000000a1"]}
    assert aks["identity"] == {"type": "SystemAssigned"}
    assert aks["oidcIssuerProfile"] == {"enabled": True}
    assert aks["securityProfile"] == {"workloadIdentity": {"enabled": True}}
    assert aks["networkProfile"]["networkPluginMode"] == "overlay"
    assert aks["networkProfile"]["networkDataplane"] == "cilium"
    assert aks["networkProfile"]["networkPolicy"] == "cilium"


def test_aks_version_tier_zones_and_upgrade_channels_come_from_config(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks, kubernetesVersion="1.36", skuTier="Free", availabilityZones=[],
                          authorizedIpRanges=["52.174.12.0/24"])
    aks = registry.one(MANAGED_CLUSTER).inputs
    assert aks["kubernetesVersion"] == "1.36"
    assert aks["sku"] == {"name": "Base", "tier": "Free"}
    assert "availabilityZones" not in aks["agentPoolProfiles"][0]
    assert aks["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}
    assert aks["apiServerAccessProfile"] == {"authorizedIPRanges": ["52.174.12.0/24"]}


def test_aks_defaults_are_the_production_ones(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks)
    aks = registry.one(MANAGED_CLUSTER).inputs
    assert aks["kubernetesVersion"] == "1.35"
    assert aks["sku"]["tier"] == "Standard"
    assert aks["agentPoolProfiles"][0]["availabilityZones"] == ["1", "2", "3"]
    assert registry.one(AGENT_POOL).inputs["availabilityZones"] == ["1", "2", "3"]


def test_system_pool_is_reserved_and_user_pool_is_a_separate_autoscaled_resource(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks, userPool={"vmSize": "Standard_D8ds_v5", "minCount": 2, "maxCount": 9})
    aks = registry.one(MANAGED_CLUSTER)
    [system] = aks.inputs["agentPoolProfiles"]
    assert system["mode"] == "System"
    assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    user = registry.one(AGENT_POOL)
    assert user.inputs["mode"] == "User"
    assert user.inputs["vmSize"] == "Standard_D8ds_v5"
    assert (user.inputs["enableAutoScaling"], user.inputs["minCount"], user.inputs["maxCount"]) == (True, 2, 9)
    assert user.inputs["resourceName"] == "aks-test"
    assert registry.depends_on(user, aks)


def test_autoscaled_counts_do_not_show_as_diffs_but_a_new_kubernetes_minor_does(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks)
    assert registry.one(MANAGED_CLUSTER).ignore_changes == ["agentPoolProfiles[*].count"]
    assert registry.one(AGENT_POOL).ignore_changes == ["count"]


def test_both_pools_run_the_control_plane_minor(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks, kubernetesVersion="1.36")
    aks = registry.one(MANAGED_CLUSTER)
    assert aks.inputs["agentPoolProfiles"][0]["orchestratorVersion"] == "1.36"
    assert registry.one(AGENT_POOL).inputs["orchestratorVersion"] == "1.36"


@pytest.mark.parametrize("channel", ["stable", "rapid"])
def test_a_channel_that_upgrades_minors_owns_the_versions(pulumi_mocks, channel):
    registry, _ = run_aks(pulumi_mocks, upgradeChannel=channel)
    assert set(registry.one(MANAGED_CLUSTER).ignore_changes) == {
        "agentPoolProfiles[*].count", "kubernetesVersion", "agentPoolProfiles[*].orchestratorVersion"}
    assert set(registry.one(AGENT_POOL).ignore_changes) == {"count", "orchestratorVersion"}


def test_a_new_user_pool_name_replaces_the_pool_under_the_same_resource(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks, userPool={"name": "user2", "vmSize": "Standard_D8ds_v5"})
    pool = registry.one(AGENT_POOL)
    assert (pool.name, pool.inputs["agentPoolName"]) == ("cluster-user", "user2")
    assert pool.replace_on_changes == ["agentPoolName"]
    assert pool.delete_before_replace is False, "the new pool must exist before the old one is drained"


def test_provider_uses_a_secret_kubelogin_kubeconfig_and_waits_for_the_user_pool(pulumi_mocks):
    registry, aks = run_aks(pulumi_mocks, loginMode="workloadidentity")
    provider = registry.one(PROVIDER)
    assert registry.depends_on(provider, registry.one(AGENT_POOL))
    assert registry.depends_on(provider, registry.one(MANAGED_CLUSTER))
    assert provider.inputs["enableServerSideApply"] == "true"
    assert is_secret(aks.kubeconfig)
    user = yaml.safe_load(resolve(aks.kubeconfig))["users"][0]["user"]
    assert user["exec"]["args"][:5] == ["get-token", "--login", "workloadidentity", "--server-id",
                                          AKS_SERVER_APPLICATION_ID]


def test_the_deployer_is_made_cluster_admin_on_this_cluster_only(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks)
    grant = registry.one(ROLE_ASSIGNMENT)
    assert grant.inputs["principalId"] == DEPLOYER["objectId"]
    assert grant.inputs["principalType"] == "User"
    assert grant.inputs["roleDefinitionId"] == (
        f"/subscriptions/{DEPLOYER['subscriptionId']}/providers/Microsoft.Authorization/roleDefinitions/"
        f"{CLUSTER_ADMIN_ROLE_ID}")
    assert grant.inputs["scope"] == f"/subscriptions/{DEPLOYER['subscriptionId']}/resourceGroups/knative-kafka-test", \
        "on the resource group, so the role takes effect while AKS is created"
    assert not registry.depends_on(grant, registry.one(MANAGED_CLUSTER))


def test_a_later_deployer_does_not_revoke_the_first_ones_role_but_is_checked_itself(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks)
    assert registry.one(ROLE_ASSIGNMENT).ignore_changes == ["principalId", "principalType"]
    assert registry.one(ACCESS_WAIT_COMMAND).inputs["triggers"] == [DEPLOYER["objectId"]]


def test_with_admin_groups_the_deployer_is_expected_in_one_and_gets_no_role(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks, adminGroupObjectIds=["5f0c7e2a-9b1d-4c3e-8f6a-2d4b6c8e0a1f"])
    assert registry.of_type(ROLE_ASSIGNMENT) == []
    assert registry.depends_on(registry.one(PROVIDER), registry.one(ACCESS_WAIT_COMMAND))


def test_a_service_principal_deployer_is_assigned_as_one(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks, loginMode="spn")
    assert registry.one(ROLE_ASSIGNMENT).inputs["principalType"] == "ServicePrincipal"


def test_nothing_in_the_cluster_is_applied_before_the_deployer_has_access(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks, deployerAccess={"waitSeconds": 300})
    wait = registry.one(ACCESS_WAIT_COMMAND)
    assert registry.depends_on(wait, registry.one(ROLE_ASSIGNMENT))
    assert not registry.depends_on(wait, registry.one(AGENT_POOL)), "the role takes effect while the pool is made"
    assert registry.depends_on(registry.one(PROVIDER), wait)
    assert registry.depends_on(registry.one(PROVIDER), registry.one(AGENT_POOL))
    env = wait.inputs["environment"]
    assert (env["WAIT_SECONDS"], env["ROLE"]) == ("300", "Azure Kubernetes Service RBAC Cluster Admin")
    assert env["SCOPE"] == f"/subscriptions/{DEPLOYER['subscriptionId']}/resourceGroups/knative-kafka-test"
    assert "environment" in wait.secret_inputs, "the kubeconfig travels in the environment"


def test_without_the_grant_the_deployer_must_hold_the_role_and_access_is_still_awaited(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks, deployerAccess={"grant": False})
    assert registry.of_type(ROLE_ASSIGNMENT) == []
    assert registry.depends_on(registry.one(PROVIDER), registry.one(ACCESS_WAIT_COMMAND))


CI = {"objectId": "8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b", "type": "ServicePrincipal"}
OPERATORS = {"objectId": "0d2f6c3e-8a41-4b7e-9c15-7e3a2b1f4d60", "type": "Group"}


def assignments_to_others(registry) -> dict[str, dict]:
    return {r.name: r.inputs for r in registry.of_type(ROLE_ASSIGNMENT) if r.name != "cluster-deployer-cluster-admin"}


@pytest.mark.parametrize("grant", [True, False])
def test_additional_principals_get_the_deployers_role_on_the_resource_group_whatever_grant_says(pulumi_mocks, grant):
    registry, _ = run_aks(pulumi_mocks, deployerAccess={"grant": grant, "additionalPrincipals": [CI, OPERATORS]})
    resource_group = f"/subscriptions/{DEPLOYER['subscriptionId']}/resourceGroups/knative-kafka-test"
    cluster_admin = (f"/subscriptions/{DEPLOYER['subscriptionId']}/providers/Microsoft.Authorization/"
                     f"roleDefinitions/{CLUSTER_ADMIN_ROLE_ID}")
    assert assignments_to_others(registry) == {
        "cluster-principal-8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b": {
            "principalId": "8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b", "principalType": "ServicePrincipal",
            "roleDefinitionId": cluster_admin, "scope": resource_group},
        "cluster-principal-0d2f6c3e-8a41-4b7e-9c15-7e3a2b1f4d60": {
            "principalId": "0d2f6c3e-8a41-4b7e-9c15-7e3a2b1f4d60", "principalType": "Group",
            "roleDefinitionId": cluster_admin, "scope": resource_group}}
    aks = registry.one("knative-kafka:cluster:AksCluster")
    assert {r.parent for r in registry.of_type(ROLE_ASSIGNMENT)} == {aks.urn}
    assert len(registry.of_type(ROLE_ASSIGNMENT)) == 2 + grant


def test_an_additional_principal_keeps_its_assignment_wherever_it_stands_in_the_list(pulumi_mocks):
    """The resource is named by the object id: reordering the list, or removing another principal, replaces nothing."""
    before, _ = run_aks(pulumi_mocks, deployerAccess={"additionalPrincipals": [CI, OPERATORS]})
    after, _ = run_aks(pulumi_mocks, deployerAccess={"additionalPrincipals": [OPERATORS, CI]})
    assert assignments_to_others(after) == assignments_to_others(before)
    alone, _ = run_aks(pulumi_mocks, deployerAccess={"additionalPrincipals": [CI]})
    assert assignments_to_others(alone).items() <= assignments_to_others(before).items()


def test_a_principal_of_another_type_is_a_new_assignment_made_after_the_old_one_is_deleted(pulumi_mocks):
    """Azure updates no assignment's principal in place, and refuses a second assignment of one principal, role
    and scope (RoleAssignmentExists): the old one must go first."""
    registry, _ = run_aks(pulumi_mocks, deployerAccess={"additionalPrincipals": [CI]})
    assignment = registry.named("cluster-principal-8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b")
    assert assignment.replace_on_changes == ["principalType"]
    assert assignment.delete_before_replace is True


def test_the_identity_the_grant_made_admin_cannot_be_listed_again(pulumi_mocks):
    deployer = {"objectId": DEPLOYER["objectId"], "type": "User"}
    with pytest.raises(RunError) as refused:
        run_aks(pulumi_mocks, deployerAccess={"additionalPrincipals": [CI, deployer]})
    assert str(refused.value) == (
        "knative-kafka:cluster.deployerAccess.additionalPrincipals[1].objectId: 7c9e6679-7425-40de-944b-e07fc1f90ae7 "
        "is not allowed; an identity other than the one deployerAccess.grant made cluster admin (the first deployer "
        "keeps that role): it holds the role already, and Azure refuses a second assignment of the same role at the "
        "same scope (RoleAssignmentExists)")


def test_without_the_grant_the_deployer_may_be_an_additional_principal_and_its_access_is_awaited(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks, deployerAccess={
        "grant": False, "additionalPrincipals": [{"objectId": DEPLOYER["objectId"], "type": "ServicePrincipal"}]})
    [assignment] = registry.of_type(ROLE_ASSIGNMENT)
    assert assignment.inputs["principalId"] == DEPLOYER["objectId"]
    assert registry.depends_on(registry.one(ACCESS_WAIT_COMMAND), assignment)


def run_access_wait(tmp_path: Path, kubectl_exit: int, wait_seconds: int,
                    tools: tuple[str, ...] = ("kubectl", "kubelogin")) -> subprocess.CompletedProcess[str]:
    for tool in tools:
        (tmp_path / tool).write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/calls\n"
                                     f"echo 'Error from server (Forbidden)' >&2\nexit {kubectl_exit}\n")
        (tmp_path / tool).chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "KUBECONFIG_DATA": "apiVersion: v1", "WAIT_SECONDS": str(wait_seconds),
           "ROLE": "Azure Kubernetes Service RBAC Cluster Admin", "SCOPE": "/subscriptions/s/aks-dev"}
    return subprocess.run(["/bin/bash", "-c", ACCESS_WAIT], env=env, capture_output=True, text=True, timeout=30,
                          check=False)


def test_access_wait_passes_as_soon_as_the_deployer_may_create_what_the_program_creates_first(tmp_path):
    result = run_access_wait(tmp_path, kubectl_exit=0, wait_seconds=60)
    assert result.returncode == 0, result.stderr
    asked = [line.split()[2:] for line in (tmp_path / "calls").read_text().splitlines()]
    assert asked == [["auth", "can-i", "create", "customresourcedefinitions.apiextensions.k8s.io"],
                     ["auth", "can-i", "create", "clusterroles.rbac.authorization.k8s.io"],
                     ["auth", "can-i", "create", "namespaces"]]


def test_access_wait_gives_up_naming_the_role_and_scope_and_showing_the_last_error(tmp_path):
    result = run_access_wait(tmp_path, kubectl_exit=1, wait_seconds=0)
    assert result.returncode == 1
    assert "'Azure Kubernetes Service RBAC Cluster Admin' at scope /subscriptions/s/aks-dev" in result.stderr
    assert "Error from server (Forbidden)" in result.stderr


def test_access_wait_fails_at_once_without_kubelogin(tmp_path):
    result = run_access_wait(tmp_path, kubectl_exit=0, wait_seconds=600, tools=("kubectl",))
    assert result.returncode == 1
    assert "kubelogin is not on PATH" in result.stderr


def test_only_user_credentials_are_requested_never_admin(pulumi_mocks):
    run_aks(pulumi_mocks)
    assert "azure-native:containerservice:listManagedClusterUserCredentials" in pulumi_mocks.monitor.invokes
    assert [i for i in pulumi_mocks.monitor.invokes if "Admin" in i] == []


def test_kubelogin_kubeconfig_replaces_device_code_and_keeps_tenant_and_environment():
    converted = yaml.safe_load(kubelogin_kubeconfig(AKS_USER_KUBECONFIG, "spn"))
    exec_ = converted["users"][0]["user"]["exec"]
    assert exec_["command"] == "kubelogin"
    assert exec_["interactiveMode"] == "Never"
    assert exec_["args"] == ["get-token", "--login", "spn", "--server-id", AKS_SERVER_APPLICATION_ID,
                             "--environment", "AzurePublicCloud",
                             "--tenant-id", "11111111-2222-3333-4444-555555555555"]
    assert "devicecode" not in str(converted)
    assert converted["clusters"] == yaml.safe_load(AKS_USER_KUBECONFIG)["clusters"]


def test_existing_cluster_provider_reads_the_given_kubeconfig_and_context(pulumi_mocks):
    cfg = cluster_config(mode="existing", kubeconfig="/etc/kubeconfig", context="kind-knative")
    registry = pulumi_mocks.run(lambda: ExistingCluster("cluster", ExistingClusterArgs(cfg)))
    provider = registry.one(PROVIDER)
    assert provider.inputs["kubeconfig"] == "/etc/kubeconfig"
    assert provider.inputs["context"] == "kind-knative"
    assert registry.of_type(MANAGED_CLUSTER) == []


def test_container_insights_send_logs_and_metrics_to_a_workspace_kept_for_the_configured_days(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks, monitoring={"retentionDays": 90})
    workspace = registry.one("azure-native:operationalinsights:Workspace")
    assert (workspace.inputs["retentionInDays"], workspace.inputs["sku"]) == (90, {"name": "PerGB2018"})
    # a name of ours, not one the provider draws at random: the same workspace on every run of the stack
    assert workspace.inputs["workspaceName"] == "log-test"
    addons = registry.one(MANAGED_CLUSTER).inputs["addonProfiles"]
    assert addons["omsagent"] == {"enabled": True, "config": {
        "logAnalyticsWorkspaceResourceID": "cluster-logs-id", "useAADAuth": "true"}}
    assert addons["azurepolicy"] == {"enabled": True}


def test_container_insights_collect_through_the_data_collection_rule_the_az_cli_creates(pulumi_mocks):
    """With managed-identity auth the agents collect nothing without a rule associated with their cluster.
    What `az aks enable-addons -a monitoring` creates (azure-cli acs/addonconfiguration.py,
    ensure_container_insights_for_monitoring and create_or_delete_dcr_association)."""
    registry, _ = run_aks(pulumi_mocks, location="northeurope")
    rule = registry.one(DATA_COLLECTION_RULE)
    assert rule.inputs == {
        "resourceGroupName": "knative-kafka-test", "dataCollectionRuleName": "MSCI-northeurope-aks-test",
        "location": "northeurope", "kind": "Linux",
        "dataSources": {"extensions": [{
            "name": "ContainerInsightsExtension", "extensionName": "ContainerInsights",
            "streams": ["Microsoft-ContainerInsights-Group-Default"],
            "extensionSettings": {"dataCollectionSettings": {"enableContainerLogV2": True}}}]},
        "destinations": {"logAnalytics": [{"name": "la-workspace", "workspaceResourceId": "cluster-logs-id"}]},
        "dataFlows": [{"streams": ["Microsoft-ContainerInsights-Group-Default"], "destinations": ["la-workspace"]}]}
    association = registry.one(DATA_COLLECTION_RULE_ASSOCIATION)
    assert association.inputs == {
        "associationName": "ContainerInsightsExtension", "dataCollectionRuleId": "cluster-insights-id",
        "resourceUri": f"/subscriptions/{DEPLOYER['subscriptionId']}/resourceGroups/knative-kafka-test/providers/"
                       "Microsoft.ContainerService/managedClusters/aks-test"}
    assert rule.parent == association.parent == registry.one("knative-kafka:cluster:AksCluster").urn


def test_a_data_collection_rule_name_is_cut_to_64_characters_as_the_az_cli_cuts_it(pulumi_mocks):
    # 20 characters of prefix and 43 of stack make 63; the 64th, a hyphen, goes too.
    stack = "a" * 43 + "-preview"
    registry = pulumi_mocks.run(lambda: AksCluster("cluster", AksClusterArgs(cluster_config(), stack)))
    assert registry.one(DATA_COLLECTION_RULE).inputs["dataCollectionRuleName"] == "MSCI-westeurope-aks-" + "a" * 43


def test_monitoring_and_azure_policy_can_be_left_out(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks, monitoring={"enabled": False}, azurePolicy=False)
    assert registry.of_type("azure-native:operationalinsights:Workspace") == []
    assert registry.of_type(DATA_COLLECTION_RULE) == registry.of_type(DATA_COLLECTION_RULE_ASSOCIATION) == []
    assert registry.one(MANAGED_CLUSTER).inputs["addonProfiles"] == {"azurepolicy": {"enabled": False}}


@pytest.mark.parametrize("on", [True, False])
def test_encryption_at_host_covers_both_pools(pulumi_mocks, on):
    registry, _ = run_aks(pulumi_mocks, encryptionAtHost=on)
    assert registry.one(MANAGED_CLUSTER).inputs["agentPoolProfiles"][0]["enableEncryptionAtHost"] is on
    assert registry.one(AGENT_POOL).inputs["enableEncryptionAtHost"] is on


def test_a_small_stack_runs_on_one_untainted_pool(pulumi_mocks):
    registry, aks = run_aks(pulumi_mocks, userPool={"enabled": False})
    assert registry.of_type(AGENT_POOL) == []
    [system] = registry.one(MANAGED_CLUSTER).inputs["agentPoolProfiles"]
    assert "nodeTaints" not in system, "the workload must be able to run on it"
    assert registry.depends_on(registry.one(PROVIDER), registry.one(ACCESS_WAIT_COMMAND))
    assert aks.user_pool is None


def test_a_disabled_user_pool_takes_no_other_settings():
    with pytest.raises(ConfigError, match=r"^knative-kafka:cluster.userPool: unknown key\(s\) vmSize"):
        cluster_config(userPool={"enabled": False, "vmSize": "Standard_D8ds_v5"})
