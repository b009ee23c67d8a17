"""Knative Serving with Kourier as its ingress, and the cluster-wide autoscaler settings."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import AutoscalerConfig
from components.manifests import release_manifest
from components.upstream import Upstream

NAMESPACE = "knative-serving"
KOURIER_INGRESS_CLASS = "kourier.ingress.networking.knative.dev"
SERVICE = "kubernetes:core/v1:Service"
# Kourier's gateway: the one Service of kourier.yaml of type LoadBalancer (UPSTREAM.md).
GATEWAY = ("kourier-system", "kourier")


def gateway_service_type(service_type: str) -> pulumi.ResourceTransform:
    """Give Kourier's gateway Service `service_type`, not awaited: pulumi-kubernetes would wait for a
    LoadBalancer's address, which a cluster without a load balancer (kind) never gives, and nothing in
    the program needs the address (KafkaSources deliver inside the cluster)."""

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        props: dict[str, Any] = dict(args.props)
        metadata = props.get("metadata") or {}
        if args.type_ != SERVICE or (metadata.get("namespace"), metadata.get("name")) != GATEWAY:
            return None
        spec = {**(props.get("spec") or {}), "type": service_type}
        annotations = {**(metadata.get("annotations") or {}), "pulumi.com/skipAwait": "true"}
        return pulumi.ResourceTransformResult(
            {**props, "metadata": {**metadata, "annotations": annotations}, "spec": spec}, args.opts)

    return transform


def config_map_patch(name: str, data: dict[str, str], parent: pulumi.Resource, provider: k8s.Provider,
                     depends_on: Sequence[pulumi.Resource], namespace: str = NAMESPACE) -> k8s.core.v1.ConfigMapPatch:
    """Patch one of Knative's own ConfigMaps (re-declaring it fails with AlreadyExists).

    patchForce: the install group applied the `_example` key under Pulumi's field manager too.
    """
    return k8s.core.v1.ConfigMapPatch(
        name,
        metadata={"name": name, "namespace": namespace, "annotations": {"pulumi.com/patchForce": "true"}},
        data=data,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on)),
    )


@dataclass
class KnativeServingArgs:
    versions: Upstream
    autoscaler: AutoscalerConfig
    install_hpa: bool
    gateway_service_type: str
    provider: k8s.Provider


class KnativeServing(pulumi.ComponentResource):
    """serving-core (CRDs included), Kourier, `config-network` selecting Kourier, optional HPA class."""

    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: KnativeServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("knative-kafka:serving:KnativeServing", name, None, opts)
        v, p = args.versions, args.provider
        # serving-core, not also serving-crds: core already contains the CRDs (UPSTREAM.md).
        self.core = release_manifest("serving-core", [v.serving("serving-core.yaml")], self, p)
        # Kourier's controller lives in knative-serving and its webhooks are Serving's.
        self.kourier = release_manifest("kourier", [v.kourier_manifest()], self, p, [self.core],
                                        [gateway_service_type(args.gateway_service_type)])
        # Each patch goes through Serving's config webhook, which fails closed until it runs.
        self.network = config_map_patch("config-network", {"ingress-class": KOURIER_INGRESS_CLASS}, self, p,
                                        [self.core])
        self.autoscaler = config_map_patch("config-autoscaler", args.autoscaler.data(), self, p, [self.core])
        # Knative 1.23 leaves it disabled: with it, every revision's containers (queue-proxy too) get a
        # restricted securityContext where the Service leaves one out (UPSTREAM.md, "Exposure").
        self.features = config_map_patch("config-features", {"secure-pod-defaults": "enabled"}, self, p, [self.core])
        self.ready = [self.core, self.kourier, self.network, self.autoscaler, self.features]
        self.hpa: k8s.yaml.v2.ConfigGroup | None = None
        if args.install_hpa:
            self.hpa = release_manifest("serving-hpa", [v.serving("serving-hpa.yaml")], self, p, [self.core])
            self.ready.append(self.hpa)
        self.register_outputs({})
