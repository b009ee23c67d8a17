"""The cluster components alone: AKS secure by default, or an existing cluster; one explicit provider."""
from __future__ import annotations

import yaml

from components.cluster import (
    AKS_AAD_SERVER_ID,
    AksCluster,
    AksClusterArgs,
    ExistingCluster,
    ExistingClusterArgs,
    kubelogin_kubeconfig,
)
from components.config import Section, parse_cluster
from harness import AKS_USER_KUBECONFIG, is_secret, resolve

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
PROVIDER = "pulumi:providers:kubernetes"


def cluster_config(**settings):
    return parse_cluster(Section("knative-kafka:cluster", {"authorizedIpRanges": ["198.51.100.0/24"], **settings}),
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
                          authorizedIpRanges=["203.0.113.0/24"])
    aks = registry.one(MANAGED_CLUSTER).inputs
    assert aks["kubernetesVersion"] == "1.36"
    assert aks["sku"] == {"name": "Base", "tier": "Free"}
    assert "availabilityZones" not in aks["agentPoolProfiles"][0]
    assert aks["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}
    assert aks["apiServerAccessProfile"] == {"authorizedIPRanges": ["203.0.113.0/24"]}


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


def test_autoscaled_counts_and_auto_upgraded_versions_do_not_show_as_diffs(pulumi_mocks):
    registry, _ = run_aks(pulumi_mocks)
    assert set(registry.one(MANAGED_CLUSTER).ignore_changes) == {
        "kubernetesVersion", "agentPoolProfiles[*].count", "agentPoolProfiles[*].orchestratorVersion"}
    assert set(registry.one(AGENT_POOL).ignore_changes) == {"count", "orchestratorVersion"}


def test_provider_uses_a_secret_kubelogin_kubeconfig_and_waits_for_the_user_pool(pulumi_mocks):
    registry, aks = run_aks(pulumi_mocks, loginMode="workloadidentity")
    provider = registry.one(PROVIDER)
    assert registry.depends_on(provider, registry.one(AGENT_POOL))
    assert registry.depends_on(provider, registry.one(MANAGED_CLUSTER))
    assert provider.inputs["enableServerSideApply"] == "true"
    assert is_secret(aks.kubeconfig)
    user = yaml.safe_load(resolve(aks.kubeconfig))["users"][0]["user"]
    assert user["exec"]["args"][:5] == ["get-token", "--login", "workloadidentity", "--server-id", AKS_AAD_SERVER_ID]


def test_only_user_credentials_are_requested_never_admin(pulumi_mocks):
    run_aks(pulumi_mocks)
    assert pulumi_mocks.monitor.invokes == ["azure-native:containerservice:listManagedClusterUserCredentials"]


def test_kubelogin_kubeconfig_replaces_device_code_and_keeps_tenant_and_environment():
    converted = yaml.safe_load(kubelogin_kubeconfig(AKS_USER_KUBECONFIG, "spn"))
    exec_ = converted["users"][0]["user"]["exec"]
    assert exec_["command"] == "kubelogin"
    assert exec_["interactiveMode"] == "Never"
    assert exec_["args"] == ["get-token", "--login", "spn", "--server-id", AKS_AAD_SERVER_ID,
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
