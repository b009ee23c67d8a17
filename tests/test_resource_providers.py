"""The resource provider namespaces a subscription must have registered before `pulumi up` (azure-native
registers none, pulumi-azure-native #3479) are exactly those of what the program creates: components/cluster.py
RESOURCE_PROVIDERS, which scripts/deploy registers (tests/test_deploy_script.py) and the README lists."""
from __future__ import annotations

import re

import identity
from components.cluster import RESOURCE_PROVIDERS
from harness import ROOT, Registry

# The namespace of each azure-native module's resource types (the ARM type each resource's API reference
# names: monitor.DataCollectionRule is Microsoft.Insights/dataCollectionRules).
NAMESPACES = {
    "authorization": "Microsoft.Authorization",
    "containerservice": "Microsoft.ContainerService",
    "managedidentity": "Microsoft.ManagedIdentity",
    "monitor": "Microsoft.Insights",
    "operationalinsights": "Microsoft.OperationalInsights",
    "resources": "Microsoft.Resources",
}
# Registered on every subscription from the start, nothing to register (azure-docs azure-resource-manager
# management/azure-services-resource-providers.md, "Registered by default").
REGISTERED_BY_DEFAULT = {"Microsoft.Authorization", "Microsoft.Resources"}
# What AKS creates with a cluster in its node resource group: VM scale sets and disks, the virtual network
# and load balancer, storage accounts for its CSI drivers (MicrosoftDocs/azure-docs #5778).
CREATED_BY_AKS = {"Microsoft.Compute", "Microsoft.Network", "Microsoft.Storage"}
# AKS add-ons that call a provider of their own: Azure Policy's reports policy states
# (terraform-provider-azurerm #13156).
ADDON_NAMESPACES = {"azurepolicy": "Microsoft.PolicyInsights"}


def namespaces_used(registry: Registry) -> set[str]:
    used: set[str] = set()
    for r in registry.all():
        if not r.type.startswith("azure-native:"):
            continue
        module = r.type.split(":")[1]
        assert module in NAMESPACES, f"{r.type}: which resource provider namespace is it in? (NAMESPACES)"
        used.add(NAMESPACES[module])
        if r.type == "azure-native:containerservice:ManagedCluster":
            used |= CREATED_BY_AKS
            used |= {ADDON_NAMESPACES[addon] for addon, profile in (r.inputs.get("addonProfiles") or {}).items()
                     if profile.get("enabled") and addon in ADDON_NAMESPACES}
    return used - REGISTERED_BY_DEFAULT


def test_the_registered_namespaces_are_exactly_those_of_what_the_stacks_create(pulumi_mocks):
    """Every stack file, and prod with every optional resource (a function's workload identity)."""
    used = set().union(*(namespaces_used(identity.render(pulumi_mocks, name)) for name in identity.VARIANTS))
    assert sorted(used - set(RESOURCE_PROVIDERS)) == [], "a fresh subscription answers MissingSubscriptionRegistration"
    assert sorted(set(RESOURCE_PROVIDERS) - used) == [], "registered for nothing the stacks create"


def test_the_readme_registers_the_same_namespaces_for_a_pulumi_up_run_directly():
    readme = (ROOT / "README.md").read_text()
    assert re.findall(r"^ *az provider register --namespace (\S+) --wait$", readme, re.MULTILINE) == \
        list(RESOURCE_PROVIDERS)
