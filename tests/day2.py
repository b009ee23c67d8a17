"""Day-2 edits: what the live platform does with the difference between two renders of a stack.

Mocks accept any update; the platform does not. eventing-kafka's webhook refuses a new consumer
group on a KafkaSource, AKS cannot resize a node pool in place, Strimzi leaves a topic NotReady when
its partitions shrink, and `ignore_changes` drops an edit without a word. This layer renders a stack
(a first deploy), renders it again after an edit (reading the first render's `settings` output back,
as the next `pulumi up` does), diffs every resource's inputs and options by URN, and judges each
change by RULES, a table of what the platform does with it (UPSTREAM.md, "Platform behaviour that
mocks do not model"):

    "accepted"           an in-place update, a creation or a deletion the platform performs
    "replaced"           a replacement the program planned, in an order the platform takes
    "refused: <reason>"  the webhook, operator, cloud API or engine rejects it, or drops it silently

`check(before, after, may_touch)` asserts that an edit yields only the first two, on only the
resources the scenario names.
"""
from __future__ import annotations

import copy
import dataclasses
import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import webhooks
from components.live_changes import shrunk
from harness import Harness, Registration, Registry, resolve, stack_config

# --- property paths ------------------------------------------------------------------------------

Segment = str | int
Path = tuple[Segment, ...]
WILDCARD = "*"                       # in a pattern: any list index or key
_NAME = re.compile(r"[A-Za-z_$][\w$]*")
_SEGMENT = re.compile(r'\.([^.\[\]"]+)|\[(\d+|\*)\]|\["([^"]*)"\]')


def parse_path(text: str) -> Path:
    """A Pulumi property path ('agentPoolProfiles[*].count', 'metadata.annotations["a.b/c"]')."""
    source = text if text.startswith("[") else "." + text
    segments: list[Segment] = []
    pos = 0
    while pos < len(source):
        m = _SEGMENT.match(source, pos)
        if m is None:
            raise ValueError(f"not a property path: {text!r}")
        name, index, quoted = m.groups()
        if index is not None:
            segments.append(WILDCARD if index == WILDCARD else int(index))
        else:
            segments.append(name if name is not None else quoted)
        pos = m.end()
    return tuple(segments)


def format_path(path: Path) -> str:
    text = ""
    for s in path:
        if isinstance(s, int):
            text += f"[{s}]"
        elif _NAME.fullmatch(s):
            text += f".{s}" if text else s
        else:
            text += f'["{s}"]'
    return text


def covers(pattern: Path, path: Path) -> bool:
    """The pattern names the path or one of its parents, as ignore_changes and replace_on_changes do."""
    return len(pattern) <= len(path) and all(p in (WILDCARD, s) for p, s in zip(pattern, path, strict=False))


def value_at(data: Any, path: Path) -> Any:
    for s in path:
        if isinstance(s, int) and isinstance(data, list) and s < len(data):
            data = data[s]
        elif isinstance(s, str) and isinstance(data, dict):
            data = data.get(s)
        else:
            return None
    return data


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    return bool(old == new)


def changed_paths(old: Any, new: Any, at: Path = ()) -> list[Path]:
    """Every leaf that differs (an absent key and a null are the same, as for the engine)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[Path] = []
        for key in [*old, *(k for k in new if k not in old)]:
            a, b = old.get(key), new.get(key)
            if a is None and b is None:
                continue
            found += [at + (key,)] if a is None or b is None else changed_paths(a, b, at + (key,))
        return found
    if isinstance(old, list) and isinstance(new, list):
        found = []
        for i in range(max(len(old), len(new))):
            found += [at + (i,)] if i >= len(old) or i >= len(new) else changed_paths(old[i], new[i], at + (i,))
        return found
    return [] if _same(old, new) else [at]


# --- identities: what an object is called where it lives -----------------------------------------

Identity = tuple[str, ...]
KUBERNETES = "kubernetes:"
# Azure resources are addressed by the path parameters of their ARM id.
AZURE_IDENTITY = {
    "azure-native:resources:ResourceGroup": ("resourceGroupName",),
    "azure-native:containerservice:ManagedCluster": ("resourceGroupName", "resourceName"),
    "azure-native:containerservice:AgentPool": ("resourceGroupName", "resourceName", "agentPoolName"),
}


def identity(r: Registration) -> Identity | None:
    """(group, kind, namespace, name) of a Kubernetes object; the ARM path of an Azure resource;
    None for what creates nothing under a name of its own (components, patches, providers)."""
    if r.type.startswith(KUBERNETES) and r.custom and not r.type.endswith("Patch"):
        metadata = r.inputs.get("metadata") or {}
        if not metadata.get("name"):
            return None
        api, kind = r.type[len(KUBERNETES):].rsplit(":", 1)
        group = api.split("/")[0] if "/" in api else "core"
        return group, kind, metadata.get("namespace") or "", metadata["name"]
    if r.type in AZURE_IDENTITY:
        return (r.type, *(str(r.inputs.get(key)) for key in AZURE_IDENTITY[r.type]))
    return None


def describe(ident: Identity) -> str:
    if ident[0].startswith("azure-native:"):
        return f"{ident[0].rsplit(':', 1)[1]} {'/'.join(ident[1:])}"
    group, kind, namespace, name = ident
    return f"{kind} {namespace + '/' if namespace else ''}{name}"


def strimzi_made(kafka: Registration) -> list[Identity]:
    """Secrets Strimzi's operators create for a Kafka in the cluster: its cluster and clients CA
    (unless spec.clusterCa / spec.clientsCa say generateCertificateAuthority: false)."""
    metadata, spec = kafka.inputs.get("metadata") or {}, kafka.inputs.get("spec") or {}
    made: list[Identity] = []
    for key, prefix in (("clusterCa", "cluster-ca"), ("clientsCa", "clients-ca")):
        if (spec.get(key) or {}).get("generateCertificateAuthority", True) is not False:
            made += [("core", "Secret", metadata.get("namespace") or "", f"{metadata.get('name')}-{prefix}{suffix}")
                     for suffix in ("", "-cert")]
    return made


def strimzi_user_secret(user: Registration) -> list[Identity]:
    """The user operator writes each KafkaUser's credentials to a Secret named after the user."""
    metadata = user.inputs.get("metadata") or {}
    return [("core", "Secret", metadata.get("namespace") or "", metadata.get("name") or "")]


# Objects an operator creates beside one of the program's (type -> what it creates), so they exist
# on a live stack although no render registers them.
OPERATOR_MADE: dict[str, Callable[[Registration], list[Identity]]] = {
    # Strimzi docs, "Using your own CA certificates and private keys": by default the Cluster Operator
    # generates <cluster>-cluster-ca, -cluster-ca-cert, -clients-ca, -clients-ca-cert; your own CA
    # after deployment means replacing the content of those Secrets (the renewal procedure).
    "kubernetes:kafka.strimzi.io/v1:Kafka": strimzi_made,
    # Strimzi's user operator: a Secret named after each KafkaUser, in its namespace (UPSTREAM.md, "Strimzi 1.x").
    "kubernetes:kafka.strimzi.io/v1:KafkaUser": strimzi_user_secret,
}


def live_objects(registry: Registry) -> frozenset[Identity]:
    """Every named object a deployed render leaves in the cluster or in Azure."""
    found: set[Identity] = set()
    for r in registry.all():
        ident = identity(r)
        if ident is not None:
            found.add(ident)
        found.update(OPERATOR_MADE.get(r.type, lambda _: [])(r))
    return frozenset(found)


# --- the rules ------------------------------------------------------------------------------------

IMMUTABLE = "immutable"              # an update is refused; only a replacement may change it
PROVIDER_REPLACES = "replaces"       # the provider itself plans a replacement (deleting first if the name stays)
REFUSED = "refused"                  # refused when `when(old, new)` holds (and the resource is not replaced)


def changed(old: Any, new: Any) -> bool:
    return True


def decreased(old: Any, new: Any) -> bool:
    return old is not None and new is not None and new < old


def _minor(version: Any) -> tuple[int, int] | None:
    m = re.search(r"(\d+)\.(\d+)", str(version)) if version is not None else None
    return (int(m.group(1)), int(m.group(2))) if m else None


def not_one_minor_up(old: Any, new: Any) -> bool:
    """AKS moves a cluster, and a pool with it, one minor up at a time and never down."""
    a, b = _minor(old), _minor(new)
    return a is not None and b is not None and a != b and not (a[0] == b[0] and b[1] == a[1] + 1)


def knative_release(url: Any) -> tuple[int, int] | None:
    m = re.search(r"knative-v(\d+)\.(\d+)\.\d+/", str(url))
    return (int(m.group(1)), int(m.group(2))) if m else None


def knative_skips_a_minor(old: Any, new: Any) -> bool:
    """Knative upgrades one minor at a time and downgrades at most one."""
    a, b = knative_release(old), knative_release(new)
    return a is not None and b is not None and (a[0] != b[0] or abs(b[1] - a[1]) > 1)


def volume_shrunk(old: Any, new: Any) -> bool:
    return old is not None and new is not None and shrunk(old, new)


def metadata_lowered(old: Any, new: Any) -> bool:
    def order(v: Any) -> tuple[int, int, int]:
        release, _, iv = str(v).partition("-IV")
        major, minor = (int(x) for x in release.split(".")[:2])
        return major, minor, int(iv or 0)
    return old is not None and new is not None and order(new) < order(old)


@dataclass(frozen=True)
class Rule:
    types: str                                    # fnmatch pattern of resource types
    path: str                                     # Pulumi property path; [*] is any list index
    effect: str                                   # IMMUTABLE, PROVIDER_REPLACES or REFUSED
    why: str                                      # what the platform does
    when: Callable[[Any, Any], bool] = changed    # REFUSED only: (old value, new value) -> refused


KAFKA_SOURCE = "kubernetes:sources.knative.dev/v1:KafkaSource"
KAFKA_SINK = "kubernetes:eventing.knative.dev/v1alpha1:KafkaSink"
KAFKA_TOPIC = "kubernetes:kafka.strimzi.io/v1:KafkaTopic"
KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"
KAFKA_NODE_POOL = "kubernetes:kafka.strimzi.io/v1:KafkaNodePool"
MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"

RULES: tuple[Rule, ...] = (
    # eventing-kafka-broker control-plane/pkg/apis/sources/v1/kafka_validation.go (CheckImmutableFields)
    Rule(KAFKA_SOURCE, "spec.consumerGroup", IMMUTABLE, "eventing-kafka's webhook refuses a new consumer group"),
    # eventing-kafka-broker control-plane/pkg/apis/eventing/v1alpha1/kafka_sink_validation.go
    Rule(KAFKA_SINK, "spec.topic", IMMUTABLE, "eventing-kafka's webhook refuses a new topic"),
    Rule(KAFKA_SINK, "spec.numPartitions", IMMUTABLE, "eventing-kafka's webhook refuses new partitions"),
    Rule(KAFKA_SINK, "spec.replicationFactor", IMMUTABLE, "eventing-kafka's webhook refuses a new replication factor"),
    # AKS "Resize node pools" / "Use availability zones": a pool's VM size and zones are fixed at
    # creation (a new pool, drain, delete the old); the agent pool PUT refuses the change.
    Rule(AGENT_POOL, "vmSize", IMMUTABLE, "AKS cannot change a node pool's VM size in place"),
    Rule(AGENT_POOL, "availabilityZones", IMMUTABLE, "AKS cannot change a node pool's zones in place"),
    Rule(MANAGED_CLUSTER, "agentPoolProfiles[*].vmSize", IMMUTABLE, "AKS cannot change a node pool's VM size in place"),
    Rule(MANAGED_CLUSTER, "agentPoolProfiles[*].availabilityZones", IMMUTABLE,
         "AKS cannot change a node pool's zones in place"),
    # AKS "Use host-based encryption": set when a pool is created; an existing pool cannot be updated.
    Rule(AGENT_POOL, "enableEncryptionAtHost", IMMUTABLE,
         "AKS cannot change a node pool's encryption at host in place"),
    Rule(MANAGED_CLUSTER, "agentPoolProfiles[*].enableEncryptionAtHost", IMMUTABLE,
         "AKS cannot change a node pool's encryption at host in place"),
    # pulumi-kubernetes provider/pkg/provider/provider.go Diff: "Changing the identity of the resource
    # always causes a replacement" (forceNewFields .metadata.name, .metadata.namespace); it deletes first
    # itself when the name and namespace stay.
    Rule("kubernetes:*", "metadata.name", PROVIDER_REPLACES, "pulumi-kubernetes replaces a renamed object"),
    Rule("kubernetes:*", "metadata.namespace", PROVIDER_REPLACES, "pulumi-kubernetes replaces a moved object"),
    # pulumi-kubernetes provider/pkg/provider/diff.go forceNewProperties: a Secret's type and data are
    # replaced unless the provider sets enableSecretMutable (this program's does not).
    Rule("kubernetes:core/v1:Secret", "type", PROVIDER_REPLACES, "pulumi-kubernetes replaces a Secret"),
    Rule("kubernetes:core/v1:Secret", "data", PROVIDER_REPLACES, "pulumi-kubernetes replaces a Secret"),
    Rule("kubernetes:core/v1:Secret", "stringData", PROVIDER_REPLACES, "pulumi-kubernetes replaces a Secret"),
    # Strimzi topic-operator BatchingTopicController.java: "Decreasing partitions not supported", and
    # without Cruise Control "Replication factor change not supported"; the topic stays NotReady and
    # pulumi.com/waitFor condition=Ready times out.
    Rule(KAFKA_TOPIC, "spec.partitions", REFUSED, "Strimzi cannot remove partitions (KafkaTopic NotReady)",
         decreased),
    Rule(KAFKA_TOPIC, "spec.replicas", REFUSED,
         "Strimzi changes replicas only with Cruise Control (KafkaTopic NotReady)"),
    # AKS "Upgrade an AKS cluster" and "Supported Kubernetes versions": one minor at a time (skipping
    # needs long-term support), no downgrade; pools follow the control plane.
    Rule(MANAGED_CLUSTER, "kubernetesVersion", REFUSED, "AKS upgrades one minor at a time and never down",
         not_one_minor_up),
    Rule(MANAGED_CLUSTER, "agentPoolProfiles[*].orchestratorVersion", REFUSED,
         "AKS upgrades a pool one minor at a time and never down", not_one_minor_up),
    Rule(AGENT_POOL, "orchestratorVersion", REFUSED, "AKS upgrades a pool one minor at a time and never down",
         not_one_minor_up),
    # knative.dev "Upgrading Knative": one minor at a time; a downgrade by at most one minor.
    Rule(CONFIG_GROUP, "files[*]", REFUSED, "Knative moves one minor at a time", knative_skips_a_minor),
    # Strimzi docs "Upgrading Kafka" (metadata version) and Kafka KIP-778: a KRaft metadata version
    # cannot be lowered.
    Rule(KAFKA, "spec.kafka.metadataVersion", REFUSED, "Kafka cannot lower a KRaft metadata version",
         metadata_lowered),
    # Strimzi cluster-operator model/StorageDiff.java: of a node pool's storage only deleteClaim and a larger
    # size may change; the rest is not applied (the pool keeps its volumes).
    Rule(KAFKA_NODE_POOL, "spec.storage.type", REFUSED, "Strimzi cannot change a node pool's storage type"),
    Rule(KAFKA_NODE_POOL, "spec.storage.volumes[*].class", REFUSED,
         "Strimzi cannot move a volume to another storage class"),
    Rule(KAFKA_NODE_POOL, "spec.storage.volumes[*].size", REFUSED, "Strimzi cannot shrink a volume", volume_shrunk),
    # Strimzi KafkaClusterCreator: "Cannot scale-down Kafka brokers ... because they have assigned
    # partition-replicas"; a controller quorum is static ("Limitations with static controller quorums").
    Rule(KAFKA_NODE_POOL, "spec.replicas", REFUSED, "Strimzi removes no broker holding partitions, and no "
         "controller from a static quorum", decreased),
)

# Rules of the engine and the providers that need no table row:
# - ignore_changes (Pulumi docs, "ignoreChanges"): the engine keeps the old value of a covered
#   input and reports nothing, so an edit there never reaches the platform.
# - protect (Pulumi docs, "protect"): deleting a protected resource fails the whole update.
# - replace_on_changes (Pulumi docs) replaces create-before-delete unless delete_before_replace;
#   pulumi-kubernetes adds delete-before-replace only for replacements its own Diff asks for
#   (provider.go), and Azure treats a PUT under the same name as an update of the old resource.
# - creation (pulumi-kubernetes PR #4278, 4.29+; upsertExistingObjects off): creating an object
#   that exists fails with AlreadyExists, and the engine creates before it deletes what was removed.


def rules_for(typ: str, path: Path) -> list[Rule]:
    return [rule for rule in RULES if fnmatch.fnmatchcase(typ, rule.types) and covers(parse_path(rule.path), path)]


# --- changes --------------------------------------------------------------------------------------

# Registration fields that are resource options, compared as they are (order-free ones as sets).
OPTIONS = ("provider", "parent", "protect", "retain_on_delete", "ignore_changes", "replace_on_changes",
           "delete_before_replace", "custom_timeouts", "aliases", "transforms", "dependencies", "secret_inputs")
UNORDERED_OPTIONS = ("ignore_changes", "replace_on_changes", "dependencies", "secret_inputs")


@dataclass(frozen=True)
class Change:
    kind: str                                    # "added" | "removed" | "updated"
    before: Registration | None
    after: Registration | None
    changes: tuple[Path, ...] = ()               # inputs that differ
    options: tuple[str, ...] = ()                # options that differ (OPTIONS)
    live: frozenset[Identity] = field(default=frozenset(), repr=False)   # what existed before the edit
    denial: str = ""                             # the upstream admission webhook's, on this create or update

    @property
    def resource(self) -> Registration:
        r = self.after or self.before
        assert r is not None
        return r

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def type(self) -> str:
        return self.resource.type

    @property
    def key(self) -> str:
        """'<Kind>/<name>', e.g. 'KafkaSource/event-display-source', 'AgentPool/cluster-user'."""
        return f"{self.type.rsplit(':', 1)[1]}/{self.name}"

    @property
    def paths(self) -> list[str]:
        return [format_path(p) for p in self.changes]

    def __str__(self) -> str:
        detail = ", ".join([*self.paths, *(f"option {o}" for o in self.options)])
        return f"{self.kind} {self.key}" + (f" ({detail})" if detail else "")

    @property
    def replaced_by_option(self) -> list[Path]:
        """Changed inputs a replace_on_changes option names."""
        assert self.after is not None
        return [p for p in self.changes if any(covers(parse_path(r), p) for r in self.after.replace_on_changes)]

    @property
    def replaced_by_provider(self) -> list[Path]:
        """Changed inputs the provider itself replaces the resource for (PROVIDER_REPLACES)."""
        return [p for p in self.changes if any(rule.effect == PROVIDER_REPLACES for rule in rules_for(self.type, p))]

    @property
    def replaced(self) -> bool:
        # A resource moved to another provider is replaced by the engine (the old provider deletes it).
        return self.kind == "updated" and bool(self.replaced_by_option or self.replaced_by_provider
                                                or "provider" in self.options)


def _option(r: Registration, name: str) -> Any:
    value = getattr(r, name)
    return sorted(value) if name in UNORDERED_OPTIONS else value


def diff(before: Registry, after: Registry) -> list[Change]:
    """Every resource added, removed or updated (inputs or options) between two renders, by URN, each
    create or update of a Knative object as the upstream webhook answers it (tests/webhooks.py)."""
    live = live_objects(before)
    found: list[Change] = []
    for urn in [*before.registrations, *(u for u in after.registrations if u not in before.registrations)]:
        old, new = before.registrations.get(urn), after.registrations.get(urn)
        if old is None:
            found.append(Change("added", None, new, live=live))
        elif new is None:
            found.append(Change("removed", old, None, live=live))
        else:
            paths = tuple(changed_paths(old.inputs, new.inputs))
            options = tuple(o for o in OPTIONS if _option(old, o) != _option(new, o))
            if paths or options:
                found.append(Change("updated", old, new, paths, options, live=live))
    # What the engine replaces, the webhook sees created; the rest of what it judges, updated.
    denied = webhooks.denials(after, before, replaced={c.resource.urn for c in found if c.replaced})
    return [dataclasses.replace(c, denial=denied.get(c.resource.urn, "")) if c.after is not None else c
            for c in found]


# --- verdicts -------------------------------------------------------------------------------------

ACCEPTED = "accepted"
REPLACED = "replaced"


def refused(reason: str) -> str:
    return f"refused: {reason}"


def classify(change: Change) -> str:
    if change.kind == "removed":
        assert change.before is not None
        if change.before.protect:
            return refused("protected: Pulumi refuses to delete a resource with protect=True, and the whole "
                           "update fails")
        return ACCEPTED
    if change.kind == "added":
        assert change.after is not None
        if change.denial:
            return refused(f"the admission webhook denies its creation: {change.denial}")
        ident = identity(change.after)
        if ident is not None and ident in change.live:
            if ident[0].startswith("azure-native:"):
                return refused(f"{describe(ident)} already exists: Azure's PUT takes it over, and deleting the "
                               "resource that held it before then deletes it")
            return refused(f"{describe(ident)} already exists on the live stack: the create fails (AlreadyExists; "
                           "pulumi-kubernetes does not upsert) before anything removed is deleted")
        return ACCEPTED
    return _classify_update(change)


def _classify_update(change: Change) -> str:
    old, new = change.before, change.after
    assert old is not None and new is not None
    replaced, by_provider = change.replaced, change.replaced_by_provider
    problems = [f"the admission webhook denies {'the replacement' if replaced else 'the update'}: {change.denial}"
                ] if change.denial else []
    ignored = [p for p in change.changes if any(covers(parse_path(i), p) for i in new.ignore_changes)]
    if ignored:
        problems.append("silently ignored by ignore_changes: " + ", ".join(format_path(p) for p in ignored))
    for p in change.changes:
        if p in ignored:
            continue
        for rule in rules_for(new.type, p):
            if rule.effect == IMMUTABLE and not replaced:
                problems.append(f"{format_path(p)}: {rule.why}; nothing replaces the resource (replace_on_changes "
                                f"{new.replace_on_changes or '[]'})")
            elif rule.effect == REFUSED and not replaced:
                was, now = value_at(old.inputs, p), value_at(new.inputs, p)
                if rule.when(was, now):
                    problems.append(f"{format_path(p)}: {was!r} -> {now!r}: {rule.why}")
    if replaced and not by_provider and not new.delete_before_replace and identity(new) is not None \
            and identity(new) == identity(old):
        problems.append(f"replaced create-before-delete under the same name ({describe(identity(new) or ())}): the "
                        "new object collides with the old one; needs delete_before_replace")
    if problems:
        return refused("; ".join(problems))
    return REPLACED if replaced else ACCEPTED


@dataclass(frozen=True)
class Verdict:
    change: Change
    verdict: str

    def __str__(self) -> str:
        return f"{self.change}: {self.verdict}"


class Outcome:
    """The verdicts on one edit, by Change.key."""

    def __init__(self, verdicts: Iterable[Verdict]) -> None:
        self.by_key: dict[str, Verdict] = {}
        for v in verdicts:
            assert v.change.key not in self.by_key, f"two changed resources are called {v.change.key}"
            self.by_key[v.change.key] = v

    def __iter__(self) -> Iterator[Verdict]:
        return iter(self.by_key.values())

    def __getitem__(self, key: str) -> Verdict:
        assert key in self.by_key, f"{key} did not change; changes: {sorted(self.by_key)}"
        return self.by_key[key]

    def verdicts(self) -> dict[str, str]:
        """'<Kind>/<name>' -> verdict, a refusal shortened to 'refused'."""
        return {k: v.verdict.split(":", 1)[0] for k, v in self.by_key.items()}

    def kinds(self) -> dict[str, str]:
        """'<Kind>/<name>' -> 'added' | 'removed' | 'updated'."""
        return {k: v.change.kind for k, v in self.by_key.items()}

    def paths(self, key: str) -> list[str]:
        return self[key].change.paths

    def __str__(self) -> str:
        return "\n".join(f"  {v}" for v in self) or "  (no change)"


def judge(before: Registry, after: Registry) -> Outcome:
    return Outcome(Verdict(c, classify(c)) for c in diff(before, after))


def check(before: Registry, after: Registry, may_touch: Iterable[str]) -> Outcome:
    """Assert that the edit from `before` to `after` yields only accepted updates and planned
    replacements, on resources whose name matches one of `may_touch` (fnmatch patterns)."""
    patterns = list(may_touch)
    outcome = judge(before, after)
    refusals = [v for v in outcome if v.verdict.startswith("refused")]
    strays = [v for v in outcome if not any(fnmatch.fnmatchcase(v.change.name, p) for p in patterns)]
    problems = [f"  refused {v}" for v in refusals] + [f"  outside {sorted(patterns)}: {v}" for v in strays]
    assert not problems, "the edit does not go through as planned:\n" + "\n".join(problems) + \
        f"\nall changes:\n{outcome}"
    return outcome


# --- rendering an edit ----------------------------------------------------------------------------

def set_path(config: dict[str, Any], path: str, value: Any) -> None:
    """Set one setting by its config path ('functions[0].deadLetter.topic'), creating objects on the way."""
    segments = parse_path(path)
    node: Any = config
    for s, following in zip(segments, segments[1:], strict=False):
        if isinstance(s, int):
            node = node[s]
        else:
            node = node.setdefault(s, [] if isinstance(following, int) else {})
    last = segments[-1]
    if isinstance(last, int) and last == len(node):
        node.append(value)
    else:
        node[last] = value


def settings(stack: str, edits: Mapping[str, Any] | None = None, base: Mapping[str, Any] | None = None
             ) -> dict[str, Any]:
    """Pulumi.<stack>.yaml's settings (or `base`), with each edit set at its config path."""
    config = copy.deepcopy(dict(base) if base is not None else stack_config(stack))
    for path, value in (edits or {}).items():
        set_path(config, path, copy.deepcopy(value))
    return config


def deploy(stack: str, config: Mapping[str, Any]) -> Registry:
    """A first `pulumi up` of the stack with exactly these settings."""
    return Harness().run_main(stack, dict(config))


def redeploy(stack: str, config: Mapping[str, Any], previous: Registry) -> Registry:
    """The next `pulumi up`, on the stack `previous` deployed: the program reads its `settings` back."""
    deployed = {"settings": resolve(previous.exports["settings"])}
    return Harness().run_main(stack, dict(config), deployed=deployed)
