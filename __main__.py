"""knative-kafka: AKS, Knative Serving + Eventing, eventing-kafka, Strimzi Kafka and event functions."""
import gc

import pulumi

from components import capacity, config, lifecycle
from components.cluster import build_cluster
from components.event_function import EventFunctions, EventFunctionsArgs
from components.keda import Keda, KedaArgs
from components.knative_eventing import EventingKafka, EventingKafkaArgs, KnativeEventing, KnativeEventingArgs
from components.knative_serving import KnativeServing, KnativeServingArgs
from components.strimzi import KafkaCluster, KafkaClusterArgs, StrimziOperator, StrimziOperatorArgs

# Every Output the Pulumi SDK creates leaves reference cycles behind (pulumi.runtime.rpc.contains_unknowns
# defines a recursive closure per call), and with CPython's default thresholds the collector keeps
# re-scanning a heap that holds the SDKs' modules and every resource: more than half the evaluation time,
# growing faster than the resource count (benchmarks/functions.py: 21 ms per function on dev, rising with
# the count). A one-shot program: collect after a million new objects, the whole heap rarely (8 ms per
# function, flat up to 200; 13 MiB more at the peak of prod with 200 functions).
gc.set_threshold(1_000_000, 20, 100)

# The stages, each importing only the ones before it: the stack file read and validated, the edit held against what
# the stack deployed last (first: no capacity fix can make a refused edit possible), its peak held against its
# cluster; then the resources.
cfg = config.read(pulumi.get_stack())
lifecycle.check_against_deployed(cfg)
plan = capacity.enforce(cfg)

cluster = build_cluster("cluster", cfg.cluster, cfg.stack, keda_addon=cfg.runs_keda("addon"))
provider = cluster.provider
keda_chart_namespace = cfg.keda_chart_namespace
keda = Keda("keda", KedaArgs(cfg.versions, keda_chart_namespace, provider)) if keda_chart_namespace else None

serving = KnativeServing("knative-serving", KnativeServingArgs(
    versions=cfg.versions, autoscaler=cfg.autoscaler, install_hpa=cfg.uses_hpa,
    gateway_service_type=cfg.gateway_service_type, provider=provider))
eventing = KnativeEventing("knative-eventing", KnativeEventingArgs(versions=cfg.versions, provider=provider))
eventing_kafka = EventingKafka("eventing-kafka", EventingKafkaArgs(
    versions=cfg.versions, install_sink=cfg.uses_kafka_sink, provider=provider, eventing=eventing.ready,
    dispatcher=cfg.eventing_kafka, consumer_scaling=cfg.consumer_scaling, keda=keda.ready if keda else []))
strimzi = StrimziOperator("strimzi", StrimziOperatorArgs(
    versions=cfg.versions, namespace=cfg.kafka.namespace, keep_namespace=cfg.kafka.protect, provider=provider))
kafka = KafkaCluster("kafka", KafkaClusterArgs(
    client_namespaces=[f.namespace for f in cfg.functions], keda_namespace=cfg.keda_namespace,
    config=cfg.kafka, versions=cfg.versions, topics=[*cfg.topics, *cfg.dead_letter_topics],
    namespace=strimzi.namespace, provider=provider, operator=strimzi.ready))
functions = EventFunctions("functions", EventFunctionsArgs(
    functions=cfg.functions, bootstrap_servers=kafka.bootstrap_servers, kafka_image=cfg.versions.strimzi_kafka_image(),
    topics=kafka.topics, kafka_auth=kafka.auth, provider=provider,
    serving=serving.ready, kafka_source=eventing_kafka.source_ready, kafka_sink=eventing_kafka.sink_ready,
    azure=cluster.workload_identity))

pulumi.export("bootstrapServers", kafka.bootstrap_servers)
pulumi.export(lifecycle.SETTINGS_OUTPUT, lifecycle.settings_of(cfg))
pulumi.export("capacity", plan.output())
pulumi.export("functions", pulumi.Output.from_input(functions.outputs))
for key, value in cluster.outputs.items():
    pulumi.export(key, pulumi.Output.from_input(value))
