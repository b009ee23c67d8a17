"""The Kubernetes cluster and the one explicit Kubernetes provider every in-cluster resource uses.

Two ways to get one: `AksCluster` builds AKS, secure by default (Entra ID with Azure RBAC, no local
accounts, kubelogin exec credentials); `ExistingCluster` targets a cluster from a kubeconfig file
(kind, minikube, another cloud). Both expose `provider` and `ready`, so the rest of the program does
not know which one it got.
"""
from __future__ import annotations

import base64
import functools
import os
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_command as command
import pulumi_kubernetes as k8s
import yaml
from pulumi_azure_native import authorization, containerservice, monitor, operationalinsights, resources

from components import commands
from components.config import MINOR_UPGRADE_CHANNELS, ClusterConfig, NodePool

# The Entra ID application every AKS API server trusts (kubelogin's --server-id; UPSTREAM.md).
AKS_AAD_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
# kubelogin options of the user kubeconfig AKS hands out that stay valid for every login mode.
KEPT_KUBELOGIN_OPTIONS = ("--environment", "--tenant-id")
# "Azure Kubernetes Service RBAC Cluster Admin": with Azure RBAC, Owner and Contributor hold no
# Kubernetes data actions (UPSTREAM.md, "AKS with Azure RBAC and no local accounts").
CLUSTER_ADMIN_ROLE = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
CLUSTER_ADMIN_ROLE_NAME = "Azure Kubernetes Service RBAC Cluster Admin"

# The resource provider namespaces an AKS stack uses. azure-native registers none (pulumi-azure-native
# #3479) and a new subscription answers MissingSubscriptionRegistration. scripts/deploy registers them from
# its own copy of this list (it runs before .venv exists) and README "First deploy" lists them for
# `pulumi up` run directly; tests hold both equal to this one.
RESOURCE_PROVIDERS = (
    "Microsoft.ContainerService",     # the cluster and its user pool
    # What AKS creates in its node resource group: VM scale sets and disks, the virtual network and load
    # balancer, storage accounts for its CSI drivers (MicrosoftDocs/azure-docs #5778).
    "Microsoft.Compute",
    "Microsoft.Network",
    "Microsoft.Storage",
    "Microsoft.OperationalInsights",  # the Log Analytics workspace (`monitoring`)
    "Microsoft.Insights",             # container insights' data collection rule and association (`monitoring`)
    "Microsoft.PolicyInsights",       # the Azure Policy add-on (`azurePolicy`; terraform-provider-azurerm #13156)
    "Microsoft.ManagedIdentity",      # functions' user-assigned identities and federated credentials
)

# A new role assignment takes minutes to reach the API server's authorizer; nothing in the cluster
# is applied before the caller can act there, and a clear message replaces 403s if it never does.
ACCESS_WAIT = r"""set -u
for tool in kubectl kubelogin; do
  command -v "$tool" >/dev/null || { echo "$tool is not on PATH: the Kubernetes provider needs it" >&2; exit 1; }
done
kubeconfig=$(mktemp); errors=$(mktemp); trap 'rm -f "$kubeconfig" "$errors"' EXIT
printf '%s' "$KUBECONFIG_DATA" > "$kubeconfig"
# What the program does first in the cluster: CRDs, cluster roles, namespaces.
can() { kubectl --kubeconfig "$kubeconfig" auth can-i create "$1" >/dev/null 2>"$errors"; }
deadline=$((SECONDS + WAIT_SECONDS))
until can customresourcedefinitions.apiextensions.k8s.io && can clusterroles.rbac.authorization.k8s.io &&
      can namespaces; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "no Kubernetes access after ${WAIT_SECONDS}s: the deploying identity needs the role '$ROLE'" \
         "at scope $SCOPE (or membership of an adminGroupObjectIds group), and a login kubelogin can use" >&2
    cat "$errors" >&2
    exit 1
  fi
  sleep 10
done
"""


def kubelogin_kubeconfig(kubeconfig: str, login_mode: str) -> str:
    """Turn the kubeconfig AKS hands out (device-code kubelogin) into a non-interactive one.

    `pulumi up` has nobody to type a device code, so every user entry gets an exec plugin that
    logs in with `login_mode` (azurecli, spn, msi or workloadidentity).
    """
    doc = yaml.safe_load(kubeconfig)
    for entry in doc.get("users") or []:
        old_args = ((entry.get("user") or {}).get("exec") or {}).get("args") or []
        kept: list[str] = []
        for i, arg in enumerate(old_args[:-1]):
            if arg in KEPT_KUBELOGIN_OPTIONS:
                kept += [arg, old_args[i + 1]]
        entry["user"] = {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "kubelogin",
            "args": ["get-token", "--login", login_mode, "--server-id", AKS_AAD_SERVER_ID, *kept],
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }}
    return yaml.safe_dump(doc, sort_keys=False)


def node_pool(pool: NodePool, cfg: ClusterConfig) -> dict[str, Any]:
    """What both pools share: Azure Linux VM scale sets, autoscaled from their minimum, on the
    control plane's minor (AKS picks the patch), so an upgrade moves the pools with the cluster."""
    return {"vm_size": pool.vm_size, "os_type": "Linux", "os_sku": "AzureLinux", "type": "VirtualMachineScaleSets",
            "availability_zones": list(cfg.availability_zones) or None, "enable_auto_scaling": True,
            "count": pool.min_count, "min_count": pool.min_count, "max_count": pool.max_count,
            "orchestrator_version": cfg.kubernetes_version, "enable_encryption_at_host": cfg.encryption_at_host}


@dataclass
class AzureWorkloadIdentity:
    """Where a function's managed identity lives and whom it trusts (the AKS OIDC issuer)."""
    resource_group: pulumi.Input[str]
    location: str
    oidc_issuer_url: pulumi.Input[str]


@dataclass
class AksClusterArgs:
    config: ClusterConfig
    stack: str
    keda: bool = False                 # the KEDA add-on, for lag-driven KafkaSource consumers (consumerScaling)


class AksCluster(pulumi.ComponentResource):
    """Resource group, AKS with a system pool, a separate autoscaled user pool, and the provider."""

    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("knative-kafka:cluster:AksCluster", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)

        self.resource_group = resources.ResourceGroup(
            name, resource_group_name=cfg.resource_group, location=cfg.location, opts=child)

        addons: dict[str, containerservice.ManagedClusterAddonProfileArgs] = {
            "azurepolicy": containerservice.ManagedClusterAddonProfileArgs(enabled=cfg.azure_policy)}
        self.workspace: operationalinsights.Workspace | None = None
        if cfg.monitoring.enabled:
            self.workspace = operationalinsights.Workspace(
                f"{name}-logs",
                resource_group_name=self.resource_group.name,
                workspace_name=f"log-{args.stack}",
                location=cfg.location,
                sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
                retention_in_days=cfg.monitoring.retention_days,
                opts=child,
            )
            # Container insights: the monitoring agent sends container logs and metrics to the workspace, as
            # the data collection rule associated with the cluster tells it (_container_insights).
            addons["omsagent"] = containerservice.ManagedClusterAddonProfileArgs(
                enabled=True, config={"logAnalyticsWorkspaceResourceID": self.workspace.id, "useAADAuth": "true"})

        cs = containerservice
        cluster_name = f"aks-{args.stack}"
        self.cluster = cs.ManagedCluster(
            name,
            resource_group_name=self.resource_group.name,
            resource_name_=cluster_name,
            location=cfg.location,
            dns_prefix=f"knative-kafka-{args.stack}",
            kubernetes_version=cfg.kubernetes_version,
            sku=cs.ManagedClusterSKUArgs(name="Base", tier=cfg.sku_tier),
            identity=cs.ManagedClusterIdentityArgs(type=cs.ResourceIdentityType.SYSTEM_ASSIGNED),
            enable_rbac=True,
            aad_profile=cs.ManagedClusterAADProfileArgs(
                managed=True, enable_azure_rbac=True, admin_group_object_ids=list(cfg.admin_group_object_ids)),
            disable_local_accounts=True,
            oidc_issuer_profile=cs.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            security_profile=cs.ManagedClusterSecurityProfileArgs(
                workload_identity=cs.ManagedClusterSecurityProfileWorkloadIdentityArgs(enabled=True)),
            network_profile=cs.ContainerServiceNetworkProfileArgs(
                network_plugin="azure", network_plugin_mode="overlay", network_dataplane="cilium",
                network_policy="cilium", load_balancer_sku="standard"),
            auto_upgrade_profile=cs.ManagedClusterAutoUpgradeProfileArgs(
                upgrade_channel=cfg.upgrade_channel, node_os_upgrade_channel=cfg.node_os_upgrade_channel),
            addon_profiles=addons,
            # Always said, so that switching consumerScaling off also removes the add-on.
            workload_auto_scaler_profile=cs.ManagedClusterWorkloadAutoScalerProfileArgs(
                keda=cs.ManagedClusterWorkloadAutoScalerProfileKedaArgs(enabled=args.keda)),
            api_server_access_profile=cs.ManagedClusterAPIServerAccessProfileArgs(
                authorized_ip_ranges=list(cfg.authorized_ip_ranges)),
            agent_pool_profiles=[cs.ManagedClusterAgentPoolProfileArgs(
                name=cfg.system_pool.name,
                mode="System",
                # With a user pool, the workload stays off the system pool (AKS system node pool
                # guidance); a small stack runs everything on the one pool.
                node_taints=["CriticalAddonsOnly=true:NoSchedule"] if cfg.user_pool else None,
                **node_pool(cfg.system_pool, cfg),
            )],
            # The autoscaler moves counts in Azure; a diff on them would fight it (pulumi-azure-native
            # #2059). A minor-only version does not drift under patch upgrades (#2943, UPSTREAM.md), so
            # it is ignored only where the upgrade channel moves minors itself.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=[
                "agentPoolProfiles[*].count", *version_owned_by_channel(cfg, "kubernetesVersion",
                                                                        "agentPoolProfiles[*].orchestratorVersion")]),
        )

        if self.workspace is not None:
            self._container_insights(name, cfg.location, cluster_name, self.workspace)

        # A separate resource, not an inline profile: changing it then leaves the system pool
        # alone (pulumi-azure-native #4264). Its VM size and zones cannot change in place: a new
        # `userPool.name` replaces it, the new pool first (config refuses the edit otherwise).
        self.user_pool: containerservice.AgentPool | None = None
        if cfg.user_pool is not None:
            self.user_pool = containerservice.AgentPool(
                f"{name}-user",
                resource_group_name=self.resource_group.name,
                resource_name_=self.cluster.name,
                agent_pool_name=cfg.user_pool.name,
                mode="User",
                **node_pool(cfg.user_pool, cfg),
                opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["agentPoolName"], ignore_changes=[
                    "count", *version_owned_by_channel(cfg, "orchestratorVersion")]),
            )

        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=self.resource_group.name, resource_name=self.cluster.name)
        self.kubeconfig = pulumi.Output.secret(credentials.kubeconfigs[0].value.apply(
            lambda b64: kubelogin_kubeconfig(base64.b64decode(b64).decode(), cfg.login_mode)))

        self.workload_identity: AzureWorkloadIdentity | None = AzureWorkloadIdentity(
            self.resource_group.name, cfg.location,
            self.cluster.oidc_issuer_profile.apply(lambda profile: (profile and profile.issuer_url) or ""))
        access = self._deployer_access(name, cfg)
        # Pods need the user pool's nodes, and every request needs the deployer's access.
        self.provider = k8s.Provider(
            name,
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            cluster_identifier=self.cluster.id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*filter(None, [self.user_pool]), access]),
        )
        self.ready = [self.provider]
        self.outputs: dict[str, pulumi.Input[str]] = {
            "kubeconfig": self.kubeconfig, "clusterName": self.cluster.name,
            "resourceGroup": self.resource_group.name, "kubeconfigCommand": commands.fetch_kubeconfig(args.stack)}
        self.register_outputs(self.outputs)


    def _container_insights(self, name: str, location: str, cluster_name: str,
                            workspace: operationalinsights.Workspace) -> None:
        """What `az aks enable-addons -a monitoring` adds beside the add-on (azure-cli
        acs/addonconfiguration.py, ensure_container_insights_for_monitoring): with managed-identity auth
        (useAADAuth) the agents read what to collect, and where to send it, from a data collection rule
        associated with their cluster, and without one they run and send nothing. ARM, Terraform and Pulumi
        must create both (azure-monitor-docs kubernetes-monitoring-enable-arm.md; microsoft/Docker-Provider
        scripts/onboarding/aks/onboarding-msi-terraform/main.tf)."""
        # The CLI's name, region and streams: the workspace's region (the cluster's here), at most 64
        # characters; the group stream of every container insights table, container logs in ContainerLogV2.
        streams, destination = ["Microsoft-ContainerInsights-Group-Default"], "la-workspace"
        rule = monitor.DataCollectionRule(
            f"{name}-insights",
            resource_group_name=self.resource_group.name,
            data_collection_rule_name=f"MSCI-{location}-{cluster_name}"[:64].removesuffix("-"),
            location=location,
            kind="Linux",
            data_sources=monitor.DataCollectionRuleDataSourcesArgs(extensions=[monitor.ExtensionDataSourceArgs(
                name="ContainerInsightsExtension",
                extension_name="ContainerInsights",
                streams=streams,
                extension_settings={"dataCollectionSettings": {"enableContainerLogV2": True}},
            )]),
            destinations=monitor.DataCollectionRuleDestinationsArgs(log_analytics=[
                monitor.LogAnalyticsDestinationArgs(name=destination, workspace_resource_id=workspace.id)]),
            data_flows=[monitor.DataFlowArgs(streams=streams, destinations=[destination])],
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The agents look the rule up by this association name on their cluster.
        monitor.DataCollectionRuleAssociation(
            f"{name}-insights",
            association_name="ContainerInsightsExtension",
            resource_uri=self.cluster.id,
            data_collection_rule_id=rule.id,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _deployer_access(self, name: str, cfg: ClusterConfig) -> command.local.Command:
        """Grant the caller (setting `deployerAccess.grant`) and the additional principals Kubernetes access, then
        wait until the caller's works."""
        depends_on: list[pulumi.Resource] = [self.cluster]
        caller = authorization.get_client_config_output()
        access = cfg.deployer_access
        cluster_admin = pulumi.Output.concat("/subscriptions/", caller.subscription_id,
                                             "/providers/Microsoft.Authorization/roleDefinitions/", CLUSTER_ADMIN_ROLE)
        deployer: pulumi.Output[str] | None = None
        if access.grant:
            self.deployer_role = authorization.RoleAssignment(
                f"{name}-deployer-cluster-admin",
                principal_id=caller.object_id,
                principal_type=access.principal_type,
                role_definition_id=cluster_admin,
                # On the stack's resource group, not the cluster: assigned before AKS exists, it takes
                # effect while the cluster is created, so the wait after it rarely waits.
                scope=self.resource_group.id,
                # The first deployer keeps the role: another identity running `pulumi up` later (CI)
                # must not revoke it; that identity brings its own access, which the wait checks.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["principalId", "principalType"]),
            )
            depends_on.append(self.deployer_role)
            # Whom it holds (the caller on a first deploy, the first deployer after it), which no additional
            # principal may be.
            deployer = self.deployer_role.principal_id
        # The wait follows these too: the caller may be one of them (CI, with grant false).
        for i, principal in enumerate(access.additional_principals):
            depends_on.append(authorization.RoleAssignment(
                # Named by the principal, not its place in the list: reordering the list replaces nothing.
                f"{name}-principal-{principal.object_id}",
                principal_id=principal.object_id if deployer is None else deployer.apply(
                    functools.partial(access.besides_deployer, i)),
                principal_type=principal.type,
                role_definition_id=cluster_admin,
                scope=self.resource_group.id,
                # An assignment's principal is fixed (Azure: RoleAssignmentUpdateNotPermitted; azure-native
                # replaces on a new principalId itself, terraform-provider-azurerm on a new principal_type too),
                # and Azure holds one assignment per principal, role and scope: the old one goes first, or the
                # new one is refused (RoleAssignmentExists).
                opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["principalType"],
                                            delete_before_replace=True),
            ))
        return command.local.Command(
            f"{name}-wait-for-access",
            create=ACCESS_WAIT,
            interpreter=["/bin/bash", "-c"],
            environment={"KUBECONFIG_DATA": self.kubeconfig, "WAIT_SECONDS": str(access.wait_seconds),
                         "ROLE": CLUSTER_ADMIN_ROLE_NAME, "SCOPE": self.resource_group.id},
            # A command runs again only when its inputs change: a new deployer is checked anew.
            triggers=[caller.object_id],
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )


def version_owned_by_channel(cfg: ClusterConfig, *fields: str) -> list[str]:
    return list(fields) if cfg.upgrade_channel in MINOR_UPGRADE_CHANNELS else []


@dataclass
class ExistingClusterArgs:
    config: ClusterConfig


class ExistingCluster(pulumi.ComponentResource):
    """A provider for a cluster that already exists, from a kubeconfig file and context."""

    provider: k8s.Provider
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("knative-kafka:cluster:ExistingCluster", name, None, opts)
        cfg = args.config
        self.provider = k8s.Provider(
            name,
            kubeconfig=os.path.expanduser(cfg.kubeconfig or ""),
            context=cfg.context,
            enable_server_side_apply=True,
            # Stable across credential rotation: a new token must not replace every resource.
            cluster_identifier=f"existing:{cfg.context or 'current-context'}",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ready = [self.provider]
        self.workload_identity: AzureWorkloadIdentity | None = None
        self.outputs: dict[str, pulumi.Input[str]] = {}   # the kubeconfig is the user's own file
        self.register_outputs(self.outputs)


def build_cluster(name: str, config: ClusterConfig, stack: str,
                  keda_addon: bool = False) -> AksCluster | ExistingCluster:
    """The cluster the stack's `cluster.mode` asks for."""
    if config.mode == "existing":
        return ExistingCluster(name, ExistingClusterArgs(config))
    return AksCluster(name, AksClusterArgs(config, stack, keda_addon))
