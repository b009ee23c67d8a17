"""Knative Eventing core and the eventing-kafka KafkaSource (and, when used, KafkaSink) planes."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.capacity import DispatcherSettings, controller_transforms, source_transforms
from components.manifests import release_manifest
from components.upstream import Upstream


@dataclass
class KnativeEventingArgs:
    versions: Upstream
    provider: k8s.Provider


class KnativeEventing(pulumi.ComponentResource):
    """eventing-core: CRDs, controller, webhook and the knative-eventing namespace."""

    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: KnativeEventingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("knative-kafka:eventing:KnativeEventing", name, None, opts)
        self.core = release_manifest("eventing-core", [args.versions.eventing("eventing-core.yaml")], self,
                                     args.provider)
        self.ready = [self.core]
        self.register_outputs({})


@dataclass
class EventingKafkaArgs:
    versions: Upstream
    install_sink: bool
    provider: k8s.Provider
    eventing: Sequence[pulumi.Resource]
    # eventingKafka: POD_CAPACITY on the kafka-controller and the dispatchers' memory; None: as released.
    # The dispatcher StatefulSet's replicas are never set: the kafka-controller's autoscaler owns them.
    dispatcher: DispatcherSettings | None = None


class EventingKafka(pulumi.ComponentResource):
    """eventing-kafka-controller (CRDs, controller, conversion webhook), the source data plane and,
    when a function dead-letters into Kafka, the KafkaSink receiver."""

    source_ready: list[pulumi.Resource]
    sink_ready: list[pulumi.Resource]

    def __init__(self, name: str, args: EventingKafkaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("knative-kafka:eventing:EventingKafka", name, None, opts)
        v, p = args.versions, args.provider
        # The controller file has no Namespace and reads eventing-core's ConfigMaps (UPSTREAM.md).
        self.controller = release_manifest(
            "eventing-kafka-controller", [v.eventing_kafka_manifest("eventing-kafka-controller.yaml")], self, p,
            args.eventing, controller_transforms(args.dispatcher))
        self.source = release_manifest(
            "eventing-kafka-source", [v.eventing_kafka_manifest("eventing-kafka-source.yaml")], self, p,
            [self.controller], source_transforms(args.dispatcher))
        self.source_ready = [self.controller, self.source]
        self.sink: k8s.yaml.v2.ConfigGroup | None = None
        self.sink_ready = []
        if args.install_sink:
            self.sink = release_manifest(
                "eventing-kafka-sink", [v.eventing_kafka_manifest("eventing-kafka-sink.yaml")], self, p,
                [self.controller])
            self.sink_ready = [self.controller, self.sink]
        self.register_outputs({})
