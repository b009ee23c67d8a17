"""Knative Eventing core and the eventing-kafka KafkaSource (and, when used, KafkaSink) planes."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.capacity import DispatcherSettings, controller_transforms, source_transforms
from components.config import ConsumerScalingConfig
from components.knative_serving import config_map_patch
from components.manifests import release_manifest
from components.upstream import Upstream

NAMESPACE = "knative-eventing"


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
    # Lag-driven consumers: the feature flag and the defaults in the kafka-controller's ConfigMaps, after KEDA
    # (`keda`: what installs it here, if anything). None: both ConfigMaps as released (the feature disabled).
    consumer_scaling: ConsumerScalingConfig | None = None
    keda: Sequence[pulumi.Resource] = ()


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
        if args.consumer_scaling is not None:
            # Both ship in eventing-kafka-controller.yaml (control-plane/config/eventing-kafka-broker/
            # 200-controller/100-config-kafka-features.yaml, 100-config-kafka-autoscaler.yaml); the controller reads
            # the second by its AUTOSCALER_CONFIG env (500-controller.yaml). A KafkaSource reconciled while
            # KEDA's API is missing is left unscaled (autoscaler/keda/keda.go IsEnabled), hence after KEDA.
            after = [self.controller, *args.keda]
            self.features = config_map_patch("config-kafka-features", args.consumer_scaling.kafka_features(), self, p,
                                             after, NAMESPACE)
            self.autoscaler = config_map_patch("config-kafka-autoscaler", args.consumer_scaling.autoscaler_data(),
                                               self, p, after, NAMESPACE)
            self.source_ready += [self.features, self.autoscaler, *args.keda]
        self.sink: k8s.yaml.v2.ConfigGroup | None = None
        self.sink_ready = []
        if args.install_sink:
            self.sink = release_manifest(
                "eventing-kafka-sink", [v.eventing_kafka_manifest("eventing-kafka-sink.yaml")], self, p,
                [self.controller])
            self.sink_ready = [self.controller, self.sink]
        self.register_outputs({})
