"""Edits to a live stack: what the platform refuses, refused at preview before anything changes.

Some edits are valid settings on a first deploy but not on a stack that runs: Strimzi leaves a
topic NotReady when its partitions shrink or its replicas change, AKS neither downgrades nor skips
a minor, a node pool cannot change VM size or zones in place, Knative moves one minor at a time.
To tell, the program needs what was deployed: each `pulumi up` exports the settings these rules
read (`settings`), and the next run reads its own stack's outputs back (the engine's
`readStackOutputs`, what a StackReference to itself reads) before registering anything.
The rules and their upstream sources: UPSTREAM.md, "Platform behaviour that mocks do not model", and
components/live_changes.py, the table of what an edit of each setting does to a live stack, whose
`fixed` rows `check_fixed` runs.
"""
from __future__ import annotations

from typing import Any

import pulumi

from components.config import MINOR_UPGRADE_CHANNELS, PROJECT, ConfigError, StackConfig, TopicConfig, yaml_text
from components.live_changes import KEDA_CHART_KEPT, ROWS
from components.upstream import CONFIG_FIELDS

SETTINGS_OUTPUT = "settings"
READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"
KNATIVE_RELEASES = ("knativeServing", "knativeEventing", "kourier", "eventingKafka")
# A setting left out, in `settings`: the engine drops a null output, so a rule would not know it was unset.
UNSET = "(unset)"


def settings_of(cfg: StackConfig) -> dict[str, Any]:
    """What the next run's rules need to know about this one (exported as `settings`)."""
    c, k = cfg.cluster, cfg.kafka
    zones = list(c.availability_zones)
    # Each value only where the stack uses it: where a rule has no deployed value, it does not run.
    return {
        "versions": {key: getattr(cfg.versions, field.attr) for key, field in CONFIG_FIELDS.items()},
        "cluster": {
            "mode": c.mode,
            **({"location": c.location, "resourceGroup": c.resource_group} if c.mode == "aks" else
               {"context": c.context or UNSET}),
            "kubernetesVersion": c.kubernetes_version,
            "upgradeChannel": c.upgrade_channel,
            **{key: pool and {"name": pool.name, "vmSize": pool.vm_size, "zones": zones,
                              "encryptionAtHost": c.encryption_at_host}
               for key, pool in (("systemPool", c.system_pool), ("userPool", c.user_pool))},
        },
        "kafka": {"name": k.name, "namespace": k.namespace, "authentication": k.authentication,
                  "dualRole": k.dual_role, "controllers": k.controllers, "brokers": k.brokers, "storage": k.storage,
                  **({"storageSize": k.storage_size, "storageClass": k.storage_class or UNSET}
                     if k.storage == "persistent-claim" else {}),
                  **({"caValidityDays": k.ca_validity_days} if k.authenticated else {})},
        "topics": {t.name: {"partitions": t.partitions, "replicas": t.replicas}
                   for t in (*cfg.topics, *cfg.dead_letter_topics)},
        **({"consumerScaling": {"keda": cfg.consumer_scaling.keda, "kedaScaled": sorted(
            f.name for f in cfg.functions if f.consumer_scaling and f.consumer_scaling.keda)}}
           if cfg.consumer_scaling else {}),
    }


def read_deployed() -> dict[str, Any] | None:
    """The `settings` this stack exported at its last `pulumi up`; None before the first one."""
    qualified = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    failures = []
    # A backend in the legacy (not project-scoped) file layout knows stacks by their bare name only.
    for stack in (qualified, pulumi.get_stack()):
        try:
            result = pulumi.runtime.invoke(READ_STACK_OUTPUTS, {"name": stack})
            break
        except Exception as e:  # noqa: BLE001 - any failure only means the rules cannot run
            failures.append(f"{stack}: {e}")
    else:
        pulumi.log.warn(f"could not read what this stack deployed last ({'; '.join(failures)}); the checks of "
                        "edits to a live stack (topics, versions, node pools) are skipped in this run")
        return None
    outputs = (result.value or {}).get("outputs") or {}
    deployed = outputs.get(SETTINGS_OUTPUT)
    return deployed if isinstance(deployed, dict) else None


def refuse(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"{PROJECT}:{key}: {yaml_text(value)} is not allowed; {allowed}")


def minor(version: str) -> tuple[int, int]:
    major, minor_, *_ = (int(part) for part in version.split("-")[0].split("."))
    return major, minor_


def check_against_deployed(cfg: StackConfig) -> None:
    """Refuse an edit the live stack cannot take, unless lifecycle.checkEdits is off."""
    if cfg.check_edits:
        check_edit(read_deployed(), cfg)


def check_edit(deployed: dict[str, Any] | None, cfg: StackConfig) -> None:
    """Raise ConfigError for an edit the platform would refuse on the stack as deployed."""
    if not deployed:
        return
    check_fixed(deployed, cfg)
    check_versions(deployed.get("versions") or {}, cfg)
    if cfg.cluster.mode == "aks" and (deployed.get("cluster") or {}).get("mode") == "aks":
        check_cluster(deployed["cluster"], cfg)
    check_topics(deployed.get("topics") or {}, cfg)
    check_keda_chart(deployed.get("consumerScaling") or {}, cfg)


def check_fixed(deployed: dict[str, Any], cfg: StackConfig) -> None:
    """The rows of components/live_changes.py whose value a live stack keeps (`fixed`)."""
    now = settings_of(cfg)
    for row in ROWS:
        if row.fixed is None:
            continue
        was, value = setting(deployed, row.fixed.setting), setting(now, row.fixed.setting)
        if was is ABSENT or value is ABSENT or was == value:
            continue
        if row.fixed.refused_when is None:
            raise refuse(row.key, as_set(value), f"{yaml_text(as_set(was))} as deployed: {row.what}")
        if row.fixed.refused_when(was, value):
            raise refuse(row.key, as_set(value), f"at least the deployed {yaml_text(as_set(was))}: {row.what}")


ABSENT = object()     # a setting the stack does not use, or did not export when it was deployed


def setting(settings: dict[str, Any], path: str) -> Any:
    value: Any = settings
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return ABSENT
        value = value[key]
    return value


def as_set(value: Any) -> Any:
    """A value as the stack file set it: stack outputs bring every number back a float."""
    if value == UNSET:
        return None
    return int(value) if isinstance(value, float) and value.is_integer() else value


def check_versions(before: dict[str, str], cfg: StackConfig) -> None:
    now = settings_of(cfg)["versions"]
    for key in KNATIVE_RELEASES:
        if key not in before or before[key] == now[key]:
            continue
        (old_major, old), (new_major, new) = minor(before[key]), minor(now[key])
        if new_major != old_major or not -1 <= new - old <= 1:
            raise refuse(f"versions.{key}", now[key],
                         f"one minor away from the deployed {before[key]} ({old_major}.{old - 1}.x to "
                         f"{old_major}.{old + 1}.x): Knative upgrades one minor at a time and downgrades at "
                         "most one (knative.dev upgrade docs); step through each minor with a `pulumi up`")
    deployed_metadata = before.get("kafkaMetadataVersion")
    if deployed_metadata and metadata_order(now["kafkaMetadataVersion"]) < metadata_order(deployed_metadata):
        raise refuse("versions.kafkaMetadataVersion", now["kafkaMetadataVersion"],
                     f"at least the deployed {deployed_metadata}: Kafka cannot lower a KRaft metadata version")


def metadata_order(version: str) -> tuple[int, int, int]:
    release, _, iv = version.partition("-IV")
    major, minor_ = minor(release)
    return major, minor_, int(iv or 0)


def check_cluster(before: dict[str, Any], cfg: StackConfig) -> None:
    c = cfg.cluster
    deployed_version = before.get("kubernetesVersion")
    # Under a channel that moved minors, the cluster may be past the recorded version: nothing to hold
    # the first version chosen after leaving the channel against.
    left_channel = before.get("upgradeChannel") in MINOR_UPGRADE_CHANNELS
    if deployed_version and deployed_version != c.kubernetes_version and not (
            left_channel and c.upgrade_channel not in MINOR_UPGRADE_CHANNELS):
        (_, old_minor), (_, new_minor) = minor(deployed_version), minor(c.kubernetes_version)
        if c.upgrade_channel in MINOR_UPGRADE_CHANNELS:
            raise refuse("cluster.kubernetesVersion", c.kubernetes_version,
                         f"{deployed_version} as deployed while upgradeChannel is {c.upgrade_channel!r}: that "
                         "channel moves minors itself; set upgradeChannel 'patch' or 'none' to choose one")
        if new_minor < old_minor:
            raise refuse("cluster.kubernetesVersion", c.kubernetes_version,
                         f"{deployed_version} or newer: AKS does not downgrade a cluster")
        if new_minor > old_minor + 1:
            raise refuse("cluster.kubernetesVersion", c.kubernetes_version,
                         f"1.{old_minor + 1} first: AKS upgrades one minor at a time (skipping needs long-term "
                         "support); the pools follow the control plane")
    now = settings_of(cfg)["cluster"]
    for key, renamable in (("systemPool", False), ("userPool", True)):
        old = before.get(key) or {}
        if not now[key] or old.get("name") not in (None, now[key]["name"]):
            continue                       # a pool removed, or a new one replacing the old: anything may differ
        for field, setting in POOL_FIELDS_FIXED_AT_CREATION.items():
            value = now[key][field]
            if field in old and old[field] != value:
                raise refuse(setting.format(pool=key), value, pool_change_allowed(key, field, old, renamable))


# A node pool's fields AKS sets only when it creates the pool -> the setting that changes them.
POOL_FIELDS_FIXED_AT_CREATION = {"vmSize": "cluster.{pool}.vmSize", "zones": "cluster.availabilityZones",
                                 "encryptionAtHost": "cluster.encryptionAtHost"}


def pool_change_allowed(key: str, field: str, old: dict[str, Any], renamable: bool) -> str:
    deployed = f"{yaml_text(old[field])} as deployed: AKS sets a node pool's VM size, zones and encryption at host " \
               "only when it creates the pool"
    if renamable:
        return f"{deployed}; to replace the pool, also set cluster.{key}.name to a new name (the new pool is " \
               "created first, then the old one is drained and deleted)"
    return f"{deployed}, and the system pool is created with the cluster (add a new system pool by hand, or " \
           "deploy a new stack)"


def check_keda_chart(before: dict[str, Any], cfg: StackConfig) -> None:
    """Row consumerScaling.keda of components/live_changes.py: KEDA's chart goes only once no ScaledObject needs it.
    A stack deployed with scaling off, or before `settings` carried consumerScaling, has nothing to check."""
    scaled = before.get("kedaScaled") or []
    if before.get("keda") != "helm" or not scaled or cfg.runs_keda("helm"):
        return
    key, value = (("consumerScaling.keda", cfg.consumer_scaling.keda) if cfg.consumer_scaling else
                  ("consumerScaling.enabled", False))
    raise refuse(key, value, f"KEDA's chart kept ('helm', `enabled` true) while KEDA scales the consumers of "
                             f"{', '.join(scaled)} as deployed: {KEDA_CHART_KEPT}")


def check_topics(before: dict[str, dict[str, int]], cfg: StackConfig) -> None:
    for key, topic in topic_keys(cfg):
        old = {k: int(v) for k, v in (before.get(topic.name) or {}).items()}
        if not old:
            continue
        if topic.partitions < old["partitions"]:
            raise refuse(f"{key}.partitions", topic.partitions,
                         f"at least {old['partitions']}, the partitions topic {topic.name!r} has: Kafka cannot "
                         "remove partitions (Strimzi leaves the topic NotReady); a new topic under a new name "
                         "can have fewer")
        if topic.replicas != old["replicas"]:
            raise refuse(f"{key}.replicas", topic.replicas,
                         f"{old['replicas']}, the replicas topic {topic.name!r} has (set it explicitly if "
                         "kafka.replicationFactor changed): Strimzi changes a live topic's replication factor "
                         "only with Cruise Control, which this stack does not run")


def topic_keys(cfg: StackConfig) -> list[tuple[str, TopicConfig]]:
    """Each topic with the config key that sets its partitions and replicas."""
    index = {t.name: i for i, t in enumerate(cfg.topics)}
    keys = [(f"topics[{i}]", t) for i, t in enumerate(cfg.topics)]
    for t in cfg.dead_letter_topics:
        source = next(f.topic for f in cfg.functions if f.dead_letter_topic == t.name)
        keys.append((f"topics[{index[source.name]}]", t))    # its replicas follow its source topic's
    return keys
