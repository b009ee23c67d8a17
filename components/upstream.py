"""Every upstream version and download location, in one place.

Each field is a per-stack setting (config key ``knative-kafka:versions``, camelCase names) whose
default is the release this project was last tested against (see ../shared/UPSTREAM.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

KNATIVE_RELEASE_URL = "https://github.com/{repo}/releases/download/knative-v{version}/{file}"


@dataclass(frozen=True)
class Upstream:
    knative_serving: str = "1.23.0"
    knative_eventing: str = "1.23.0"
    kourier: str = "1.23.0"
    eventing_kafka: str = "1.23.0"
    strimzi_chart: str = "1.2.0"
    strimzi_chart_repo: str = "oci://quay.io/strimzi-helm/strimzi-kafka-operator"
    kafka: str = "4.3.1"
    kafka_metadata_version: str = "4.3-IV0"
    knative_release_url: str = KNATIVE_RELEASE_URL
    # KEDA, installed from its chart only on an existing cluster with consumerScaling.keda 'helm' (AKS has
    # it as an add-on): kedacore/charts keda/Chart.yaml 2.20.2 (Aug 2026), appVersion 2.20.2.
    keda_chart: str = "2.20.2"
    keda_chart_repo: str = "https://kedacore.github.io/charts"

    def _knative(self, repo: str, version: str, file: str) -> str:
        return self.knative_release_url.format(repo=repo, version=version, file=file)

    def serving(self, file: str) -> str:
        return self._knative("knative/serving", self.knative_serving, file)

    def kourier_manifest(self) -> str:
        return self._knative("knative-extensions/net-kourier", self.kourier, "kourier.yaml")

    def eventing(self, file: str) -> str:
        return self._knative("knative/eventing", self.knative_eventing, file)

    def eventing_kafka_manifest(self, file: str) -> str:
        return self._knative("knative-extensions/eventing-kafka-broker", self.eventing_kafka, file)

    def strimzi_kafka_image(self) -> str:
        """The Kafka image of the pinned operator, for the producer command in the outputs."""
        return f"quay.io/strimzi/kafka:{self.strimzi_chart}-kafka-{self.kafka}"


# Kafka versions each Strimzi release runs (kafka-versions.yaml at the release's tag). Another
# Strimzi version is accepted without this check; add its row when pinning it.
STRIMZI_KAFKA_VERSIONS: dict[str, tuple[str, ...]] = {
    "1.2.0": ("4.2.0", "4.2.1", "4.3.0", "4.3.1"),
}



class VersionField(NamedTuple):
    attr: str                            # of Upstream
    doc: str                             # what the README's configuration reference says of it


# Config field name -> what it sets: the one table the config parser, the JSON Schema and README share.
CONFIG_FIELDS = {
    "knativeServing": VersionField("knative_serving", "`serving-core.yaml` (+ `serving-hpa.yaml`) release"),
    "knativeEventing": VersionField("knative_eventing", "`eventing-core.yaml` release"),
    "kourier": VersionField("kourier", "net-kourier `kourier.yaml` release"),
    "eventingKafka": VersionField("eventing_kafka", "eventing-kafka-broker "
                                                    "`eventing-kafka-controller/source/sink.yaml` release"),
    "strimziChart": VersionField("strimzi_chart", "Strimzi operator Helm chart version"),
    "strimziChartRepo": VersionField("strimzi_chart_repo", "where the chart comes from"),
    "kafka": VersionField("kafka", "Kafka version the Strimzi cluster runs; one the pinned Strimzi lists (1.2.0: "
                                   "4.2.0, 4.2.1, 4.3.0, 4.3.1)"),
    "kafkaMetadataVersion": VersionField("kafka_metadata_version", "KRaft metadata version; must belong to `kafka`'s "
                                                                   "minor version; never lowered on a live stack"),
    "knativeReleaseUrl": VersionField("knative_release_url", "template for Knative release files (a mirror, say), with "
                                                             "`{repo}`, `{version}` and `{file}`"),
    "kedaChart": VersionField("keda_chart", "KEDA Helm chart version, installed only with `consumerScaling.keda: helm` "
                                            "(an existing cluster)"),
    "kedaChartRepo": VersionField("keda_chart_repo", "where that chart comes from"),
}
