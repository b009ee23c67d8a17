"""The policy pack: each rule on its own, and against what the real program registers per stack."""
from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    StackValidationArgs,
)

from harness import ROOT, USER_STACKS, Registry, stack_config

sys.path.insert(0, str(ROOT / "policy"))

from pack import POLICIES  # noqa: E402
from rules import (  # noqa: E402
    RULES,
    Resource,
    aks_api_server_restricted,
    aks_locked_down,
    check,
    consumers_within_partitions,
    kafka_authentication_required,
    ordered_max_scale_within_partitions,
    upstream_versions_pinned,
    warm_functions_keep_a_consumer,
)

# dev and local: the recipe's open API server and plain listener, allowed by policy/dev.json
RELAXED_POLICY_CONFIG = json.loads((ROOT / "policy" / "dev.json").read_text())


def topic(partitions: int) -> Resource:
    return Resource("kubernetes:kafka.strimzi.io/v1:KafkaTopic", "topic",
                    {"metadata": {"name": "orders"}, "spec": {"partitions": partitions}})


def source(consumers: int = 6, ordering: str = "ordered", **scaling: str) -> Resource:
    """scaling: KEDA's annotations (class keda) by their short names, such as min_scale='0'."""
    annotations = {f"autoscaling.eventing.knative.dev/{k.replace('_', '-')}": v
                   for k, v in ({"class": "keda.autoscaling.knative.dev", **scaling} if scaling else {}).items()}
    return Resource("kubernetes:sources.knative.dev/v1:KafkaSource", "src", {"metadata": {"annotations": annotations},
                                                                            "spec": {
        "topics": ["orders"], "consumers": consumers, "ordering": ordering,
        "sink": {"ref": {"kind": "Service", "name": "fn", "namespace": "default"}}}})


def service(max_scale: str | None, min_scale: str | None = None) -> Resource:
    annotations = {f"autoscaling.knative.dev/{k}": v for k, v in (("max-scale", max_scale), ("min-scale", min_scale))
                   if v is not None}
    return Resource("kubernetes:serving.knative.dev/v1:Service", "svc", {
        "metadata": {"name": "fn", "namespace": "default"},
        "spec": {"template": {"metadata": {"annotations": annotations}}}})


def aks(**props: Any) -> Resource:
    base = {"disableLocalAccounts": True, "enableRBAC": True, "aadProfile": {"managed": True, "enableAzureRBAC": True},
            "apiServerAccessProfile": {"authorizedIPRanges": ["20.50.10.0/24"]}}
    return Resource("azure-native:containerservice:ManagedCluster", "aks", {**base, **props})


def test_consumers_beyond_partitions_are_flagged():
    assert consumers_within_partitions([topic(6), source(6)], {}) == []
    [violation] = consumers_within_partitions([topic(6), source(7)], {})
    assert "consumers 7 exceed the 6 partitions" in violation.message


def test_keda_max_scale_counts_as_the_consumers_of_a_scaled_source():
    assert consumers_within_partitions([topic(6), source(1, max_scale="6")], {}) == []
    [violation] = consumers_within_partitions([topic(6), source(1, max_scale="8")], {})
    assert "consumers 8 exceed the 6 partitions" in violation.message


def test_a_warm_function_keeps_a_consumer():
    assert warm_functions_keep_a_consumer([source(min_scale="1"), service("6", "1")], {}) == []
    assert warm_functions_keep_a_consumer([source(min_scale="0"), service("6")], {}) == [], "cold function: fine"
    assert warm_functions_keep_a_consumer([source(), service("6", "1")], {}) == [], "fixed consumers: fine"
    [violation] = warm_functions_keep_a_consumer([source(min_scale="0"), service("6", "2")], {})
    assert violation.message == "consumers scale to zero in front of svc, kept warm at min-scale 2: give it " \
                                "consumerScaling.minConsumers 1 or more"


def test_prod_with_lag_driven_consumers_keeps_its_warm_function_fed(pulumi_mocks):
    """prod keeps event-display at minScale 1; consumerScaling's default minimum (0) would leave it unfed."""
    def violations(function_scaling: dict[str, Any]) -> list[str]:
        prod = stack_config("prod")
        functions = [{**prod["functions"][0], "consumerScaling": function_scaling}]
        registry = pulumi_mocks.run_main("prod", {"consumerScaling": {"enabled": True}, "functions": functions})
        return [v for v in check(resources_of(registry)) if v.startswith("warm-functions")]

    assert len(violations({})) == 1
    assert violations({"minConsumers": 1}) == []


def test_ordered_max_scale_must_be_set_and_within_partitions():
    assert ordered_max_scale_within_partitions([topic(6), source(), service("6")], {}) == []
    assert "max-scale 7" in ordered_max_scale_within_partitions([topic(6), source(), service("7")], {})[0].message
    assert "unbounded" in ordered_max_scale_within_partitions([topic(6), source(), service(None)], {})[0].message
    assert ordered_max_scale_within_partitions([topic(6), source(ordering="unordered"), service(None)], {}) == []


def test_aks_must_be_entra_only_without_local_accounts():
    assert aks_locked_down([aks()], {}) == []
    assert len(aks_locked_down([aks(disableLocalAccounts=False, aadProfile={})], {})) == 2
    [no_rbac] = aks_locked_down([aks(enableRBAC=False)], {})
    assert no_rbac.message.startswith("Kubernetes RBAC is off")


def test_open_api_server_is_flagged_unless_the_policy_config_allows_it():
    assert aks_api_server_restricted([aks()], {}) == []
    for ranges in ([], ["0.0.0.0/0"]):
        open_aks = aks(apiServerAccessProfile={"authorizedIPRanges": ranges})
        assert len(aks_api_server_restricted([open_aks], {})) == 1
        assert aks_api_server_restricted([open_aks], {"allowOpenApiServer": True}) == []


def test_kafka_without_authenticated_tls_listeners_is_flagged_unless_allowed():
    def kafka(*listeners: dict) -> Resource:
        return Resource("kubernetes:kafka.strimzi.io/v1:Kafka", "k",
                        {"spec": {"kafka": {"listeners": list(listeners)}}})

    scram = {"name": "tls", "tls": True, "authentication": {"type": "scram-sha-512"}}
    plain = {"name": "plain", "tls": False}
    assert kafka_authentication_required([kafka(scram)], {}) == []
    [violation] = kafka_authentication_required([kafka(scram, plain)], {})
    assert "['plain']" in violation.message
    assert kafka_authentication_required([kafka(plain)], {"allowUnauthenticated": True}) == []


def test_unpinned_upstream_releases_are_flagged():
    latest = Resource("kubernetes:yaml/v2:ConfigGroup", "serving-core",
                      {"files": ["https://github.com/knative/serving/releases/latest/download/serving-core.yaml"]})
    chart = Resource("kubernetes:helm.sh/v4:Chart", "strimzi", {"version": "~1.2"})
    kafka = Resource("kubernetes:kafka.strimzi.io/v1:Kafka", "k", {"spec": {"kafka": {}}})
    assert len(upstream_versions_pinned([latest, chart, kafka], {})) == 3


def resources_of(registry: Registry) -> list[Resource]:
    return [Resource(r.type, r.name, r.inputs, r.urn, frozenset(r.dependencies)) for r in registry.all()]


def policy_config(stack: str) -> dict[str, Any]:
    """What `pulumi preview --policy-pack policy` runs with, as README and the workflow pass it: the stack's own
    policy/<stack>.json, else every policy at its strictest."""
    path = ROOT / "policy" / f"{stack}.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.mark.parametrize("stack", USER_STACKS)
def test_every_stack_file_passes_the_policy_pack(pulumi_mocks, stack):
    assert check(resources_of(pulumi_mocks.run_main(stack)), policy_config(stack)) == []


def test_dev_and_local_relax_the_same_policies():
    """Both run the recipe's open API server (dev), plain listener and unpinned demo image."""
    assert policy_config("local") == policy_config("dev") == RELAXED_POLICY_CONFIG
    assert policy_config("prod") == {}


def test_dev_needs_its_policy_config_for_its_open_api_server_and_plain_listener(pulumi_mocks):
    violations = check(resources_of(pulumi_mocks.run_main("dev")))
    assert [v.split(":")[0] for v in violations] == [
        "aks-api-server-restricted", "kafka-authentication-required", "function-images-pinned",
        "function-namespaces-restricted", "aks-observed-and-hardened"]


def test_the_pack_reports_violations_against_the_offending_resource(pulumi_mocks):
    registry = pulumi_mocks.run_main("prod")
    policy_resources = policy_resources_of([
        Resource(r.type, r.name, {**r.props, "disableLocalAccounts": False}, r.urn, r.dependencies)
        if r.type.endswith("ManagedCluster") else r for r in resources_of(registry)])
    reported: list[tuple[str, str | None]] = []
    for policy in POLICIES:
        policy.validate(StackValidationArgs(policy_resources), lambda msg, urn: reported.append((msg, urn)))
    aks_urn = registry.one("azure-native:containerservice:ManagedCluster").urn
    assert reported == [("local accounts are enabled: a static admin credential exists", aks_urn)]


def policy_resources_of(resources: list[Resource]) -> list[PolicyResource]:
    """As `pulumi preview` hands them to the pack: each with the resources its inputs depend on."""
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    converted = [PolicyResource(r.type, dict(r.props), r.urn, r.name, options, None, None, [], {}) for r in resources]
    by_urn = {p.urn: p for p in converted}
    for r, p in zip(resources, converted, strict=True):
        p.dependencies.extend(by_urn[urn] for urn in sorted(r.dependencies))
    return converted


@pytest.mark.parametrize("config", ["strict", "relaxed"])
def test_each_policy_of_the_pack_enforces_its_rule_with_its_own_settings(pulumi_mocks, config):
    """What `pulumi preview --policy-pack policy` does: each rule as a mandatory policy under the rule's name,
    reporting exactly what the rule finds, read with that policy's own settings from the config file."""
    resources = [*resources_of(pulumi_mocks.run_main("dev")), topic(2), source(3, "unordered"),
                 aks(disableLocalAccounts=False, apiServerAccessProfile={"authorizedIPRanges": []}),
                 Resource("kubernetes:helm.sh/v4:Chart", "unpinned", {"version": "~1.2"})]
    settings = RELAXED_POLICY_CONFIG if config == "relaxed" else {}
    found_by_rules = 0
    for policy in POLICIES:
        reported: list[tuple[str, str | None]] = []
        args = StackValidationArgs(policy_resources_of(resources), settings.get(policy.name, {}))
        policy.validate(args, lambda msg, urn: reported.append((msg, urn)))  # noqa: B023 - called right here
        validate_rule = RULES[policy.name][0]
        expected = [(v.message, v.resource.urn) for v in validate_rule(resources, settings.get(policy.name, {}))]
        assert reported == expected, policy.name
        assert policy.enforcement_level == EnforcementLevel.MANDATORY, policy.name
        found_by_rules += bool(expected)
    assert sorted(p.name for p in POLICIES) == sorted(RULES)
    assert found_by_rules >= (4 if config == "strict" else 3)


def test_the_policy_config_file_sets_only_settings_the_policies_declare():
    """`pulumi preview --policy-pack-config policy/dev.json` refuses a setting a policy has no schema for."""
    by_name = {p.name: p for p in POLICIES}
    assert RELAXED_POLICY_CONFIG
    for name, settings in RELAXED_POLICY_CONFIG.items():
        assert name in by_name, f"policy/dev.json configures {name}, which the pack does not have"
        schema = by_name[name].config_schema
        assert schema is not None and set(settings) <= set(schema.properties), name
        for key, value in settings.items():
            assert schema.properties[key]["type"] == "boolean" and isinstance(value, bool), (name, key)


# The guard rails the README lists, by the names `pulumi preview` reports and policy config files use.
DOCUMENTED_POLICIES = {
    "kafka-source-consumers-within-partitions", "ordered-max-scale-within-partitions", "aks-locked-down",
    "aks-api-server-restricted", "kafka-authentication-required", "upstream-versions-pinned",
    "function-pods-restricted", "function-images-pinned", "functions-cluster-local",
    "function-namespaces-restricted", "functions-network-isolated", "knative-secure-pod-defaults",
    "aks-observed-and-hardened", "warm-functions-keep-a-consumer",
}


def test_the_pack_enforces_exactly_the_documented_guard_rails_by_name():
    assert {p.name for p in POLICIES} == DOCUMENTED_POLICIES
    readme = (ROOT / "README.md").read_text()
    assert [name for name in sorted(DOCUMENTED_POLICIES) if f"`{name}`" not in readme] == []


def test_a_violation_names_the_rule_the_resource_and_what_is_wrong():
    unpinned = Resource("kubernetes:serving.knative.dev/v1:Service", "fn", {
        "metadata": {"name": "fn", "namespace": "orders"},
        "spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/contoso/fn"}]}}}})
    assert "function-images-pinned: kubernetes:serving.knative.dev/v1:Service fn: image 'ghcr.io/contoso/fn' has " \
           "neither a digest nor a version tag" in check([unpinned])
