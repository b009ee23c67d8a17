"""How long a first `pulumi up` takes at best: the longest path through the dependency graph the
program registers (under mocks), next to the serial sum, under a stated model of resource durations.

usage: .venv/bin/python benchmarks/critical_path.py [STACK]

The model (seconds each resource takes to become ready once its dependencies are) comes from typical
AKS and operator start-up times, not measurements of this stack; change it here when you have real ones.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from harness import Harness, Registry  # noqa: E402

# (type, name or "" for any) -> seconds
MODEL: dict[tuple[str, str], float] = {
    ("azure-native:resources:ResourceGroup", ""): 5,
    ("azure-native:containerservice:ManagedCluster", ""): 420,
    ("azure-native:containerservice:AgentPool", ""): 240,
    # Assigning the role (10 s) plus its reaching the API server's authorizer ("a few minutes" by Azure's
    # RBAC docs; 120 s here). It is assigned on the resource group, so this runs while AKS is created,
    # and the wait itself (one kubectl round) follows the cluster.
    ("azure-native:authorization:RoleAssignment", ""): 130,
    ("command:local:Command", "cluster-wait-for-access"): 5,
    ("azure-native:operationalinsights:Workspace", ""): 30,
    ("kubernetes:core/v1:Namespace", ""): 2,
    ("kubernetes:yaml/v2:ConfigGroup", "serving-core"): 90,
    ("kubernetes:yaml/v2:ConfigGroup", "kourier"): 60,
    ("kubernetes:yaml/v2:ConfigGroup", "serving-hpa"): 30,
    ("kubernetes:yaml/v2:ConfigGroup", "eventing-core"): 90,
    ("kubernetes:yaml/v2:ConfigGroup", "eventing-kafka-controller"): 60,
    ("kubernetes:yaml/v2:ConfigGroup", "eventing-kafka-source"): 45,
    ("kubernetes:yaml/v2:ConfigGroup", "eventing-kafka-sink"): 45,
    ("kubernetes:core/v1:ConfigMapPatch", ""): 2,
    ("kubernetes:helm.sh/v4:Chart", ""): 60,
    ("kubernetes:kafka.strimzi.io/v1:KafkaNodePool", ""): 2,
    ("kubernetes:kafka.strimzi.io/v1:Kafka", ""): 300,
    ("kubernetes:kafka.strimzi.io/v1:KafkaTopic", ""): 10,
    ("kubernetes:serving.knative.dev/v1:Service", ""): 30,
    ("kubernetes:eventing.knative.dev/v1alpha1:KafkaSink", ""): 10,
    ("kubernetes:sources.knative.dev/v1:KafkaSource", ""): 20,
    ("kubernetes:kafka.strimzi.io/v1:KafkaUser", ""): 10,
    ("kubernetes:core/v1:Secret", ""): 1,
    ("tls:index/privateKey:PrivateKey", ""): 1,
    ("tls:index/selfSignedCert:SelfSignedCert", ""): 1,
    ("random:index/randomPassword:RandomPassword", ""): 1,
}


def duration(registry: Registry, urn: str) -> float:
    r = registry.registrations[urn]
    return MODEL.get((r.type, r.name), MODEL.get((r.type, ""), 0.0))


def critical_path(registry: Registry) -> tuple[float, list[str]]:
    graph = registry.waits_for()
    finish: dict[str, tuple[float, list[str]]] = {}

    def earliest_finish(urn: str) -> tuple[float, list[str]]:
        if urn not in finish:
            before = max((earliest_finish(d) for d in graph[urn]), key=lambda t: t[0], default=(0.0, []))
            finish[urn] = (before[0] + duration(registry, urn), [*before[1], urn])
        return finish[urn]

    return max((earliest_finish(u) for u in graph), key=lambda t: t[0])


def main() -> None:
    stack = sys.argv[1] if len(sys.argv) > 1 else "dev"
    stacks = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
    if len(sys.argv) > 2 or stack not in stacks:
        print(f"usage: .venv/bin/python benchmarks/critical_path.py [STACK]\n"
              f"{'' if stack in stacks else f'no stack file Pulumi.{stack}.yaml'}\nstacks: {' '.join(stacks)}",
              file=sys.stderr)
        sys.exit(2)
    registry = Harness().run_main(stack)
    total, chain = critical_path(registry)
    serial = sum(duration(registry, u) for u in registry.registrations)
    print(f"stack {stack}: {len(registry.registrations)} resources")
    print(f"critical path {total / 60:.1f} min, serial sum {serial / 60:.1f} min "
          f"({serial / total:.1f}x what the graph allows)")
    elapsed = 0.0
    for urn in chain:
        r = registry.registrations[urn]
        step = duration(registry, urn)
        elapsed += step
        if step:
            print(f"  {elapsed / 60:6.1f} min  +{step:4.0f}s  {r.type.rsplit(':', 1)[1]} {r.name}")


if __name__ == "__main__":
    main()
