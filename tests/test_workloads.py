"""Event functions as real workloads: private by default, locked down, configurable, with an
optional Azure identity. Run through the whole program on the dev stack."""
from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError
from harness import OIDC_ISSUER, Registry, resolve

SERVICE = "kubernetes:serving.knative.dev/v1:Service"
KAFKA_SOURCE = "kubernetes:sources.knative.dev/v1:KafkaSource"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
FEDERATED = "azure-native:managedidentity:FederatedIdentityCredential"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
PATCH = "kubernetes:core/v1:ConfigMapPatch"


def dev_with(pulumi_mocks, stack: str = "dev", **settings: Any) -> Registry:
    function = {"name": "billing", "namespace": "payments", "topic": "my-topic", **settings}
    return pulumi_mocks.run_main(stack, {"functions": [function]})


def container(registry: Registry) -> dict[str, Any]:
    [only] = registry.one(SERVICE).inputs["spec"]["template"]["spec"]["containers"]
    return only


def test_a_function_is_cluster_local_and_its_source_still_delivers_to_it(pulumi_mocks):
    registry = dev_with(pulumi_mocks)
    service = registry.one(SERVICE)
    assert service.inputs["metadata"]["labels"] == {"networking.knative.dev/visibility": "cluster-local"}
    assert resolve(registry.exports["functions"])["billing"]["url"] == "http://billing.payments.svc.cluster.local"
    assert registry.one(KAFKA_SOURCE).inputs["spec"]["sink"]["ref"]["name"] == "billing"


def test_a_public_function_is_reachable_through_the_gateway(pulumi_mocks):
    registry = dev_with(pulumi_mocks, public=True)
    assert registry.one(SERVICE).inputs["metadata"]["labels"] == {}
    assert resolve(registry.exports["functions"])["billing"]["url"] == "http://billing.payments.example.com"


def test_the_container_is_locked_down_to_the_restricted_profile(pulumi_mocks):
    registry = dev_with(pulumi_mocks)
    assert container(registry)["securityContext"] == {
        "runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"}, "readOnlyRootFilesystem": True}
    pod = registry.one(SERVICE).inputs["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in pod


def test_a_function_may_opt_out_of_a_read_only_root_filesystem(pulumi_mocks):
    registry = dev_with(pulumi_mocks, readOnlyRootFilesystem=False)
    assert container(registry)["securityContext"]["readOnlyRootFilesystem"] is False


def test_a_limit_left_out_rises_to_its_request(pulumi_mocks):
    raised = dev_with(pulumi_mocks, resources={"requests": {"cpu": "1500m", "memory": "1Gi"}},
                      autoscaling={"maxScale": 2})
    assert container(raised)["resources"]["limits"] == {"cpu": "1500m", "memory": "1024Mi"}


def test_every_function_has_requests_and_limits(pulumi_mocks):
    assert container(dev_with(pulumi_mocks))["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1000m", "memory": "256Mi"}}
    configured = dev_with(pulumi_mocks, resources={"requests": {"cpu": "0.5", "memory": "1Gi"},
                                                   "limits": {"cpu": 2, "memory": "2Gi"}})
    assert container(configured)["resources"] == {
        "requests": {"cpu": "500m", "memory": "1024Mi"}, "limits": {"cpu": "2000m", "memory": "2048Mi"}}


def test_environment_secrets_port_and_concurrency_reach_the_revision(pulumi_mocks):
    registry = dev_with(pulumi_mocks, env={"LOG_LEVEL": "debug", "REGION": "westeurope"},
                        secretEnv={"DB_PASSWORD": {"secret": "billing-db", "key": "password"}},
                        port=9000, containerConcurrency=10)
    c = container(registry)
    secret = {"secretKeyRef": {"name": "billing-db", "key": "password"}}
    assert c["env"] == [{"name": "LOG_LEVEL", "value": "debug"}, {"name": "REGION", "value": "westeurope"},
                        {"name": "DB_PASSWORD", "valueFrom": secret}]
    assert c["ports"] == [{"containerPort": 9000}]
    assert registry.one(SERVICE).inputs["spec"]["template"]["spec"]["containerConcurrency"] == 10


def test_only_knatives_data_plane_may_reach_a_function(pulumi_mocks):
    registry = dev_with(pulumi_mocks)
    policy = registry.one(NETWORK_POLICY)
    assert policy.inputs["metadata"] == {"name": "billing-ingress", "namespace": "payments"}
    assert policy.inputs["spec"]["podSelector"] == {"matchLabels": {"serving.knative.dev/service": "billing"}}
    assert policy.inputs["spec"]["policyTypes"] == ["Ingress"]
    [rule] = policy.inputs["spec"]["ingress"]
    assert [peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in rule["from"]] == [
        "knative-serving", "kourier-system", "knative-eventing"]


def test_function_namespaces_enforce_the_restricted_pod_security_level(pulumi_mocks):
    namespace = next(n for n in dev_with(pulumi_mocks).of_type(NAMESPACE) if n.name == "ns-payments")
    assert namespace.inputs["metadata"]["labels"] == {"pod-security.kubernetes.io/enforce": "restricted"}


def test_knative_adds_secure_defaults_to_every_revision(pulumi_mocks):
    features = dev_with(pulumi_mocks).one(PATCH, "config-features")
    assert features.inputs["data"] == {"secure-pod-defaults": "enabled"}
    assert features.inputs["metadata"]["namespace"] == "knative-serving"


def test_workload_identity_federates_a_managed_identity_with_the_functions_service_account(pulumi_mocks):
    registry = dev_with(pulumi_mocks, workloadIdentity=True)
    identity = registry.one(IDENTITY)
    assert identity.inputs["resourceName"] == "id-payments-billing"
    assert identity.inputs["resourceGroupName"] == "knative-kafka-dev"
    account = registry.one(SERVICE_ACCOUNT)
    assert account.inputs["metadata"] == {"name": "billing", "namespace": "payments", "annotations": {
        "azure.workload.identity/client-id": "client-id-of-billing-identity"}}
    federated = registry.one(FEDERATED).inputs
    assert federated["issuer"] == OIDC_ISSUER
    assert federated["subject"] == "system:serviceaccount:payments:billing"
    assert federated["audiences"] == ["api://AzureADTokenExchange"]
    template = registry.one(SERVICE).inputs["spec"]["template"]
    assert template["metadata"]["labels"] == {"azure.workload.identity/use": "true"}
    assert template["spec"]["serviceAccountName"] == "billing"
    # Knative refuses the field as true (serving pkg/apis/serving/fieldmask.go): the pod leaves it out and the
    # account, not the pod, keeps the Kubernetes API token away; Azure's webhook projects its own token.
    assert "automountServiceAccountToken" not in template["spec"]
    assert account.inputs["automountServiceAccountToken"] is False
    assert resolve(registry.exports["functions"])["billing"]["identity"] == {
        "clientId": "client-id-of-billing-identity", "principalId": "principal-id-of-billing-identity"}


REFUSED = [
    pytest.param({"env": {"PORT": "9000"}}, "functions[0].env.PORT", "a name Knative does not set itself",
                 id="env-knative-reserves"),
    pytest.param({"env": {"LOG-LEVEL": "debug"}}, "functions[0].env.LOG-LEVEL", "an environment variable name",
                 id="env-bad-name"),
    pytest.param({"env": {"RETRIES": 3}}, "functions[0].env.RETRIES", "a string (quote numbers", id="env-number"),
    pytest.param({"secretEnv": {"TOKEN": {"secret": "api"}}}, "functions[0].secretEnv.TOKEN.key",
                 "a key of that Secret", id="secret-env-without-key"),
    pytest.param({"env": {"TOKEN": "x"}, "secretEnv": {"TOKEN": {"secret": "api", "key": "t"}}},
                 "functions[0].secretEnv.TOKEN", "not set by env", id="secret-env-twice"),
    # The queue-proxy's ports: serving pkg/apis/serving/k8s_validation.go reservedPorts
    *[pytest.param({"port": port}, "functions[0].port", "a port the queue-proxy sidecar does not use",
                   id=f"queue-proxy-port-{port}") for port in (8012, 8013, 8022, 9090, 9091)],
    # Knative's config-defaults container-concurrency-max-limit: 1000 (serving config/core/configmaps/defaults.yaml)
    pytest.param({"containerConcurrency": 1001}, "functions[0].containerConcurrency", "at most 1000",
                 id="concurrency-above-knative-max"),
    pytest.param({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}},
                 "functions[0].resources.limits.cpu", "at least requests.cpu (2000m)", id="request-above-limit"),
    pytest.param({"resources": {"requests": {"memory": "1G"}}}, "functions[0].resources.requests.memory",
                 "a memory quantity such as '256Mi'", id="memory-unit"),
    pytest.param({"resources": {"limits": {"cpu": "fast"}}}, "functions[0].resources.limits.cpu",
                 "a CPU quantity such as '250m'", id="cpu-word"),
    pytest.param({"resources": {"requests": {"gpu": 1}}}, "functions[0].resources.requests",
                 "unknown key(s) gpu", id="unknown-resource"),
]


@pytest.mark.parametrize(("settings", "key", "allowed"), REFUSED)
def test_workload_settings_the_platform_would_refuse_are_refused_before_anything_exists(
        pulumi_mocks, settings, key, allowed):
    with pytest.raises(ConfigError) as refused:
        dev_with(pulumi_mocks, **settings)
    assert str(refused.value).startswith(f"knative-kafka:{key}"), refused.value
    assert allowed in str(refused.value)
    assert pulumi_mocks.monitor is not None and pulumi_mocks.monitor.registrations == {}


def test_workload_identity_is_refused_on_an_existing_cluster(pulumi_mocks):
    with pytest.raises(ConfigError, match=r"^knative-kafka:functions\[0\]\.workloadIdentity: true is not allowed; "
                                          r"false unless cluster.mode is 'aks'"):
        dev_with(pulumi_mocks, "local", workloadIdentity=True)


def test_a_load_producer_on_a_plain_listener_is_refused_as_a_setting_that_does_nothing(pulumi_mocks):
    with pytest.raises(ConfigError, match=r"^knative-kafka:functions\[0\]\.loadProducer: true is not allowed; "
                                          r"false unless kafka.authentication is on"):
        dev_with(pulumi_mocks, loadProducer=True)
