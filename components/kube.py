"""Custom Kubernetes objects as Pulumi resources, with their status as an Output."""
from __future__ import annotations

from typing import Any

import pulumi


class KubeObject(pulumi.CustomResource):
    """A custom resource handled by the Kubernetes provider (type `kubernetes:<apiVersion>:<kind>`).

    pulumi_kubernetes' own CustomResource exposes only apiVersion, kind, metadata and spec; the
    provider returns `status` as well, and a Knative Service's URL lives there.
    """

    metadata: pulumi.Output[Any]
    spec: pulumi.Output[Any]
    status: pulumi.Output[Any]

    def __init__(self, name: str, api_version: str, kind: str, metadata: pulumi.Input[Any],
                 spec: pulumi.Input[Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"kubernetes:{api_version}:{kind}", name, {
            "apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec, "status": None,
        }, opts)

    def field(self, name: str) -> pulumi.Output[str]:
        """metadata.<name> as registered, so whoever uses it depends on this object."""
        return self.metadata.apply(lambda m: m[name])
