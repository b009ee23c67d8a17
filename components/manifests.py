"""Installing a pinned upstream release manifest: shared by the Knative components."""
from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"


def strip_aggregated_rules(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Drop `rules: []` from ClusterRoles that have an aggregationRule.

    Knative ships aggregated ClusterRoles with empty rules; under server-side apply Pulumi then owns
    `rules` and fights the aggregation controller that fills it in (knative/operator #2283).
    """
    if args.type_ != CLUSTER_ROLE or "aggregationRule" not in args.props:
        return None
    props = {k: v for k, v in args.props.items() if k != "rules"}
    return pulumi.ResourceTransformResult(props, args.opts)


def release_manifest(name: str, urls: Sequence[str], parent: pulumi.Resource, provider: k8s.Provider,
                     depends_on: Sequence[pulumi.Resource] = (),
                     transforms: Sequence[pulumi.ResourceTransform] = ()) -> k8s.yaml.v2.ConfigGroup:
    """One ConfigGroup for release files; it awaits their Deployments, so depending on it means
    'the controllers and webhooks of this release are running'."""
    return k8s.yaml.v2.ConfigGroup(
        name,
        files=list(urls),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on),
                                    transforms=[strip_aggregated_rules, *transforms]),
    )
