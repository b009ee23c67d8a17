"""What a run knows of the last `pulumi up`: the settings it exports and reads back before registering
anything. The edits refused on that basis are specified scenario by scenario in test_day2.py."""
from __future__ import annotations

import pytest

from components import lifecycle
from components.config import ConfigError
from harness import ORGANIZATION, PROJECT, READ_STACK_OUTPUTS, resolve


def test_each_up_exports_the_settings_the_next_run_checks_edits_against(pulumi_mocks):
    dev = pulumi_mocks.run_main("dev")
    assert resolve(dev.exports["settings"]) == {
        "versions": {"knativeServing": "1.23.0", "knativeEventing": "1.23.0", "kourier": "1.23.0",
                     "eventingKafka": "1.23.0", "strimziChart": "1.2.0",
                     "strimziChartRepo": "oci://quay.io/strimzi-helm/strimzi-kafka-operator", "kafka": "4.3.1",
                     "kafkaMetadataVersion": "4.3-IV0",
                     "knativeReleaseUrl": "https://github.com/{repo}/releases/download/knative-v{version}/{file}"},
        "cluster": {"mode": "aks", "kubernetesVersion": "1.35",
                    "systemPool": {"name": "system", "vmSize": "Standard_D2ds_v5", "zones": []},
                    "userPool": {"name": "user", "vmSize": "Standard_D4ds_v5", "zones": []}},
        "kafka": {"authentication": "none", "dualRole": True},
        "topics": {"my-topic": {"partitions": 6, "replicas": 1}, "my-topic-dlq": {"partitions": 1, "replicas": 1}},
    }


def test_the_run_reads_its_own_stack_outputs_before_registering_anything(pulumi_mocks):
    pulumi_mocks.run_main("dev")
    assert pulumi_mocks.monitor is not None
    assert pulumi_mocks.monitor.invokes[0] == READ_STACK_OUTPUTS


def test_a_first_deploy_has_nothing_to_compare_with(pulumi_mocks):
    fewer = {"topics": [{"name": "my-topic", "partitions": 1}]}
    registry = pulumi_mocks.run_main("dev", fewer, deployed={})
    assert registry.one("kubernetes:kafka.strimzi.io/v1:KafkaTopic", "topic-my-topic").inputs["spec"]["partitions"] == 1


def test_a_live_stack_refuses_what_its_platform_refuses(pulumi_mocks):
    deployed = {"settings": resolve(pulumi_mocks.run_main("dev").exports["settings"])}
    with pytest.raises(ConfigError, match=r"^knative-kafka:topics\[0\]\.partitions: 3 is not allowed; at least 6"):
        pulumi_mocks.run_main("dev", {"topics": [{"name": "my-topic", "partitions": 3}]}, deployed=deployed)
    assert pulumi_mocks.monitor is not None and pulumi_mocks.monitor.registrations == {}


def test_when_the_outputs_cannot_be_read_the_run_goes_on_and_says_the_checks_were_skipped(monkeypatch):
    warnings: list[str] = []

    def unreadable(token, args):
        assert (token, args) == (READ_STACK_OUTPUTS, {"name": f"{ORGANIZATION}/{PROJECT}/dev"})
        raise RuntimeError("unknown stack")

    monkeypatch.setattr(lifecycle.pulumi, "get_organization", lambda: ORGANIZATION)
    monkeypatch.setattr(lifecycle.pulumi, "get_project", lambda: PROJECT)
    monkeypatch.setattr(lifecycle.pulumi, "get_stack", lambda: "dev")
    monkeypatch.setattr(lifecycle.pulumi.runtime, "invoke", unreadable)
    monkeypatch.setattr(lifecycle.pulumi.log, "warn", warnings.append)
    assert lifecycle.read_deployed() is None
    assert len(warnings) == 1 and "checks of edits to a live stack" in warnings[0] and "unknown stack" in warnings[0]


@pytest.mark.parametrize(("kafka", "allowed"), [("4.1.0", False), ("4.2.1", True)])
def test_kafka_runs_only_a_version_the_pinned_strimzi_lists(pulumi_mocks, kafka, allowed):
    versions = {"kafka": kafka, "kafkaMetadataVersion": kafka.rsplit(".", 1)[0] + "-IV0"}
    if allowed:
        pulumi_mocks.run_main("dev", {"versions": versions})
        return
    with pytest.raises(ConfigError, match=r"^knative-kafka:versions\.kafka: '4\.1\.0' is not allowed; a Kafka version "
                                          r"Strimzi 1\.2\.0 runs: 4\.2\.0, 4\.2\.1, 4\.3\.0, 4\.3\.1"):
        pulumi_mocks.run_main("dev", {"versions": versions})
