"""KEDA from its pinned Helm chart, for lag-driven KafkaSource consumers on a cluster that lacks it.

AKS stacks get KEDA as the cluster's add-on (components/cluster.py); an existing cluster either runs it
already (consumerScaling.keda 'present') or gets it here ('helm').
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.upstream import Upstream


@dataclass
class KedaArgs:
    versions: Upstream
    namespace: str
    provider: k8s.Provider


class Keda(pulumi.ComponentResource):
    """KEDA's operator, metrics server and admission webhooks (chart `keda`) in a namespace of their own."""

    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: KedaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("knative-kafka:keda:Keda", name, None, opts)
        self.ns = k8s.core.v1.Namespace(args.namespace, metadata={"name": args.namespace},
                                        opts=pulumi.ResourceOptions(parent=self, provider=args.provider))
        # helm.v4.Chart renders in Pulumi and awaits the Deployments, so what depends on it finds KEDA's API
        # served (UPSTREAM.md, pulumi-kubernetes 4.x).
        self.chart = k8s.helm.v4.Chart(
            "keda",
            chart="keda",
            version=args.versions.keda_chart,
            repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=args.versions.keda_chart_repo),
            namespace=self.ns.metadata.apply(lambda m: m["name"]),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        self.ready = [self.chart]
        self.register_outputs({})
