"""Event functions: a Knative Service fed by a KafkaSource, with a dead-letter KafkaSink.

The KafkaSource's bootstrap servers, topic and sink are Outputs of the resources they name, so a
function cannot point at a topic or Service that the program did not create, and it is created
after them and deleted before them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pulumi_azure_native import managedidentity

from components import commands
from components.cluster import AzureWorkloadIdentity
from components.config import FIXED_CONSUMERS, LOAD_PRODUCER_SUFFIX, FunctionConfig
from components.kube import KubeObject
from components.strimzi import STRIMZI_API, WAIT_READY, KafkaAuth

SERVICE_API = "serving.knative.dev/v1"
KAFKA_SOURCE_API = "sources.knative.dev/v1"
KAFKA_SINK_API = "eventing.knative.dev/v1alpha1"
# eventing-kafka-broker control-plane/pkg/apis: sources/v1/kafka_validation.go (KafkaSource),
# eventing/v1alpha1/kafka_sink_validation.go (KafkaSink; numPartitions and replicationFactor unset here).
KAFKA_SOURCE_IMMUTABLE = ("spec.consumerGroup",)
KAFKA_SINK_IMMUTABLE = ("spec.topic", "spec.numPartitions", "spec.replicationFactor")
VISIBILITY_LABEL = "networking.knative.dev/visibility"
# Pod Security Admission: pods that do not meet the `restricted` profile are refused.
RESTRICTED_NAMESPACE = {"pod-security.kubernetes.io/enforce": "restricted"}
# Where the traffic to a function comes from: Knative's activator and autoscaler (metrics), Kourier's
# gateways, and the KafkaSource dispatcher and receivers of eventing-kafka.
DATA_PLANE_NAMESPACES = ("knative-serving", "kourier-system", "knative-eventing")
WORKLOAD_IDENTITY_LABEL = "azure.workload.identity/use"
# Namespaces Kubernetes creates itself; every other function namespace is created here.
PREEXISTING_NAMESPACES = frozenset({"default"})


def container(cfg: FunctionConfig) -> dict[str, Any]:
    """The function's container, locked down to what Pod Security's `restricted` level allows."""
    w = cfg.workload
    spec: dict[str, Any] = {
        "image": cfg.image,
        "resources": w.resources.spec(),
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
            "readOnlyRootFilesystem": w.read_only_root_filesystem,
        },
    }
    env: list[dict[str, Any]] = [{"name": name, "value": value} for name, value in w.env]
    env += [{"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
            for name, secret, key in w.secret_env]
    if env:
        spec["env"] = env
    if w.port is not None:
        spec["ports"] = [{"containerPort": w.port}]
    return spec


def ref(resource: KubeObject, api_version: str, kind: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "name": resource.field("name"),
            "namespace": resource.field("namespace")}


@dataclass
class EventFunctionArgs:
    config: FunctionConfig
    namespace: pulumi.Input[str]
    bootstrap_servers: pulumi.Input[str]
    kafka_image: str                          # for the producer command in the outputs
    topic: KubeObject
    dead_letter_topic: KubeObject | None
    kafka_auth: KafkaAuth | None              # None: the cluster's listener needs no authentication
    provider: k8s.Provider
    serving: Sequence[pulumi.Resource]        # webhook, ingress and config a Service needs
    kafka_source: Sequence[pulumi.Resource]   # controller and conversion webhook of KafkaSource
    kafka_sink: Sequence[pulumi.Resource]     # KafkaSink receiver
    azure: AzureWorkloadIdentity | None = None   # None: not an AKS cluster


class WorkloadIdentity:
    """A user-assigned managed identity that the function's service account is federated with: pods
    labelled for the workload identity webhook get its tokens, and no secret exists anywhere."""

    def __init__(self, parent: pulumi.Resource, cfg: FunctionConfig, namespace: pulumi.Input[str],
                 azure: AzureWorkloadIdentity, provider: k8s.Provider) -> None:
        child = pulumi.ResourceOptions(parent=parent)
        self.identity = managedidentity.UserAssignedIdentity(
            f"{cfg.name}-identity", resource_group_name=azure.resource_group, location=azure.location,
            resource_name_=f"id-{cfg.namespace}-{cfg.name}", opts=child)
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{cfg.name}-service-account",
            metadata={"name": cfg.name, "namespace": namespace,
                      "annotations": {"azure.workload.identity/client-id": self.identity.client_id}},
            # The pod leaves the field out (Knative refuses it as true), so the account's value applies: no
            # Kubernetes API token, while Azure's webhook still projects its own token for the identity.
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=parent, provider=provider))
        self.service_account_name = self.service_account.metadata.apply(lambda m: m["name"])
        managedidentity.FederatedIdentityCredential(
            f"{cfg.name}-federated-credential",
            resource_group_name=azure.resource_group,
            resource_name_=self.identity.name,
            federated_identity_credential_resource_name=f"{cfg.namespace}-{cfg.name}",
            issuer=azure.oidc_issuer_url,
            subject=f"system:serviceaccount:{cfg.namespace}:{cfg.name}",
            audiences=["api://AzureADTokenExchange"],
            opts=child)
        self.outputs = {"clientId": self.identity.client_id, "principalId": self.identity.principal_id}


class EventFunction(pulumi.ComponentResource):
    """One Knative Service and the KafkaSource that feeds it (+ its dead-letter KafkaSink)."""

    service: KubeObject
    source: KubeObject
    dead_letter_sink: KubeObject | None
    url: pulumi.Output[Any]

    def __init__(self, name: str, args: EventFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("knative-kafka:functions:EventFunction", name, None, opts)
        cfg = args.config

        def child(depends_on: Sequence[pulumi.Resource], immutable: Sequence[str] = ()) -> pulumi.ResourceOptions:
            """immutable: fields eventing-kafka's webhook refuses to update (UPSTREAM.md, "Immutable
            fields"); an edit replaces the object instead, deleted first since its name is fixed."""
            return pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(depends_on),
                                          replace_on_changes=list(immutable), delete_before_replace=bool(immutable))

        w = cfg.workload
        pod: dict[str, Any] = {
            "timeoutSeconds": cfg.timeout_seconds,
            "containerConcurrency": w.container_concurrency,
            "containers": [container(cfg)],
        }
        if not w.workload_identity:
            # A function calls no Kubernetes API. Knative's field mask takes this field only as false
            # (serving pkg/apis/serving/fieldmask.go, knative-v1.23.0), and workload identity needs no
            # service account token: Azure's webhook mounts its own projected token (UPSTREAM.md, audit 3).
            pod["automountServiceAccountToken"] = False
        template_labels: dict[str, Any] = {}
        self.identity: WorkloadIdentity | None = None
        if w.workload_identity:
            if args.azure is None:
                raise ValueError(f"function {cfg.name}: workload identity needs an AKS cluster")
            self.identity = WorkloadIdentity(self, cfg, args.namespace, args.azure, args.provider)
            pod["serviceAccountName"] = self.identity.service_account_name
            template_labels[WORKLOAD_IDENTITY_LABEL] = "true"
        self.service = KubeObject(
            f"{cfg.name}-service",
            SERVICE_API,
            "Service",
            metadata={"name": cfg.name, "namespace": args.namespace, "annotations": WAIT_READY,
                      # A KafkaSource delivers inside the cluster: nothing else needs to reach a function.
                      "labels": {} if w.public else {VISIBILITY_LABEL: "cluster-local"}},
            spec={"template": {
                "metadata": {"annotations": cfg.autoscaling.annotations(), "labels": template_labels},
                "spec": pod,
            }},
            opts=child(args.serving),
        )
        self.url = self.service.status.apply(lambda s: (s or {}).get("url"))
        # Cilium enforces it on AKS: only Knative's data plane reaches the function's pods.
        net = k8s.networking.v1
        self.network_policy = net.NetworkPolicy(
            f"{cfg.name}-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{cfg.name}-ingress", namespace=args.namespace),
            spec=net.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"serving.knative.dev/service": cfg.name}),
                policy_types=["Ingress"],
                ingress=[net.NetworkPolicyIngressRuleArgs(from_=[
                    net.NetworkPolicyPeerArgs(namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                        match_labels={"kubernetes.io/metadata.name": ns}))
                    for ns in DATA_PLANE_NAMESPACES])],
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider))

        delivery: dict[str, Any] = {
            "retry": cfg.delivery.retry,
            "backoffPolicy": cfg.delivery.backoff_policy,
            "backoffDelay": cfg.delivery.backoff_delay,
            "timeout": cfg.delivery.timeout,
        }
        source_auth: dict[str, Any] = {}
        sink_auth: dict[str, Any] = {}
        credentials: list[pulumi.Resource] = []
        self.kafka_user: KubeObject | None = None
        if args.kafka_auth is not None:
            self.kafka_user, secret_name = self._kafka_credentials(args, args.kafka_auth)
            credentials = [self.kafka_user]

            def key(name: str) -> dict[str, Any]:
                return {"secretKeyRef": {"name": secret_name, "key": name}}

            source_auth = {"net": {
                "sasl": {"enable": True, "user": key("user"), "password": key("password"),
                         "type": key("sasl.mechanism")},
                "tls": {"enable": True, "caCert": key("ca.crt")},
            }}
            sink_auth = {"auth": {"secret": {"ref": {"name": secret_name}}}}

        self.dead_letter_sink = None
        if args.dead_letter_topic is not None:
            # Events that exhaust their retries land in Kafka instead of being dropped.
            self.dead_letter_sink = KubeObject(
                f"{cfg.name}-dead-letter",
                KAFKA_SINK_API,
                "KafkaSink",
                metadata={"name": f"{cfg.name}-dead-letter", "namespace": args.namespace,
                          "annotations": WAIT_READY},
                spec={"topic": args.dead_letter_topic.field("name"),
                      "bootstrapServers": [args.bootstrap_servers], **sink_auth},
                opts=child([*args.kafka_sink, args.dead_letter_topic, *credentials], KAFKA_SINK_IMMUTABLE),
            )
            delivery["deadLetterSink"] = {"ref": ref(self.dead_letter_sink, KAFKA_SINK_API, "KafkaSink")}

        # With consumerScaling, KEDA sets the consumers between the annotations' bounds and eventing-kafka ignores
        # spec.consumers, which applies again if scaling is switched off (reconciler/source/source.go).
        scaling = cfg.consumer_scaling.annotations() if cfg.consumer_scaling else FIXED_CONSUMERS
        self.source = KubeObject(
            f"{cfg.name}-source",
            KAFKA_SOURCE_API,
            "KafkaSource",
            metadata={"name": cfg.name, "namespace": args.namespace, "annotations": {**WAIT_READY, **scaling}},
            spec={
                "bootstrapServers": [args.bootstrap_servers],
                "topics": [args.topic.field("name")],
                "consumerGroup": cfg.consumer_group,
                "consumers": cfg.consumers,
                "initialOffset": cfg.initial_offset,
                "ordering": cfg.ordering,
                "delivery": delivery,
                "sink": {"ref": ref(self.service, SERVICE_API, "Service")},
                **source_auth,
            },
            opts=child([*args.kafka_source, args.topic, *credentials], KAFKA_SOURCE_IMMUTABLE),
        )
        service_name, namespace = self.service.field("name"), self.service.field("namespace")
        producer = pulumi.Output.all(namespace, args.bootstrap_servers, args.topic.field("name"))
        # The load command: on an authenticated Kafka only with a producer identity the stack asks for.
        self.load_producer: KubeObject | None = None
        load: pulumi.Output[str] | None = None
        if args.kafka_auth is None:
            load = producer.apply(lambda v: commands.load(v[0], args.kafka_image, v[1], v[2]))
        elif cfg.load_producer:
            self.load_producer, producer_secret = self._load_producer(args, args.kafka_auth)
            load = pulumi.Output.all(producer, producer_secret).apply(
                lambda v: commands.load(v[0][0], args.kafka_image, v[0][1], v[0][2], producer_secret=v[1]))
        self.outputs: dict[str, Any] = {
            "url": self.url,
            "kafkaSource": self.source.field("name"),
            "consumerGroup": cfg.consumer_group,
            "deadLetterTopic": cfg.dead_letter_topic,
            "identity": self.identity.outputs if self.identity else None,
            "commands": {
                # With authentication on, the function's own KafkaUser may only read its topic.
                "produce": None if args.kafka_auth else producer.apply(
                    lambda v: commands.produce(v[0], args.kafka_image, v[1], v[2])),
                "load": load,
                "logs": pulumi.Output.all(namespace, service_name).apply(lambda v: commands.follow_logs(*v)),
                "watchScale": pulumi.Output.all(namespace, service_name).apply(lambda v: commands.watch_scale(*v)),
            },
        }
        self.register_outputs(self.outputs)

    def _scram_user(self, args: EventFunctionArgs, auth: KafkaAuth, prefix: str, user_name: str,
                    password_secret_name: str, acls: list[dict[str, Any]]) -> tuple[KubeObject, pulumi.Output[str]]:
        """A SCRAM KafkaUser allowed `acls` and nothing else, with a password Pulumi chooses (stored in
        state, stable across runs) so it can also be written next to the clients; Strimzi's own would
        exist only in Kafka's namespace."""
        password = random.RandomPassword(f"{prefix}-password", length=32, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))
        password_secret = k8s.core.v1.Secret(
            f"{prefix}-password",
            metadata={"name": password_secret_name, "namespace": auth.namespace},
            string_data={"password": password.result},
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        user = KubeObject(
            f"{prefix}-user",
            STRIMZI_API,
            "KafkaUser",
            metadata={"name": user_name, "namespace": auth.namespace,
                      "labels": {"strimzi.io/cluster": auth.cluster_name}, "annotations": WAIT_READY},
            spec={
                "authentication": {"type": "scram-sha-512", "password": {"valueFrom": {"secretKeyRef": {
                    "name": password_secret.metadata.apply(lambda m: m["name"]), "key": "password"}}}},
                "authorization": {"type": "simple", "acls": acls},
            },
            # The user operator runs in the Kafka's entity operator.
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[auth.kafka]),
        )
        return user, password.result

    def _client_secret(self, args: EventFunctionArgs, name: str,
                       data: dict[str, pulumi.Input[str]]) -> pulumi.Output[str]:
        secret = k8s.core.v1.Secret(name, metadata={"name": name, "namespace": args.namespace}, string_data=data,
                                    opts=pulumi.ResourceOptions(parent=self, provider=args.provider))
        return secret.metadata.apply(lambda m: m["name"])

    def _kafka_credentials(self, args: EventFunctionArgs, auth: KafkaAuth) -> tuple[KubeObject, pulumi.Output[str]]:
        """A KafkaUser allowed exactly what this function does, and its credentials as a Secret in
        the function's namespace (the KafkaSource and KafkaSink read secrets from their own)."""
        cfg = args.config
        # Delete on the group: deleting the KafkaSource makes the controller delete its consumer
        # group, and its finalizer waits for that.
        acls = [allow("topic", args.topic.field("name"), "Describe", "Read"),
                allow("group", cfg.consumer_group, "Read", "Delete")]
        if args.dead_letter_topic is not None:
            acls.append(allow("topic", args.dead_letter_topic.field("name"), "Describe", "Write"))
        user, password = self._scram_user(args, auth, f"{cfg.name}-kafka", cfg.name, f"{cfg.name}-kafka-password",
                                          acls)
        # Key names are the ones eventing-kafka reads (KafkaSink auth secret, SASL over TLS). With consumerScaling
        # the kafka-controller also parses the whole Secret the KafkaSource's net.sasl.type names as a client
        # config (`protocol` required, then `sasl.mechanism`, `user`, `password`, `ca.crt`) to build KEDA's
        # TriggerAuthentication: SASL type scram_sha512 and TLS from that, username, password and CA by reference
        # to these keys (eventing-kafka-broker knative-v1.23.0 control-plane/pkg/autoscaler/keda/keda.go
        # GenerateTriggerAuthentication, control-plane/pkg/security/secret.go). KEDA reads the lag with this
        # user: offsets of its group and topic need Describe, which Read implies in Kafka's ACLs.
        return user, self._client_secret(args, f"{cfg.name}-kafka-auth", {
            "protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "user": user.field("name"),
            "password": password, "ca.crt": auth.ca_certificate})

    def _load_producer(self, args: EventFunctionArgs, auth: KafkaAuth) -> tuple[KubeObject, pulumi.Output[str]]:
        """A KafkaUser that may write the function's topic and nothing else (functions[].loadProducer), for
        commands.load, and its client settings as a Secret in the function's namespace, which the load
        pod mounts. Kept apart from the function's own user, which may only read the topic."""
        cfg = args.config
        # Idempotent producers (Kafka's default) need no cluster ACL since Kafka 3.0 (KIP-679).
        user_name = f"{cfg.name}{LOAD_PRODUCER_SUFFIX}"
        user, password = self._scram_user(args, auth, f"{cfg.name}-producer", user_name, f"{user_name}-password",
                                          [allow("topic", args.topic.field("name"), "Describe", "Write")])
        return user, self._client_secret(args, f"{cfg.name}-kafka-producer", {
            "user": user.field("name"), "password": password, commands.PRODUCER_CA: auth.ca_certificate,
            commands.PRODUCER_PROPERTIES: pulumi.Output.all(user.field("name"), password).apply(
                lambda v: commands.producer_properties(v[0], v[1]))})


def allow(kind: str, name: pulumi.Input[str], *operations: str) -> dict[str, Any]:
    """One ACL: `operations` on the resource of that kind and exact name."""
    return {"resource": {"type": kind, "name": name, "patternType": "literal"}, "operations": list(operations)}


@dataclass
class EventFunctionsArgs:
    functions: Sequence[FunctionConfig]
    bootstrap_servers: pulumi.Input[str]
    kafka_image: str
    topics: dict[str, KubeObject]
    kafka_auth: KafkaAuth | None
    provider: k8s.Provider
    serving: Sequence[pulumi.Resource]
    kafka_source: Sequence[pulumi.Resource]
    kafka_sink: Sequence[pulumi.Resource]
    azure: AzureWorkloadIdentity | None = None


class EventFunctions(pulumi.ComponentResource):
    """Every configured function, and the namespaces they live in (each created once)."""

    functions: dict[str, EventFunction]

    def __init__(self, name: str, args: EventFunctionsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("knative-kafka:functions:EventFunctions", name, None, opts)
        namespaces: dict[str, pulumi.Input[str]] = {ns: ns for ns in PREEXISTING_NAMESPACES}
        for ns in sorted({f.namespace for f in args.functions} - PREEXISTING_NAMESPACES):
            created = k8s.core.v1.Namespace(f"ns-{ns}", metadata={"name": ns, "labels": RESTRICTED_NAMESPACE},
                                            opts=pulumi.ResourceOptions(parent=self, provider=args.provider))
            namespaces[ns] = created.metadata.apply(lambda m: m["name"])
        self.functions = {
            f.name: EventFunction(f.name, EventFunctionArgs(
                config=f,
                namespace=namespaces[f.namespace],
                bootstrap_servers=args.bootstrap_servers,
                kafka_image=args.kafka_image,
                topic=args.topics[f.topic.name],
                dead_letter_topic=args.topics[f.dead_letter_topic] if f.dead_letter_topic else None,
                kafka_auth=args.kafka_auth,
                provider=args.provider,
                serving=args.serving,
                kafka_source=args.kafka_source,
                kafka_sink=args.kafka_sink,
                azure=args.azure,
            ), pulumi.ResourceOptions(parent=self))
            for f in args.functions
        }
        self.outputs = {name: f.outputs for name, f in self.functions.items()}
        self.register_outputs({"functions": self.outputs})
