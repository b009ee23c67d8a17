"""What the platform reads from the objects the program writes, where a slip is not an error at preview
but a stack that does not work: kubectl refusing the kubeconfig, a KafkaUser Strimzi cannot give a
password, a node pool Strimzi never sees, a Knative setting that never applies, a cluster without RBAC.
Checked on every stack file (a user's own too) and on prod with every optional resource, through the
whole program."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import identity
from harness import STACKS, USER_STACKS, Harness, Registry, resolve

KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"
STRIMZI_OBJECTS = ("kubernetes:kafka.strimzi.io/v1:KafkaNodePool", "kubernetes:kafka.strimzi.io/v1:KafkaTopic",
                   "kubernetes:kafka.strimzi.io/v1:KafkaUser")
KAFKA_USER = "kubernetes:kafka.strimzi.io/v1:KafkaUser"
KAFKA_SOURCE = "kubernetes:sources.knative.dev/v1:KafkaSource"
KAFKA_SINK = "kubernetes:eventing.knative.dev/v1alpha1:KafkaSink"
SECRET = "kubernetes:core/v1:Secret"
MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
PATCH = "kubernetes:core/v1:ConfigMapPatch"
# Kinds without a namespace; every other object lands in the provider's default namespace without one.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "StorageClass",
                  "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}
# The keys eventing-kafka reads from a KafkaSink's auth secret (SASL over TLS).
KAFKA_SINK_AUTH_KEYS = {"protocol", "sasl.mechanism", "user", "password", "ca.crt"}
# The ConfigMaps serving-core ships (and the program may patch; a patch cannot create one).
SERVING_CONFIG_MAPS = {"config-autoscaler", "config-defaults", "config-deployment", "config-domain",
                       "config-features", "config-gc", "config-leader-election", "config-logging",
                       "config-network", "config-observability", "config-tracing"}
# eventing-kafka-broker knative-v1.23.0 control-plane/config/eventing-kafka-broker/200-controller/ (in
# eventing-kafka-controller.yaml): 100-config-kafka-features.yaml, 100-config-kafka-autoscaler.yaml,
# 100-config-kafka-leader-election.yaml.
EVENTING_KAFKA_CONFIG_MAPS = {"config-kafka-features", "config-kafka-autoscaler", "config-kafka-leader-election"}
SHIPPED_CONFIG_MAPS = {"knative-serving": SERVING_CONFIG_MAPS, "knative-eventing": EVENTING_KAFKA_CONFIG_MAPS}


@pytest.fixture(params=[*USER_STACKS, "prod-every-option"])
def stack(request: pytest.FixtureRequest, pulumi_mocks: Harness) -> Registry:
    if request.param in STACKS:
        return pulumi_mocks.run_main(request.param)
    return identity.render(pulumi_mocks, request.param)


def test_every_kubernetes_object_is_applied_by_the_stacks_one_provider(stack):
    """An object without it goes to whatever cluster the machine's default kubeconfig names."""
    [provider] = stack.of_type("pulumi:providers:kubernetes")
    assert {r.provider_urn for r in stack.kubernetes_objects()} == {provider.urn}


def test_the_kubeconfig_names_the_exec_credential_api_kubectl_and_the_provider_require(stack):
    """client-go refuses an exec credential plugin without apiVersion: nothing could reach the cluster."""
    kubeconfig = stack.one("pulumi:providers:kubernetes").inputs["kubeconfig"]
    if not stack.of_type(MANAGED_CLUSTER):
        return                                      # the user's own kubeconfig file
    users = yaml.safe_load(kubeconfig)["users"]
    assert users
    for user in users:
        exec_ = user["user"]["exec"]
        assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1", user
        # Nothing else: client-go ignores what it does not know, so a misspelt field is just lost.
        assert set(exec_) == {"apiVersion", "command", "args", "interactiveMode", "provideClusterInfo"}, exec_
        assert (exec_["command"], exec_["interactiveMode"], exec_["provideClusterInfo"]) == ("kubelogin", "Never",
                                                                                             False)
    exported = yaml.safe_load(resolve(stack.exports["kubeconfig"]))
    assert [u["user"]["exec"]["apiVersion"] for u in exported["users"]] == [
        "client.authentication.k8s.io/v1beta1"] * len(exported["users"])


def test_the_provider_keeps_its_identity_when_the_credentials_change(stack):
    """pulumi-kubernetes replaces its provider, and every object under it, when the kubeconfig changes,
    unless a clusterIdentifier names the cluster: a renewed token must not reinstall everything."""
    provider = stack.one("pulumi:providers:kubernetes")
    clusters = stack.of_type(MANAGED_CLUSTER)
    if clusters:
        [aks] = clusters
        assert provider.inputs["clusterIdentifier"].endswith(
            f"/providers/Microsoft.ContainerService/managedClusters/{aks.inputs['resourceName']}")
    else:
        assert provider.inputs["clusterIdentifier"] == f"existing:{provider.inputs.get('context') or 'current-context'}"


def namespace_of(inputs: dict[str, Any]) -> str | None:
    return (inputs.get("metadata") or {}).get("namespace")


def test_every_namespaced_object_names_its_namespace(stack):
    """Without one an object lands in the provider's default namespace, where its controller never looks."""
    objects = [r for r in stack.kubernetes_objects() if "metadata" in r.inputs]
    # Even a stack without functions has its Kafka, node pools and topics.
    assert {r.type.rsplit(":", 1)[1] for r in objects} >= {"Kafka", "KafkaNodePool", "KafkaTopic"}
    for r in objects:
        if r.type.rsplit(":", 1)[1] not in CLUSTER_SCOPED:
            assert namespace_of(r.inputs), f"{r.type} {r.name} has no namespace"


def test_strimzi_finds_every_node_pool_topic_and_user_beside_its_kafka(stack):
    """Strimzi's operators watch the Kafka's namespace and match objects by their strimzi.io/cluster label."""
    kafka = stack.one(KAFKA).inputs["metadata"]
    objects = [r for r in stack.all() if r.type in STRIMZI_OBJECTS]
    assert {r.type for r in objects} >= {STRIMZI_OBJECTS[0], STRIMZI_OBJECTS[1]}
    for r in objects:
        metadata = r.inputs["metadata"]
        assert (metadata.get("namespace"), metadata["labels"]["strimzi.io/cluster"]) == (
            kafka["namespace"], kafka["name"]), r.name


def secret_key_refs(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        if "secretKeyRef" in value:
            yield value["secretKeyRef"]["name"], value["secretKeyRef"]["key"]
        for item in value.values():
            yield from secret_key_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from secret_key_refs(item)


def test_every_kafka_credential_the_platform_reads_is_in_a_secret_the_program_writes(stack):
    """Strimzi reads a KafkaUser's password, eventing-kafka a KafkaSource's and a KafkaSink's credentials,
    from a Secret by name and key: a key that is not there leaves the user NotReady and the source (and its
    dead letters) unable to connect."""
    written = {(namespace_of(s.inputs), s.inputs["metadata"]["name"]): set(s.inputs.get("stringData") or {})
               for s in stack.of_type(SECRET)}
    wanted = [(namespace_of(r.inputs), name, key) for r in stack.all() if r.type in (KAFKA_USER, KAFKA_SOURCE)
              for name, key in secret_key_refs(r.inputs["spec"])]
    for sink in stack.of_type(KAFKA_SINK):
        ref = ((sink.inputs["spec"].get("auth") or {}).get("secret") or {}).get("ref")
        if ref:
            wanted += [(namespace_of(sink.inputs), ref["name"], key) for key in sorted(KAFKA_SINK_AUTH_KEYS)]
    authenticated = bool(stack.of_type(KAFKA_USER))
    assert bool(wanted) == authenticated
    for namespace, name, key in wanted:
        assert key in written.get((namespace, name), set()), f"no key {key!r} in Secret {namespace}/{name}"


def test_each_knative_setting_patches_the_config_map_knative_reads(stack):
    """A ConfigMapPatch only patches an existing ConfigMap, found by namespace and name."""
    patches = stack.of_type(PATCH)
    assert "config-network" in {p.name for p in patches}
    for patch in patches:
        metadata = patch.inputs["metadata"]
        assert metadata.get("name") == patch.name
        assert patch.name in SHIPPED_CONFIG_MAPS.get(metadata.get("namespace"), set()), metadata


def test_existing_cluster_provider_uses_the_kubeconfig_and_context_it_is_given(pulumi_mocks):
    """Without a context the kubeconfig's current one is used, and named so in the cluster identifier."""
    settings = {"mode": "existing", "kubeconfig": "/srv/kube/staging.yaml"}
    provider = pulumi_mocks.run_main("local", {"cluster": settings}).one("pulumi:providers:kubernetes").inputs
    assert provider["kubeconfig"] == "/srv/kube/staging.yaml"
    assert "context" not in provider
    assert provider["clusterIdentifier"] == "existing:current-context"


def test_aks_is_created_with_the_dns_prefix_of_its_api_server_address(stack):
    """AKS refuses a cluster without one, and never changes it: it names the API server's address."""
    for aks in stack.of_type(MANAGED_CLUSTER):
        assert aks.inputs["dnsPrefix"] == f"knative-kafka-{identity.stack_of(aks.urn)}"


def test_every_node_pool_runs_azure_linux(stack):
    """The images the platform runs are Linux ones; a pool's OS is fixed when AKS creates it."""
    pools = [p for aks in stack.of_type(MANAGED_CLUSTER) for p in aks.inputs["agentPoolProfiles"]]
    pools += [p.inputs for p in stack.of_type("azure-native:containerservice:AgentPool")]
    for pool in pools:
        assert (pool["osType"], pool["osSKU"]) == ("Linux", "AzureLinux"), pool


def test_every_azure_resource_is_created_in_the_stacks_region(stack):
    """Azure refuses a resource without a location; the program takes it from cluster.location."""
    located = [r for r in stack.all() if r.type.startswith("azure-native:")
               and r.type.rsplit(":", 1)[1] in ("ResourceGroup", "ManagedCluster", "Workspace", "UserAssignedIdentity")]
    if stack.of_type(MANAGED_CLUSTER):
        [aks] = stack.of_type(MANAGED_CLUSTER)
        assert aks.inputs["location"]
        assert {r.inputs.get("location") for r in located} == {aks.inputs["location"]}
        assert {r.type.rsplit(":", 1)[1] for r in located} >= {"ResourceGroup", "ManagedCluster"}


def test_the_kafka_cluster_ca_is_an_rsa_4096_key_that_signs_certificates(stack):
    """Strimzi signs every broker certificate with the CA the program hands it."""
    keys = stack.of_type("tls:index/privateKey:PrivateKey")
    # The program hands Strimzi a CA where Kafka authenticates its clients, functions or not.
    if (stack.one(KAFKA).inputs["spec"].get("clusterCa") or {}).get("generateCertificateAuthority") is not False:
        assert keys == [] and stack.of_type(KAFKA_USER) == []
        return
    [key] = keys
    assert (key.inputs["algorithm"], key.inputs["rsaBits"]) == ("RSA", 4096)
    cert = stack.one("tls:index/selfSignedCert:SelfSignedCert").inputs
    assert cert["isCaCertificate"] is True
    # Strimzi signs with it (cert_signing, crl_signing); any change replaces the certificate, so every
    # client's truststore with it: the uses are pinned.
    assert sorted(cert["allowedUses"]) == ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"]


def test_the_access_wait_runs_as_it_is_registered(stack, tmp_path):
    """pulumi-command runs `interpreter + [create]` with the registered environment: run exactly that, with
    kubectl and kubelogin stand-ins that allow everything."""
    waits = stack.of_type("command:local:Command")
    if not stack.of_type(MANAGED_CLUSTER):
        assert waits == []
        return
    [wait] = waits
    for tool in ("kubectl", "kubelogin"):
        (tmp_path / tool).write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/calls\n")
        (tmp_path / tool).chmod(0o755)
    env = {**wait.inputs["environment"], "PATH": f"{tmp_path}:{os.defpath}"}
    result = subprocess.run([*wait.inputs["interpreter"], wait.inputs["create"]], env=env, capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert len(Path(tmp_path / "calls").read_text().splitlines()) == 3


def test_aks_authorizes_every_request_with_kubernetes_rbac(stack):
    """With RBAC off, the Entra ID and Azure RBAC settings grant nothing: every signed-in identity could
    do anything in the cluster."""
    for aks in stack.of_type(MANAGED_CLUSTER):
        assert aks.inputs["enableRBAC"] is True
        assert aks.inputs["aadProfile"]["enableAzureRBAC"] is True
