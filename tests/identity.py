"""Resource identity as the Pulumi engine sees it, and the reviewed snapshots that pin it.

The engine knows a resource by its URN: `urn:pulumi:<stack>::<project>::<parent types$...$type>::<name>`,
so its type, its name and the types of its parent chain. A URN that changes between two `pulumi up`s is
a delete and a create: a topic with its data, a reinstalled Knative, a new Kafka CA, rotated passwords.
So is a resource moved to another explicit provider, and, for the Kubernetes provider, a new
`clusterIdentifier` (pulumi-kubernetes replaces the provider, and with it every object, when it changes).

`tests/snapshots/<name>.json` records, for each shipped stack (and for prod with every optional resource,
`prod-every-option`), every resource's URN and its explicit provider (and each Kubernetes provider's
cluster identifier). `tests/test_identity.py` fails on any
difference, except a URN renamed with an alias that names the old one (the engine then moves the
resource), until the snapshot is rewritten on purpose:

    UPDATE_SNAPSHOTS=1 scripts/test -k identity      (then review the diff of tests/snapshots/)

The mocked monitor names resources its own way (only the parent's last type); the URNs here are the
engine's, computed from the recorded types, names and parents.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import PROJECT, ROOT, Harness, Registration, Registry, stack_config

SNAPSHOTS = ROOT / "tests" / "snapshots"
ROOT_STACK = "pulumi:pulumi:Stack"
REGENERATE = "UPDATE_SNAPSHOTS=1 scripts/test -k identity"


def every_option() -> dict[str, Any]:
    """prod's settings plus a function that uses every optional resource: a public Service, an Azure
    workload identity, a load producer with its own KafkaUser, the HPA autoscaling class; a function reading
    another's dead letters; lag-driven consumers (the KEDA add-on, eventing-kafka's ConfigMaps); and a CI
    principal given Kubernetes access."""
    prod = stack_config("prod")
    ci = {"objectId": "8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b", "type": "ServicePrincipal"}
    billing = {"name": "billing", "namespace": "payments", "topic": prod["functions"][0]["topic"], "public": True,
               "workloadIdentity": True, "loadProducer": True, "autoscaling": {"class": "hpa", "metric": "cpu"}}
    replay = {"name": "replay", "namespace": "payments", "topic": f"{billing['topic']}-dlq",
              "deadLetter": {"enabled": False}}
    return {"cluster": {**prod["cluster"], "deployerAccess": {"additionalPrincipals": [ci]}},
            "functions": [*prod["functions"], billing, replay], "consumerScaling": {"enabled": True}}


def local_every_option() -> dict[str, Any]:
    """local with what only an existing cluster has: KEDA installed from its chart."""
    return {"consumerScaling": {"enabled": True}}


# What is pinned: name -> (stack file, settings over it)
VARIANTS: dict[str, tuple[str, Any]] = {
    "dev": ("dev", None), "local": ("local", None), "prod": ("prod", None),
    "prod-every-option": ("prod", every_option),
    "local-every-option": ("local", local_every_option),
}


def render(harness: Harness, name: str) -> Registry:
    stack, overrides = VARIANTS[name]
    return harness.run_main(stack, overrides() if overrides else None)


def make_urn(stack: str, project: str, parent_type: str, typ: str, name: str) -> str:
    """The engine's URN (resource.NewURN): the parent's qualified type, unless the parent is the stack."""
    qualified = f"{parent_type}${typ}" if parent_type and parent_type != ROOT_STACK else typ
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def qualified_type(urn: str) -> str:
    return urn.split("::")[2]


def stack_of(urn: str) -> str:
    return urn.split("::")[0].removeprefix("urn:pulumi:")


class Urns:
    """Engine URNs of what one render registered, and the URNs each resource's aliases stand for."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._urns: dict[str, str] = {}

    def of(self, r: Registration) -> str:
        if r.urn not in self._urns:
            parent = self.registry.registrations.get(r.parent)
            parent_type = qualified_type(self.of(parent)) if parent is not None else ""
            self._urns[r.urn] = make_urn(stack_of(r.urn), PROJECT, parent_type, r.type, r.name)
        return self._urns[r.urn]

    def engine(self, urn: str) -> str:
        """A URN the program handed out (the mock's), as the engine has it; others are taken as they are."""
        r = self.registry.registrations.get(urn)
        return self.of(r) if r is not None else urn

    def aliases(self, r: Registration) -> set[str]:
        """The old URNs the engine takes `r` for: its own aliases, and (as the engine does for the children
        of an aliased parent) its name and type under each alias of its parent."""
        stack = stack_of(r.urn)
        parent = self.registry.registrations.get(r.parent)
        parent_type = qualified_type(self.of(parent)) if parent is not None else ""
        found: set[str] = set()
        for alias in r.alias_specs:
            if alias.get("urn"):
                found.add(self.engine(alias["urn"]))
                continue
            spec = alias.get("spec") or {}
            if spec.get("noParent"):
                old_parent = ""
            elif spec.get("parentUrn"):
                old_parent = qualified_type(self.engine(spec["parentUrn"]))
            else:
                old_parent = parent_type
            found.add(make_urn(spec.get("stack") or stack, spec.get("project") or PROJECT, old_parent,
                               spec.get("type") or r.type, spec.get("name") or r.name))
        if parent is not None:
            for old in self.aliases(parent):
                found.add(make_urn(stack, PROJECT, qualified_type(old), r.type, r.name))
        return found


def identities(registry: Registry) -> dict[str, dict[str, str]]:
    """URN -> what else decides the resource's identity: its explicit provider (its URN) and, for a
    Kubernetes provider, its cluster identifier."""
    urns = Urns(registry)
    found: dict[str, dict[str, str]] = {}
    for r in registry.all():
        entry: dict[str, str] = {}
        if r.provider_urn:
            entry["provider"] = urns.engine(r.provider_urn)
        if r.type == "pulumi:providers:kubernetes":
            entry["clusterIdentifier"] = str(r.inputs.get("clusterIdentifier", ""))
        found[urns.of(r)] = entry
    return found


def snapshot_path(stack: str) -> Path:
    return SNAPSHOTS / f"{stack}.json"


def load(stack: str) -> dict[str, dict[str, str]]:
    return json.loads(snapshot_path(stack).read_text())["resources"]


def write(stack: str, registry: Registry) -> None:
    SNAPSHOTS.mkdir(exist_ok=True)
    document = {"regenerate": REGENERATE, "resources": dict(sorted(identities(registry).items()))}
    written = snapshot_path(stack).with_suffix(".json.new")      # whole or not at all: other tests read it
    written.write_text(json.dumps(document, indent=1) + "\n")
    written.replace(snapshot_path(stack))


@dataclass
class Difference:
    """What changed against a snapshot, as the engine would take it."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)              # deleted (or replaced, with `moved`)
    renamed: dict[str, str] = field(default_factory=dict)        # new URN -> old URN its alias names
    changed: dict[str, tuple[dict[str, str], dict[str, str]]] = field(default_factory=dict)
    moved: dict[str, str] = field(default_factory=dict)          # new URN -> old URN, same type and name

    @property
    def breaking(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def report(self) -> str:
        lines = [f"  replaced, same resource under a new URN without an alias to the old one: {old} -> {new}"
                 for new, old in self.moved.items()]
        moved = set(self.moved.values()) | set(self.moved)
        lines += [f"  deleted: {urn}" for urn in self.removed if urn not in moved]
        lines += [f"  added: {urn}" for urn in self.added if urn not in moved]
        lines += [f"  identity changed: {urn}: {old} -> {new}" for urn, (old, new) in self.changed.items()]
        lines += [f"  renamed with an alias (kept): {old} -> {new}" for new, old in self.renamed.items()]
        return "\n".join(lines) or "  (no change)"


def _same_resource(a: str, b: str) -> bool:
    """Same type and name, in another parent chain: the same object, reparented."""
    return qualified_type(a).rsplit("$", 1)[-1] == qualified_type(b).rsplit("$", 1)[-1] and \
        a.rsplit("::", 1)[1] == b.rsplit("::", 1)[1]


def compare(snapshot: dict[str, dict[str, str]], registry: Registry) -> Difference:
    urns = Urns(registry)
    now = identities(registry)
    gone = [u for u in snapshot if u not in now]
    diff = Difference()
    by_urn = {urns.of(r): r for r in registry.all()}
    for urn in (u for u in now if u not in snapshot):
        claimed = [old for old in gone if old in urns.aliases(by_urn[urn]) and old not in diff.renamed.values()]
        if claimed:
            diff.renamed[urn] = claimed[0]
        else:
            diff.added.append(urn)
    diff.removed = [u for u in gone if u not in diff.renamed.values()]
    diff.moved = {new: old for new in diff.added for old in diff.removed if _same_resource(new, old)}
    renamed_back = {old: new for new, old in diff.renamed.items()}
    for urn, entry in now.items():
        old_urn = diff.renamed.get(urn, urn)
        if old_urn not in snapshot:
            continue
        before = {k: renamed_back.get(v, v) for k, v in snapshot[old_urn].items()}
        if before != entry:
            diff.changed[urn] = (snapshot[old_urn], entry)
    return diff
