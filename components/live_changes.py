"""What an edit of each setting does to a live stack: one row per configuration key the parser reads.

A row says what the next `pulumi up` does when the key changes on a deployed stack: an update in place,
a planned replacement (new first, or deleted first), an edit the platform refuses (AKS, the webhooks,
Strimzi) and the program therefore refuses at preview, a manual migration refused at preview with the
procedure named, or an edit the program keeps out on purpose (`ignore_changes`). The preview refusals
of the rows with `fixed` run in components/lifecycle.py against the stack's `settings` output; the
others there are rules of their own (versions, node pools, topics), named by `refused_as`.

tests/test_live_changes.py holds the table to the parser (a key read without a row, or a row naming a
key it does not read, fails) and runs each row's example edit through the day-2 layer (tests/day2.py),
on a first deploy of `stack` plus `base`; README "Day 2" is rendered from it (`markdown`).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import product
from typing import Any

IN_PLACE = "in place"
REPLACED = "replaced"
REFUSED = "refused"      # the platform refuses it, so the program refuses it at preview
MANUAL = "manual"        # no edit does it: refused at preview, with the procedure that does
KEPT = "kept"            # ignore_changes keeps the deployed value, on purpose


def decreased(deployed: Any, now: Any) -> bool:
    return bool(now < deployed)


QUANTITY_MEBIBYTES = {"Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}


def mebibytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi|Ti)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * QUANTITY_MEBIBYTES[unit]


def shrunk(deployed: Any, now: Any) -> bool:
    return mebibytes(now) < mebibytes(deployed)


@dataclass(frozen=True)
class Fixed:
    """The program refuses at preview a change of the value the stack deployed (`settings` at `setting`);
    with `refused_when`, only a change it holds true for (deployed, now)."""
    setting: str
    refused_when: Callable[[Any, Any], bool] | None = None


@dataclass(frozen=True)
class LiveChange:
    # The config path: [] for any list index, <name> for a name the user chose, {a,b} for each of a and b.
    key: str
    effect: str
    what: str                    # what the edit does; for a refused edit, why, and what to do instead
    source: str                  # where upstream says so
    example: Mapping[str, Any]   # an edit that shows it: config path -> value
    stack: str = "dev"           # the stack file the example edits...
    base: Mapping[str, Any] = field(default_factory=dict)   # ...deployed with these settings over it
    # The example's replaced resources ('<Kind>/<name>') -> deleted first.
    replaces: Mapping[str, bool] = field(default_factory=dict)
    # What the platform refuses (or ignore_changes drops) of the example had the program let it through,
    # as far as the day-2 rules see it.
    refused_by_platform: tuple[str, ...] = ()
    refused_as: str = ""         # the key a refusal names, where another key's rule refuses the edit
    fixed: Fixed | None = None
    modelled: bool = True        # the example changes a resource the program registers

    @property
    def keys(self) -> tuple[str, ...]:
        return expand(self.key)


def expand(key: str) -> tuple[str, ...]:
    """Every config path a row's key covers: 'a.{b,c}' -> ('a.b', 'a.c')."""
    parts = re.split(r"\{([^}]*)\}", key)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return tuple("".join(c) for c in product(*choices))


AKS_UPDATE = "AKS: `az aks update` changes it on a running cluster"
NEW_STACK = "deploy a new stack with the new value and move the data to it (MirrorMaker 2), then destroy this one"
REVISION = "Knative Serving: a changed revision template makes a new revision, traffic moves when it is ready"
KAFKA_SOURCE_SPEC = "eventing-kafka-broker `kafka_validation.go` CheckImmutableFields: only `consumerGroup` is " \
                    "immutable"
STRIMZI_STORAGE = "Strimzi `cluster-operator/.../model/StorageDiff.java`: only a larger size or `deleteClaim` may " \
                  "change; any other storage change is not applied"
PRINCIPAL = "3f1d2c4b-5a6e-4f70-8192-a3b4c5d6e7f8"
SCALING_ON = {"consumerScaling.enabled": True}
CONSUMER_GROUP_KEDA = "eventing-kafka-broker `control-plane/pkg/reconciler/consumergroup/consumergroup.go`: the " \
                      "kafka-controller updates the group's ScaledObject, or deletes it when the source opts out"
STRIMZI_ROLL = "Strimzi `KafkaBrokerConfigurationDiff.cannotBeUpdatedDynamically`: a changed read-only broker option " \
               "(offsets.retention.minutes is one, Kafka's broker configs) rolls the brokers"
# Why KEDA's chart stays while KEDA scales a function; components/lifecycle.py check_keda_chart words it so too.
KEDA_CHART_KEPT = "KEDA's chart would go, its CRDs with it while ScaledObjects hold KEDA's finalizer, and its " \
                  "operator in the same run: the update can hang and objects be orphaned. First set every " \
                  "function's consumerScaling.class 'disabled' and `pulumi up` (kafka-controller deletes their " \
                  "ScaledObjects), then make this edit"

ROWS: tuple[LiveChange, ...] = (
    # --- versions -----------------------------------------------------------------------------------
    LiveChange("versions.{knativeServing,knativeEventing,kourier,eventingKafka}", REFUSED,
               "one minor up, or down by one: that release's manifests updated; two minors or more: refused, step "
               "through each minor with a `pulumi up`", "knative.dev \"Upgrading Knative\" (one minor at a time)",
               {"versions.knativeServing": "1.25.0"}, refused_by_platform=("ConfigGroup/serving-core",)),
    LiveChange("versions.strimziChart", IN_PLACE, "the operator's chart (and its CRDs) updated; upgrade it before "
               "`versions.kafka`", "Strimzi docs \"Upgrading Strimzi\"", {"versions.strimziChart": "1.2.1"}),
    LiveChange("versions.strimziChartRepo", IN_PLACE, "the same chart from another repository",
               "Pulumi helm.v4.Chart: `chart` is an input like any other", {
                   "versions.strimziChartRepo": "oci://registry.example.com/strimzi-helm/strimzi-kafka-operator"}),
    LiveChange("versions.kafka", IN_PLACE, "Strimzi rolls the brokers to the new version (one the pinned Strimzi "
               "runs)", "Strimzi docs \"Upgrading Kafka\"", {"versions.kafka": "4.3.0"}),
    LiveChange("versions.kafkaMetadataVersion", REFUSED, "raised: Kafka moves to it after the brokers roll; lowered: "
               "refused, Kafka cannot lower a KRaft metadata version", "Strimzi docs \"Upgrading Kafka\"; Kafka "
               "KIP-778", {"versions.kafka": "4.2.1", "versions.kafkaMetadataVersion": "4.2-IV1"},
               refused_by_platform=("Kafka/my-cluster",)),
    LiveChange("versions.knativeReleaseUrl", IN_PLACE, "the same releases from another location (a mirror)",
               "pulumi-kubernetes yaml.v2.ConfigGroup: fetched at every preview and update",
               {"versions.knativeReleaseUrl": "https://mirror.example.com/{repo}/knative-v{version}/{file}"}),
    LiveChange("versions.{kedaChart,kedaChartRepo}", IN_PLACE, "KEDA's chart (and its CRDs) updated, where this "
               "program installs it (consumerScaling.keda 'helm'); the AKS add-on's version is AKS's",
               "KEDA docs \"Upgrading KEDA\"; Pulumi helm.v4.Chart", {"versions.kedaChart": "2.20.3"}, stack="local",
               base=SCALING_ON),

    # --- cluster ------------------------------------------------------------------------------------
    LiveChange("cluster.mode", MANUAL, "every object would move to another cluster, and the AKS cluster (or the "
               "other cluster's objects) be deleted with Kafka's data; " + NEW_STACK,
               "pulumi-kubernetes: objects moved to another provider are replaced",
               {"cluster.mode": "existing", "cluster.kubeconfig": "~/.kube/config"}, fixed=Fixed("cluster.mode")),
    LiveChange("cluster.location", MANUAL, "AKS cannot move a cluster to another region: a new resource group and "
               "cluster would replace these, and everything in them be deleted; " + NEW_STACK,
               "Azure docs \"Move operation support for resources\" (managedClusters: no move)",
               {"cluster.location": "northeurope"}, fixed=Fixed("cluster.location")),
    LiveChange("cluster.resourceGroup", MANUAL, "AKS cannot move a cluster to another resource group: a new cluster "
               "would be created there and this one deleted with everything in it; " + NEW_STACK,
               "Azure docs \"Move operation support for resources\" (managedClusters: no move)",
               {"cluster.resourceGroup": "knative-kafka-dev-2"}, fixed=Fixed("cluster.resourceGroup")),
    LiveChange("cluster.kubernetesVersion", REFUSED, "one minor up: the control plane, then both pools; down, two "
               "minors up, or any change under upgradeChannel 'stable'/'rapid' (the channel owns the version): "
               "refused", "AKS docs \"Upgrade an AKS cluster\", \"Supported Kubernetes versions\"",
               {"cluster.kubernetesVersion": "1.37"}, refused_by_platform=("ManagedCluster/cluster",)),
    LiveChange("cluster.skuTier", IN_PLACE, "the control plane's tier changes", AKS_UPDATE + " (`--tier`)",
               {"cluster.skuTier": "Standard"}),
    LiveChange("cluster.availabilityZones", REFUSED, "AKS sets a pool's zones only when it creates the pool: refused, "
               "unless userPool.name changes too (the user pool is replaced, the new one first); the system pool's "
               "need a new stack", "AKS docs \"Use availability zones\"", {"cluster.availabilityZones": ["1", "2"]},
               stack="prod", refused_by_platform=("ManagedCluster/cluster", "AgentPool/cluster-user")),
    LiveChange("cluster.systemPool.vmSize", REFUSED, "AKS sets a pool's VM size only when it creates the pool, and the "
               "system pool comes with the cluster: add a new system pool by hand, or deploy a new stack",
               "AKS docs \"Resize node pools\"", {"cluster.systemPool.vmSize": "Standard_D8ds_v5"},
               refused_by_platform=("ManagedCluster/cluster",)),
    LiveChange("cluster.{systemPool,userPool}.{minCount,maxCount}", IN_PLACE, "the pool's autoscaler bounds change; "
               "the node count is the autoscaler's", "AKS docs \"Use the cluster autoscaler\" (`az aks nodepool "
               "update --update-cluster-autoscaler`)", {"cluster.systemPool.maxCount": 5}),
    LiveChange("cluster.{systemPool,userPool}.capacity.{cpu,memory}", IN_PLACE, "only the capacity plan reads it "
               "(the `capacity` output)", "components/capacity.py", {
                   "cluster.systemPool.capacity": {"cpu": "4", "memory": "16Gi"},
                   "cluster.userPool.capacity": {"cpu": "8", "memory": "32Gi"}}, stack="prod", modelled=False),
    LiveChange("cluster.userPool.enabled", IN_PLACE, "true: a user pool is created and the system pool tainted "
               "CriticalAddonsOnly; false: the user pool is drained and deleted, the system pool runs everything",
               "AKS docs \"Manage system node pools\" (taints updated in place)", {"cluster.userPool.enabled": True}),
    LiveChange("cluster.userPool.name", REPLACED, "the user pool is replaced: the new pool is created first, then the "
               "old one drained and deleted (with it the pool's VM size and zones may change)",
               "AKS docs \"Resize node pools\"", {"cluster.userPool.name": "user2"}, stack="prod",
               replaces={"AgentPool/cluster-user": False}),
    LiveChange("cluster.userPool.vmSize", REFUSED, "AKS sets a pool's VM size only when it creates the pool: refused, "
               "unless userPool.name changes too (the new pool first, then the old one drained and deleted)",
               "AKS docs \"Resize node pools\"", {"cluster.userPool.vmSize": "Standard_D16ds_v5"}, stack="prod",
               refused_by_platform=("AgentPool/cluster-user",)),
    LiveChange("cluster.adminGroupObjectIds", IN_PLACE, "the cluster's admin groups change",
               AKS_UPDATE + " (`--aad-admin-group-object-ids`)",
               {"cluster.adminGroupObjectIds": ["0d2f6c3e-8a41-4b7e-9c15-7e3a2b1f4d60"]}, stack="prod"),
    LiveChange("cluster.authorizedIpRanges", IN_PLACE, "the API server's address filter changes",
               AKS_UPDATE + " (`--api-server-authorized-ip-ranges`)",
               {"cluster.authorizedIpRanges": ["20.50.10.0/24", "20.50.11.0/24"]}, stack="prod"),
    LiveChange("cluster.allowPublicApiServer", IN_PLACE, "only what the program accepts for authorizedIpRanges",
               "components/config.py", {"cluster.allowPublicApiServer": True}, stack="prod", modelled=False),
    LiveChange("cluster.loginMode", IN_PLACE, "the Kubernetes provider's kubeconfig logs in another way (the "
               "deployer's role assignment keeps its principal type: deployerAccess.principalType)",
               "Azure kubelogin `--login`",
               {"cluster.loginMode": "spn"}, stack="prod"),
    LiveChange("cluster.upgradeChannel", IN_PLACE, "AKS's auto-upgrade channel changes; under 'stable' or 'rapid' the "
               "channel owns kubernetesVersion", AKS_UPDATE + " (`--auto-upgrade-channel`)",
               {"cluster.upgradeChannel": "stable"}),
    LiveChange("cluster.nodeOsUpgradeChannel", IN_PLACE, "AKS's node OS upgrade channel changes",
               AKS_UPDATE + " (`--node-os-upgrade-channel`)", {"cluster.nodeOsUpgradeChannel": "SecurityPatch"}),
    LiveChange("cluster.kubeconfig", IN_PLACE, "the provider reads another kubeconfig file; the cluster stays the one "
               "`context` names", "pulumi-kubernetes Provider: only a new `clusterIdentifier` replaces it",
               {"cluster.kubeconfig": "~/.kube/kind"}, stack="local"),
    LiveChange("cluster.context", MANUAL, "a new context is a new cluster to the provider: every object would be "
               "created anew through it and deleted through the old; keep the deployed context name (rename it back "
               "in the kubeconfig), or deploy a new stack for another cluster",
               "pulumi-kubernetes Provider `clusterIdentifier`: the provider, and every object with it, is replaced "
               "when it changes", {"cluster.context": "kind-other"}, stack="local", fixed=Fixed("cluster.context")),
    LiveChange("cluster.deployerAccess.grant", IN_PLACE, "true: the caller's role assignment is created; false: it is "
               "deleted, and the next run needs access another way (adminGroupObjectIds, additionalPrincipals)",
               "Azure RBAC role assignments", {"cluster.deployerAccess.grant": False}),
    LiveChange("cluster.deployerAccess.principalType", KEPT, "the first deployer's role assignment keeps its principal "
               "(ignore_changes): another identity running `pulumi up` later must not revoke it",
               "Azure RBAC: a role assignment's principal is fixed", {
                   "cluster.deployerAccess.principalType": "ServicePrincipal"},
               refused_by_platform=("RoleAssignment/cluster-deployer-cluster-admin",)),
    LiveChange("cluster.deployerAccess.waitSeconds", IN_PLACE, "how long the next access check waits",
               "pulumi-command local.Command", {"cluster.deployerAccess.waitSeconds": 600}),
    LiveChange("cluster.deployerAccess.additionalPrincipals", IN_PLACE, "a principal added gets its role assignment, a "
               "principal removed loses it", "Azure RBAC role assignments", {
                   "cluster.deployerAccess.additionalPrincipals": [{"objectId": PRINCIPAL,
                                                                    "type": "ServicePrincipal"}]}),
    LiveChange("cluster.deployerAccess.additionalPrincipals[].objectId", IN_PLACE, "another principal: its role "
               "assignment is created, the old principal's deleted", "Azure RBAC role assignments",
               {"cluster.deployerAccess.additionalPrincipals[0].objectId": "8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b"},
               base={"cluster.deployerAccess.additionalPrincipals": [{"objectId": PRINCIPAL,
                                                                      "type": "ServicePrincipal"}]}),
    LiveChange("cluster.deployerAccess.additionalPrincipals[].type", REPLACED, "the principal's role assignment is "
               "replaced, the old one deleted first (Azure holds one assignment per principal, role and scope)",
               "Azure RBAC: a role assignment's principal is fixed (RoleAssignmentExists)",
               {"cluster.deployerAccess.additionalPrincipals[0].type": "User"},
               base={"cluster.deployerAccess.additionalPrincipals": [{"objectId": PRINCIPAL,
                                                                      "type": "ServicePrincipal"}]},
               replaces={f"RoleAssignment/cluster-principal-{PRINCIPAL}": True}),
    LiveChange("cluster.gatewayServiceType", IN_PLACE, "Kourier's gateway Service changes type in place (a "
               "LoadBalancer gets a public address)", "Kubernetes: a Service's type is mutable",
               {"cluster.gatewayServiceType": "LoadBalancer"}, modelled=False),
    LiveChange("cluster.monitoring.enabled", IN_PLACE, "the workspace, data collection rule and association are "
               "created or deleted, the add-on switched", AKS_UPDATE + " (`enable-addons` / `disable-addons`)",
               {"cluster.monitoring.enabled": False}, stack="prod"),
    LiveChange("cluster.monitoring.retentionDays", IN_PLACE, "the workspace's retention changes",
               "Log Analytics: retention is a workspace property", {"cluster.monitoring.retentionDays": 120},
               stack="prod"),
    LiveChange("cluster.azurePolicy", IN_PLACE, "the Azure Policy add-on is switched", AKS_UPDATE +
               " (`enable-addons --addons azure-policy`)", {"cluster.azurePolicy": False}),
    LiveChange("cluster.encryptionAtHost", REFUSED, "AKS sets encryption at host only when it creates a pool: refused, "
               "unless userPool.name changes too (then only the user pool's changes); the system pool's needs a new "
               "stack", "AKS docs \"Host-based encryption\" (existing node pools cannot be updated)",
               {"cluster.encryptionAtHost": False}, stack="prod",
               refused_by_platform=("ManagedCluster/cluster", "AgentPool/cluster-user")),
    LiveChange("cluster.capacity.{cpu,memory}", IN_PLACE, "only the capacity plan reads it (the `capacity` output)",
               "components/capacity.py", {"cluster.capacity": {"cpu": "16", "memory": "64Gi"}}, stack="local",
               modelled=False),

    # --- kafka --------------------------------------------------------------------------------------
    LiveChange("kafka.name", MANUAL, "a new, empty Kafka cluster would be created under the new name and the old one "
               "deleted with its data (a protected one cannot be); " + NEW_STACK,
               "Strimzi: a Kafka's name names its pods, volumes and Secrets", {"kafka.name": "events"}, stack="prod",
               fixed=Fixed("kafka.name"), refused_by_platform=("Kafka/my-cluster",)),
    LiveChange("kafka.namespace", MANUAL, "the operator and the Kafka cluster would be replaced in the new namespace, "
               "empty, and the old namespace's volumes deleted; " + NEW_STACK,
               "pulumi-kubernetes: a moved object is replaced", {"kafka.namespace": "kafka"}, stack="prod",
               fixed=Fixed("kafka.namespace")),
    LiveChange("kafka.dualRole", REFUSED, "it replaces the node pools, and Strimzi neither removes brokers that hold "
               "partitions nor moves the KRaft quorum to new controllers (and a protected Kafka's pools cannot be "
               "deleted)", "Strimzi `KafkaClusterCreator`: \"Cannot scale-down Kafka brokers ... because they have "
               "assigned partition-replicas\"", {"kafka.dualRole": True}, stack="prod",
               fixed=Fixed("kafka.dualRole"),
               refused_by_platform=("KafkaNodePool/my-cluster-controllers", "KafkaNodePool/my-cluster-brokers")),
    LiveChange("kafka.controllers", REFUSED, "Strimzi runs a static KRaft controller quorum, which cannot grow or "
               "shrink (with dualRole, brokers are the controllers); deploy a new stack",
               "Strimzi docs \"Limitations with static controller quorums\"", {"kafka.controllers": 5}, stack="prod",
               fixed=Fixed("kafka.controllers")),
    LiveChange("kafka.brokers", REFUSED, "more: Strimzi adds brokers (they take partitions only when reassigned); "
               "fewer: refused, Strimzi does not remove brokers that hold partition replicas, and this stack runs no "
               "Cruise Control to move them", "Strimzi `KafkaClusterCreator`: \"Cannot scale-down Kafka brokers ... "
               "because they have assigned partition-replicas\"", {"kafka.brokers": 4}, stack="prod",
               base={"kafka.brokers": 5}, fixed=Fixed("kafka.brokers", decreased),
               refused_by_platform=("KafkaNodePool/my-cluster-brokers",)),
    LiveChange("kafka.storage", REFUSED, "Strimzi cannot change a node pool's storage type; add a node pool by hand, "
               "move the partitions, or deploy a new stack", STRIMZI_STORAGE, {"kafka.storage": "ephemeral"},
               stack="prod", fixed=Fixed("kafka.storage"),
               refused_by_platform=("KafkaNodePool/my-cluster-controllers", "KafkaNodePool/my-cluster-brokers")),
    LiveChange("kafka.storageSize", REFUSED, "larger: Strimzi grows the volumes (where the storage class allows "
               "expansion); smaller: refused, a volume cannot shrink", STRIMZI_STORAGE, {"kafka.storageSize": "50Gi"},
               stack="prod", fixed=Fixed("kafka.storageSize", shrunk),
               refused_by_platform=("KafkaNodePool/my-cluster-controllers", "KafkaNodePool/my-cluster-brokers")),
    LiveChange("kafka.storageClass", REFUSED, "Strimzi does not move volumes to another storage class; add a node pool "
               "by hand, move the partitions, or deploy a new stack", STRIMZI_STORAGE,
               {"kafka.storageClass": "managed-csi-premium"}, stack="prod", fixed=Fixed("kafka.storageClass"),
               refused_by_platform=("KafkaNodePool/my-cluster-controllers", "KafkaNodePool/my-cluster-brokers")),
    LiveChange("kafka.replicationFactor", REFUSED, "the brokers' defaults change; every topic without replicas of its "
               "own follows, and is refused (topics[].replicas)", "Strimzi topic operator: \"Replication factor "
               "change not supported\" without Cruise Control",
               {"kafka.replicationFactor": 2, "kafka.minInsyncReplicas": 1}, stack="prod",
               refused_as="topics[].replicas",
               refused_by_platform=("KafkaTopic/topic-my-topic", "KafkaTopic/topic-my-topic-dlq")),
    LiveChange("kafka.minInsyncReplicas", IN_PLACE, "the brokers' default and every topic's without its own change",
               "Kafka: `min.insync.replicas` is a dynamic broker and topic config", {"kafka.minInsyncReplicas": 1},
               stack="prod"),
    LiveChange("kafka.authentication", REFUSED, "Strimzi generated the cluster CA of a Kafka without authentication, "
               "and the program owns the CA of one with it (its Secrets would collide, or be deleted and regenerated "
               "under every client); deploy a new stack, or follow Strimzi's CA replacement procedure by hand",
               "Strimzi docs \"Using your own CA certificates and private keys\"",
               {"kafka.authentication": "scram-sha-512"}, fixed=Fixed("kafka.authentication"),
               refused_by_platform=("Secret/my-cluster-cluster-ca", "Secret/my-cluster-cluster-ca-cert")),
    LiveChange("kafka.caValidityDays", MANUAL, "a new CA certificate would be issued (pulumi-tls replaces a "
               "certificate on any change) outside Strimzi's renewal; renew the cluster CA by Strimzi's procedure "
               "\"Renewing your own CA certificates\" and set the new validity on a new stack",
               "pulumi-tls SelfSignedCert: every input forces a new certificate", {"kafka.caValidityDays": 3650},
               stack="prod", fixed=Fixed("kafka.caValidityDays")),
    LiveChange("kafka.protect", IN_PLACE, "only Pulumi's state: whether the Kafka, its pools and CA may be deleted",
               "Pulumi docs \"protect\", \"retainOnDelete\"", {"kafka.protect": False}, stack="prod"),
    LiveChange("kafka.readyTimeoutSeconds", IN_PLACE, "how long the next update waits for the Kafka",
               "Pulumi docs \"customTimeouts\"", {"kafka.readyTimeoutSeconds": 1800}),
    LiveChange("kafka.resources.{brokers,controllers}.{requests,limits}.{cpu,memory}", IN_PLACE, "Strimzi rolls the "
               "node pool's pods one by one", "Strimzi: a KafkaNodePool's resources roll its pods",
               {"kafka.resources.brokers.limits.cpu": "3"}),
    LiveChange("kafka.exporter.enabled", IN_PLACE, "Strimzi's Kafka Exporter is added or removed",
               "Strimzi docs \"Configuring Kafka Exporter\"", {"kafka.exporter.enabled": False}),
    LiveChange("kafka.exporter.resources.{requests,limits}.{cpu,memory}", IN_PLACE, "the exporter's pod rolls",
               "Strimzi docs \"Configuring Kafka Exporter\"", {"kafka.exporter.resources.limits.memory": "256Mi"}),

    # --- topics -------------------------------------------------------------------------------------
    LiveChange("topics", IN_PLACE, "a topic added is created; a topic removed is deleted with its data",
               "Strimzi topic operator: a deleted KafkaTopic deletes its topic", {"topics[1]": {"name": "orders"}}),
    LiveChange("topics[].name", REPLACED, "a new, empty topic is created and the old one deleted with its data; its "
               "functions read the new one, and a dead-letter topic named after it is replaced with its KafkaSink",
               "Strimzi topic operator: a KafkaTopic's name is its topic's",
               {"topics[0].name": "orders", "functions[0].topic": "orders"},
               replaces={"KafkaSink/event-display-dead-letter": True}),
    LiveChange("topics[].partitions", REFUSED, "more: the topic grows, its functions' consumers and max-scale follow; "
               "fewer: refused, Kafka cannot remove partitions (a new topic under a new name can have fewer)",
               "Strimzi topic operator `BatchingTopicController`: \"Decreasing partitions not supported\"",
               {"topics[0].partitions": 3}, refused_by_platform=("KafkaTopic/topic-my-topic",)),
    LiveChange("topics[].replicas", REFUSED, "Strimzi changes a live topic's replication factor only with Cruise "
               "Control, which this stack does not run", "Strimzi topic operator `BatchingTopicController`: "
               "\"Replication factor change not supported\"",
               {"topics[0].replicas": 2, "topics[0].minInsyncReplicas": 1}, stack="prod",
               refused_by_platform=("KafkaTopic/topic-my-topic", "KafkaTopic/topic-my-topic-dlq")),
    LiveChange("topics[].minInsyncReplicas", IN_PLACE, "the topic's config changes", "Kafka: `min.insync.replicas` is "
               "a dynamic topic config", {"topics[0].minInsyncReplicas": 1}, stack="prod"),
    LiveChange("topics[].retentionMs", IN_PLACE, "the topic's config changes", "Kafka: `retention.ms` is a dynamic "
               "topic config", {"topics[0].retentionMs": 86400000}),

    # --- functions ----------------------------------------------------------------------------------
    LiveChange("functions", IN_PLACE, "a function added gets its Service, KafkaSource, dead-letter sink (and KafkaUser "
               "and Secrets when authenticated); one removed loses them; nothing else changes",
               "Knative, eventing-kafka: independent objects", {"functions[1]": {
                   "name": "order-audit", "namespace": "default", "image": "ghcr.io/contoso/order-audit:1.4.2",
                   "topic": "my-topic", "autoscaling": {"metric": "concurrency", "target": 10}}}),
    LiveChange("functions[].name", IN_PLACE, "its objects are created under the new name and the old ones deleted; "
               "the default consumer group is new and starts at initialOffset", "Knative, eventing-kafka: a name is "
               "an object's identity", {"functions[0].name": "event-viewer"}),
    LiveChange("functions[].namespace", REPLACED, "its objects are replaced in the new namespace (created unless "
               "`default`): the Service first, the KafkaSource and KafkaSink deleted first; the default consumer "
               "group is new", "pulumi-kubernetes: a moved object is replaced; " + KAFKA_SOURCE_SPEC,
               {"functions[0].namespace": "orders"}, replaces={
                   "Service/event-display-service": False, "KafkaSource/event-display-source": True,
                   "KafkaSink/event-display-dead-letter": True, "NetworkPolicy/event-display-ingress": False}),
    LiveChange("functions[].image", IN_PLACE, "a new revision", REVISION, {
        "functions[0].image": "ghcr.io/contoso/event-display:1.1.0"}),
    LiveChange("functions[].topic", REPLACED, "the KafkaSource reads the other topic (its group starts there at "
               "initialOffset); a dead-letter topic named after it is replaced with its KafkaSink, deleted first",
               KAFKA_SOURCE_SPEC, {"topics[1]": {"name": "orders"}, "functions[0].topic": "orders"},
               replaces={"KafkaSink/event-display-dead-letter": True}),
    LiveChange("functions[].ordering", IN_PLACE, "the KafkaSource's delivery order changes", KAFKA_SOURCE_SPEC,
               {"functions[0].ordering": "unordered", "functions[0].autoscaling.maxScale": 6}),
    LiveChange("functions[].consumers", IN_PLACE, "the KafkaSource's consumers change", KAFKA_SOURCE_SPEC,
               {"functions[0].consumers": 3}),
    LiveChange("functions[].consumerGroup", REPLACED, "the KafkaSource is replaced, deleted first; the new group "
               "starts at initialOffset", "eventing-kafka-broker `kafka_validation.go` CheckImmutableFields: "
               "`consumerGroup` is immutable", {"functions[0].consumerGroup": "event-display-v2"},
               replaces={"KafkaSource/event-display-source": True}),
    LiveChange("functions[].initialOffset", IN_PLACE, "applies to a new consumer group only", KAFKA_SOURCE_SPEC,
               {"functions[0].initialOffset": "latest"}),
    LiveChange("functions[].timeoutSeconds", IN_PLACE, "a new revision", REVISION,
               {"functions[0].timeoutSeconds": 400}),
    LiveChange("functions[].autoscaling.class", IN_PLACE, "a new revision; 'hpa' installs serving-hpa.yaml",
               REVISION, {"functions[0].autoscaling.class": "hpa", "functions[0].autoscaling.metric": "cpu",
                          "functions[0].autoscaling.target": 70}),
    LiveChange("functions[].autoscaling.{metric,target,minScale,maxScale,initialScale,window,scaleDownDelay,"
               "targetUtilizationPercentage}", IN_PLACE, "a new revision with the new annotation", REVISION,
               {"functions[0].autoscaling.target": 10}),
    LiveChange("functions[].delivery.{retry,backoffPolicy,backoffDelay,timeout}", IN_PLACE, "the KafkaSource's "
               "delivery changes", KAFKA_SOURCE_SPEC, {"functions[0].delivery.retry": 3}),
    LiveChange("functions[].deadLetter.enabled", IN_PLACE, "the KafkaSink and its topic are created, or deleted with "
               "the events in it", KAFKA_SOURCE_SPEC, {"functions[0].deadLetter.enabled": False}),
    LiveChange("functions[].deadLetter.topic", REPLACED, "the KafkaSink is replaced, deleted first; the new topic is "
               "created, the old one deleted with its events", "eventing-kafka-broker `kafka_sink_validation.go`: "
               "`spec.topic` is immutable", {"functions[0].deadLetter.topic": "event-display-dlq"},
               replaces={"KafkaSink/event-display-dead-letter": True}),
    LiveChange("functions[].loadProducer", IN_PLACE, "the producer's KafkaUser and Secrets are created or deleted",
               "Strimzi user operator", {"functions[0].loadProducer": True}, stack="prod"),
    LiveChange("functions[].env", IN_PLACE, "a new revision", REVISION, {"functions[0].env": {"LOG_LEVEL": "debug"}}),
    LiveChange("functions[].secretEnv.<name>.{secret,key}", IN_PLACE, "a new revision", REVISION, {
        "functions[0].secretEnv": {"API_TOKEN": {"secret": "event-display-api", "key": "token"}}}),
    LiveChange("functions[].port", IN_PLACE, "a new revision", REVISION, {"functions[0].port": 8081}),
    LiveChange("functions[].public", IN_PLACE, "the Service's visibility label changes (and, unless "
               "cluster.gatewayServiceType is set, Kourier's gateway type)",
               "Knative Serving: `networking.knative.dev/visibility` is mutable", {"functions[0].public": True}),
    LiveChange("functions[].containerConcurrency", IN_PLACE, "a new revision", REVISION,
               {"functions[0].containerConcurrency": 10}),
    LiveChange("functions[].resources.{requests,limits}.{cpu,memory}", IN_PLACE, "a new revision", REVISION,
               {"functions[0].resources.limits.memory": "512Mi"}),
    LiveChange("functions[].readOnlyRootFilesystem", IN_PLACE, "a new revision", REVISION,
               {"functions[0].readOnlyRootFilesystem": False}),
    LiveChange("functions[].workloadIdentity", IN_PLACE, "the managed identity, its federated credential and service "
               "account are created or deleted; a new revision", REVISION + "; Azure workload identity",
               {"functions[0].workloadIdentity": True}),
    LiveChange("functions[].consumerScaling.class", IN_PLACE, "'disabled': the group's ScaledObject (and "
               "TriggerAuthentication) is deleted and the source's `consumers` apply again; 'keda': KEDA takes over",
               CONSUMER_GROUP_KEDA, {"functions[0].consumerScaling.class": "disabled"}, base=SCALING_ON),
    LiveChange("functions[].consumerScaling.{minConsumers,maxConsumers,lagThreshold,pollingInterval,"
               "cooldownPeriod}", IN_PLACE, "the KafkaSource's annotation changes", CONSUMER_GROUP_KEDA,
               {"functions[0].consumerScaling.minConsumers": 1}, base=SCALING_ON),

    # --- cluster-wide settings ----------------------------------------------------------------------
    LiveChange("autoscaler.{enableScaleToZero,scaleToZeroGracePeriod,scaleToZeroPodRetentionPeriod,maxScaleDownRate,"
               "maxScaleUpRate,stableWindow,allowZeroInitialScale}", IN_PLACE, "Knative's config-autoscaler is "
               "patched; the autoscaler reads it live", "Knative Serving: config-autoscaler is watched",
               {"autoscaler.stableWindow": "120s"}),
    LiveChange("eventingKafka.{dispatcherPodCapacity,dispatcherMemory}", IN_PLACE, "the kafka-controller and the "
               "dispatcher StatefulSet roll; the controller places consumers anew", "eventing-kafka-broker "
               "`500-controller.yaml` POD_CAPACITY, `500-dispatcher.yaml`",
               {"eventingKafka.dispatcherPodCapacity": 40, "eventingKafka.dispatcherMemory": "1300Mi"}),
    LiveChange("consumerScaling.enabled", IN_PLACE, "true: AKS turns on its KEDA add-on (an existing cluster gets "
               "KEDA's chart unless `keda` is 'present'), eventing-kafka's config-kafka-features and "
               "config-kafka-autoscaler are patched, Kafka's listener admits KEDA's operator, the brokers keep an idle "
               "group's offsets (offsets.retention.minutes, a broker config change: Strimzi rolls the brokers) and "
               "each KafkaSource gets its annotations: KEDA drives its consumers. false: all of that undone (the "
               "brokers roll again), each source back to `consumers` with class 'disabled'; refused while KEDA's "
               "chart ('helm') scales a function, as consumerScaling.keda says",
               AKS_UPDATE + " (`--enable-keda`); " + STRIMZI_ROLL + "; " + CONSUMER_GROUP_KEDA, SCALING_ON),
    LiveChange("consumerScaling.keda", MANUAL, "from 'helm', or `enabled` false on a stack with 'helm', while KEDA "
               "scales a function's consumers as deployed: refused, " + KEDA_CHART_KEPT + "; the cluster's own KEDA "
               "must run by then ('present'). To 'helm': KEDA's chart and namespace are installed",
               "kedacore/charts 2.20.2 `keda/templates/crds/` (CRDs as templates, `crds.install` true); Pulumi "
               "helm.v4.Chart deletes what it no longer renders; " + CONSUMER_GROUP_KEDA,
               {"consumerScaling.keda": "present"}, stack="local", base=SCALING_ON),
    LiveChange("consumerScaling.kedaNamespace", IN_PLACE, "KEDA's chart moves to the new namespace ('helm'), and "
               "Kafka's listener admits KEDA's operator from there instead",
               "Strimzi `networkPolicyPeers`: the listener's NetworkPolicy is updated",
               {"consumerScaling.kedaNamespace": "autoscaling"}, stack="local", base=SCALING_ON),
    LiveChange("consumerScaling.{minConsumers,lagThreshold,pollingInterval,cooldownPeriod}",
               IN_PLACE, "config-kafka-autoscaler is patched, and each KafkaSource that does not set its own gets the "
               "new annotation", CONSUMER_GROUP_KEDA, {"consumerScaling.lagThreshold": 50}, base=SCALING_ON),
    LiveChange("lifecycle.checkEdits", IN_PLACE, "only whether the next run checks edits against `settings`",
               "components/lifecycle.py", {"lifecycle.checkEdits": False}, modelled=False),
)

EFFECT_TEXT = {IN_PLACE: "in place", REFUSED: "refused at preview", MANUAL: "refused at preview: a manual migration",
               KEPT: "kept as deployed"}


def effect_text(row: LiveChange) -> str:
    if row.effect != REPLACED:
        return EFFECT_TEXT[row.effect]
    orders = {"deleted first" if first else "new first" for first in row.replaces.values()}
    return "replaced: " + ", ".join(sorted(orders))


def markdown() -> str:
    """README "Day 2"'s table of every setting."""
    lines = ["| key | on a live stack | what happens | upstream |", "|---|---|---|---|"]
    lines += [f"| `{row.key}` | {effect_text(row)} | {row.what} | {row.source} |" for row in ROWS]
    return "\n".join(lines) + "\n"
