"""Policy rules for functions as workloads and a hardened AKS: each rule alone, then every stack file."""
from __future__ import annotations

import sys
from typing import Any

from harness import ROOT

sys.path.insert(0, str(ROOT / "policy"))

from rules import (  # noqa: E402
    Resource,
    aks_observed_and_hardened,
    function_images_pinned,
    function_namespaces_restricted,
    function_pods_restricted,
    functions_cluster_local,
    functions_network_isolated,
    knative_secure_pod_defaults,
)

RESTRICTED = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
              "seccompProfile": {"type": "RuntimeDefault"}, "readOnlyRootFilesystem": True}
RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1000m", "memory": "256Mi"}}


def service(image: str = "ghcr.io/org/fn:1.4.2", labels: dict[str, str] | None = None, namespace: str = "orders",
            **pod: Any) -> Resource:
    container = {"image": image, "securityContext": RESTRICTED, "resources": RESOURCES}
    return Resource("kubernetes:serving.knative.dev/v1:Service", "fn", {
        "metadata": {"name": "fn", "namespace": namespace,
                     "labels": {"networking.knative.dev/visibility": "cluster-local"} if labels is None else labels},
        "spec": {"template": {"spec": {"automountServiceAccountToken": False, "containers": [container], **pod}}}})


def namespace(name: str = "orders", **labels: str) -> Resource:
    return Resource("kubernetes:core/v1:Namespace", name, {"metadata": {"name": name, "labels": labels}})


def test_a_function_container_must_be_restricted_with_requests_and_limits_and_no_unused_token():
    assert function_pods_restricted([service()], {}) == []
    loose = service()
    container = loose.props["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"] = {**RESTRICTED, "runAsNonRoot": False, "capabilities": {}}
    container["resources"] = {"requests": {"cpu": "1"}}
    messages = [v.message for v in function_pods_restricted([loose], {})]
    assert messages == ["container securityContext not restricted: ['capabilities', 'runAsNonRoot']",
                        "container without ['requests.memory', 'limits.cpu', 'limits.memory']: its cost and blast "
                        "radius are open"]
    assert [v.message for v in function_pods_restricted([service(automountServiceAccountToken=None)], {})] == [
        "a service account token is mounted that nothing uses"]
    # A function's own service account (workload identity) opts out of the token itself.
    assert function_pods_restricted([service(automountServiceAccountToken=None, serviceAccountName="fn")], {}) == []
    assert [v.message for v in function_pods_restricted(
        [service(automountServiceAccountToken=True, serviceAccountName="fn")], {})] == [
        "automountServiceAccountToken true: Knative's webhook refuses it"]


def test_a_public_function_is_flagged_unless_allowed():
    assert functions_cluster_local([service()], {}) == []
    assert len(functions_cluster_local([service(labels={})], {})) == 1
    assert functions_cluster_local([service(labels={})], {"allowPublic": True}) == []


def test_a_function_image_needs_a_digest_or_a_version_tag():
    pinned = ["ghcr.io/org/fn:1.4.2", "registry:5000/fn@sha256:" + "a" * 64, "fn:v2"]
    loose = ["ghcr.io/org/fn", "ghcr.io/org/fn:latest", "registry:5000/fn"]
    assert function_images_pinned([service(image) for image in pinned], {}) == []
    assert len(function_images_pinned([service(image) for image in loose], {})) == 3
    assert function_images_pinned([service("fn")], {"allowUnpinnedImages": True}) == []


def test_a_function_namespace_must_enforce_the_restricted_level():
    restricted = namespace(**{"pod-security.kubernetes.io/enforce": "restricted"})
    assert function_namespaces_restricted([restricted, service()], {}) == []
    assert len(function_namespaces_restricted([namespace(), service()], {})) == 1
    assert len(function_namespaces_restricted([service(namespace="default")], {})) == 1, "not created, not labelled"
    assert function_namespaces_restricted([service(namespace="default")], {"allowUnlabelledNamespaces": True}) == []


def aks(encrypted: bool = True, name: str = "aks", **addons: bool) -> Resource:
    profiles = {name: {"enabled": on} for name, on in {"omsagent": True, "azurepolicy": True, **addons}.items()}
    return Resource("azure-native:containerservice:ManagedCluster", name, {
        "addonProfiles": profiles, "agentPoolProfiles": [{"name": "system", "enableEncryptionAtHost": encrypted}]},
        f"urn:{name}")


def insights_association(on: Resource, name: str = "ContainerInsightsExtension") -> Resource:
    """Its scope is the cluster's id, so it depends on the cluster (and on its data collection rule)."""
    return Resource("azure-native:monitor:DataCollectionRuleAssociation", "insights", {"associationName": name},
                    "urn:insights", frozenset({on.urn, "urn:rule"}))


def test_aks_must_be_observed_audited_and_encrypted_at_host():
    user_pool = Resource("azure-native:containerservice:AgentPool", "user", {"enableEncryptionAtHost": True})
    assert aks_observed_and_hardened([aks(), insights_association(aks()), user_pool], {}) == []
    assert [v.message for v in aks_observed_and_hardened([aks(omsagent=False, azurepolicy=False)], {})] == [
        "container insights (logs and metrics) add-on is off", "Azure Policy add-on is off"]
    plain_pool = Resource("azure-native:containerservice:AgentPool", "user", {})
    unencrypted = aks(encrypted=False)
    assert [v.message for v in aks_observed_and_hardened([unencrypted, insights_association(unencrypted), plain_pool],
                                                         {})] == [
        "node pool system without encryption at host", "node pool user without encryption at host"]
    assert aks_observed_and_hardened([unencrypted, insights_association(unencrypted)],
                                     {"allowNoEncryptionAtHost": True}) == []


def test_container_insights_needs_its_rule_associated_with_the_observed_cluster():
    """With managed-identity auth the agents collect only what the data collection rule associated as
    `ContainerInsightsExtension` with their cluster tells them (azure-cli acs/addonconfiguration.py)."""
    assert aks_observed_and_hardened([aks(), insights_association(aks())], {}) == []
    for unassociated in ([aks()], [aks(), insights_association(aks(), name="somethingElse")],
                         [aks(), aks(name="other"), insights_association(aks(name="other"))]):
        [violation] = aks_observed_and_hardened(unassociated, {})
        assert (violation.resource, violation.message) == (aks(), (
            "container insights collects nothing: no data collection rule association "
            "'ContainerInsightsExtension' on the cluster"))


def network_policy(namespace: str = "orders", service_name: str = "fn") -> Resource:
    return Resource("kubernetes:networking.k8s.io/v1:NetworkPolicy", "np", {
        "metadata": {"name": "fn-ingress", "namespace": namespace},
        "spec": {"podSelector": {"matchLabels": {"serving.knative.dev/service": service_name}},
                 "policyTypes": ["Ingress"]}})


def test_every_function_is_selected_by_an_ingress_network_policy():
    assert functions_network_isolated([service(), network_policy()], {}) == []
    assert len(functions_network_isolated([service()], {})) == 1
    assert len(functions_network_isolated([service(), network_policy(namespace="other")], {})) == 1
    assert len(functions_network_isolated([service(), network_policy(service_name="other")], {})) == 1


def features(value: str) -> Resource:
    return Resource("kubernetes:core/v1:ConfigMapPatch", "config-features", {
        "metadata": {"name": "config-features", "namespace": "knative-serving"},
        "data": {"secure-pod-defaults": value}})


def test_knative_must_add_secure_defaults_where_functions_run():
    assert knative_secure_pod_defaults([service(), features("enabled")], {}) == []
    assert len(knative_secure_pod_defaults([service(), features("disabled")], {})) == 1
    assert len(knative_secure_pod_defaults([service()], {})) == 1
    assert knative_secure_pod_defaults([], {}) == []
