"""What a run knows of the last `pulumi up`: the settings it exports and reads back before registering
anything. The edits refused on that basis are specified scenario by scenario in test_day2.py."""
from __future__ import annotations

import pytest

from components import lifecycle
from components.config import ConfigError
from harness import ORGANIZATION, PROJECT, READ_STACK_OUTPUTS, resolve, stack_config


def test_each_up_exports_the_settings_the_next_run_checks_edits_against(pulumi_mocks):
    dev = pulumi_mocks.run_main("dev")
    assert resolve(dev.exports["settings"]) == {
        "versions": {"knativeServing": "1.23.0", "knativeEventing": "1.23.0", "kourier": "1.23.0",
                     "eventingKafka": "1.23.0", "strimziChart": "1.2.0",
                     "strimziChartRepo": "oci://quay.io/strimzi-helm/strimzi-kafka-operator", "kafka": "4.3.1",
                     "kafkaMetadataVersion": "4.3-IV0",
                     "knativeReleaseUrl": "https://github.com/{repo}/releases/download/knative-v{version}/{file}",
                     "kedaChart": "2.20.2", "kedaChartRepo": "https://kedacore.github.io/charts"},
        "cluster": {"mode": "aks", "location": "westeurope", "resourceGroup": "knative-kafka-dev",
                    "kubernetesVersion": "1.35", "upgradeChannel": "patch",
                    "systemPool": {"name": "system", "vmSize": "Standard_D4ds_v5", "zones": [],
                                   "encryptionAtHost": False},
                    "userPool": None},
        "kafka": {"name": "my-cluster", "namespace": "kafka-cluster", "authentication": "none", "dualRole": True,
                  "controllers": 1, "brokers": 1, "storage": "ephemeral"},
        "topics": {"my-topic": {"partitions": 6, "replicas": 1}, "my-topic-dlq": {"partitions": 1, "replicas": 1}},
    }


def test_the_run_reads_its_own_stack_outputs_before_registering_anything(pulumi_mocks):
    pulumi_mocks.run_main("dev")
    assert pulumi_mocks.monitor is not None
    assert pulumi_mocks.monitor.events[0] == ("invoke", READ_STACK_OUTPUTS)
    assert len(pulumi_mocks.monitor.events) > 30


def test_a_first_deploy_has_nothing_to_compare_with(pulumi_mocks):
    fewer = {"topics": [{"name": "my-topic", "partitions": 1}]}
    registry = pulumi_mocks.run_main("dev", fewer, deployed={})
    assert registry.one("kubernetes:kafka.strimzi.io/v1:KafkaTopic", "topic-my-topic").inputs["spec"]["partitions"] == 1


def test_a_live_stack_refuses_what_its_platform_refuses(pulumi_mocks):
    deployed = {"settings": resolve(pulumi_mocks.run_main("dev").exports["settings"])}
    refused = r"^knative-kafka:topics\[0\]\.partitions: 3 is not allowed; at least 6, the partitions"
    with pytest.raises(ConfigError, match=refused):
        pulumi_mocks.run_main("dev", {"topics": [{"name": "my-topic", "partitions": 3}]}, deployed=deployed)
    assert pulumi_mocks.monitor is not None and pulumi_mocks.monitor.registrations == {}


def test_when_the_outputs_cannot_be_read_the_run_goes_on_and_says_the_checks_were_skipped(monkeypatch):
    warnings: list[str] = []
    asked: list[str] = []

    def unreadable(token, args):
        assert token == READ_STACK_OUTPUTS
        asked.append(args["name"])
        raise RuntimeError("unknown stack")

    monkeypatch.setattr(lifecycle.pulumi, "get_organization", lambda: ORGANIZATION)
    monkeypatch.setattr(lifecycle.pulumi, "get_project", lambda: PROJECT)
    monkeypatch.setattr(lifecycle.pulumi, "get_stack", lambda: "dev")
    monkeypatch.setattr(lifecycle.pulumi.runtime, "invoke", unreadable)
    monkeypatch.setattr(lifecycle.pulumi.log, "warn", warnings.append)
    assert lifecycle.read_deployed() is None
    assert asked == [f"{ORGANIZATION}/{PROJECT}/dev", "dev"], "a legacy file backend knows the bare name only"
    assert len(warnings) == 1 and "checks of edits to a live stack" in warnings[0] and "unknown stack" in warnings[0]


def test_a_legacy_file_backend_is_read_by_the_bare_stack_name(monkeypatch):
    def legacy(token, args):
        if "/" in args["name"]:
            raise RuntimeError("a stack name may not contain slashes")
        return type("Result", (), {"value": {"outputs": {"settings": {"topics": {}}}}})()

    monkeypatch.setattr(lifecycle.pulumi.runtime, "invoke", legacy)
    monkeypatch.setattr(lifecycle.pulumi, "get_organization", lambda: ORGANIZATION)
    monkeypatch.setattr(lifecycle.pulumi, "get_project", lambda: PROJECT)
    monkeypatch.setattr(lifecycle.pulumi, "get_stack", lambda: "dev")
    assert lifecycle.read_deployed() == {"topics": {}}


def test_checks_of_edits_can_be_switched_off_to_recover_a_stack_whose_record_is_wrong(pulumi_mocks):
    deployed = {"settings": resolve(pulumi_mocks.run_main("dev").exports["settings"])}
    fewer = {"topics": [{"name": "my-topic", "partitions": 3}], "lifecycle": {"checkEdits": False}}
    registry = pulumi_mocks.run_main("dev", fewer, deployed=deployed)
    assert registry.one("kubernetes:kafka.strimzi.io/v1:KafkaTopic", "topic-my-topic").inputs["spec"]["partitions"] == 3
    assert READ_STACK_OUTPUTS not in pulumi_mocks.monitor.invokes  # type: ignore[union-attr]


def test_after_leaving_a_channel_that_moved_minors_any_version_may_be_chosen(pulumi_mocks):
    stable = {"cluster": {**stack_config("dev")["cluster"], "upgradeChannel": "stable"}}
    deployed = {"settings": resolve(pulumi_mocks.run_main("dev", stable).exports["settings"])}
    patch = {"cluster": {**stack_config("dev")["cluster"], "upgradeChannel": "patch", "kubernetesVersion": "1.37"}}
    registry = pulumi_mocks.run_main("dev", patch, deployed=deployed)
    assert registry.one("azure-native:containerservice:ManagedCluster").inputs["kubernetesVersion"] == "1.37"


# The Kafka versions Strimzi 1.2.0 runs: kafka-versions.yaml at its tag (../shared/UPSTREAM.md "Upgrade rules")
@pytest.mark.parametrize(("kafka", "allowed"), [("4.1.0", False), ("4.2.1", True)])
def test_kafka_runs_only_a_version_the_pinned_strimzi_lists(pulumi_mocks, kafka, allowed):
    versions = {"kafka": kafka, "kafkaMetadataVersion": kafka.rsplit(".", 1)[0] + "-IV0"}
    if allowed:
        pulumi_mocks.run_main("dev", {"versions": versions})
        return
    with pytest.raises(ConfigError, match=r"^knative-kafka:versions\.kafka: 4\.1\.0 is not allowed; a Kafka version "
                                          r"Strimzi 1\.2\.0 runs: 4\.2\.0, 4\.2\.1, 4\.3\.0, 4\.3\.1"):
        pulumi_mocks.run_main("dev", {"versions": versions})


@pytest.mark.parametrize(("edit", "refused"), [
    ({"encryptionAtHost": True}, "cluster.encryptionAtHost: true is not allowed; false as deployed"),
    ({"encryptionAtHost": True, "userPool": {"name": "user2", "vmSize": "Standard_D4ds_v5"}},
     "cluster.encryptionAtHost: true is not allowed; false as deployed"),
])
def test_encryption_at_host_is_fixed_once_the_system_pool_exists(pulumi_mocks, edit, refused):
    deployed = {"settings": resolve(pulumi_mocks.run_main("dev").exports["settings"])}
    with pytest.raises(ConfigError, match="^knative-kafka:" + refused.replace(".", r"\.")):
        pulumi_mocks.run_main("dev", {"cluster": {**stack_config("dev")["cluster"], **edit}}, deployed=deployed)


def test_a_pool_recorded_without_its_name_is_still_held_to_its_vm_size(pulumi_mocks):
    """A record without the pool's name (written by hand, or before names were recorded) is the same pool."""
    deployed = {"settings": resolve(pulumi_mocks.run_main("dev").exports["settings"])}
    del deployed["settings"]["cluster"]["systemPool"]["name"]
    cluster = stack_config("dev")["cluster"]
    with pytest.raises(ConfigError, match=r"^knative-kafka:cluster\.systemPool\.vmSize: Standard_D8ds_v5 is not "
                                          r"allowed"):
        pulumi_mocks.run_main("dev", {"cluster": {**cluster, "systemPool": {**cluster["systemPool"],
                                                                            "vmSize": "Standard_D8ds_v5"}}},
                              deployed=deployed)
