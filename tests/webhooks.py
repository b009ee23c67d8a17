"""The admission webhooks' own code judges what the program registers.

Mocks accept any object; Knative Serving's and eventing-kafka's webhooks do not. ../shared/tools/webhooks
holds their defaulting and validation code, built from the pinned tags (knative-v1.23.0), and `admit.py`
beside it runs them on a render (its README gives the protocol): with an old render, each object is an
update of the object of the same URN (immutable fields, update-only rules), unless the engine replaces it.

`Harness.run` admits every Knative Service, KafkaSource and KafkaSink of each program it runs, as a
create, and fails the test on a denial; the day-2 layer (tests/day2.py) admits each edit as an update of
the object before it (a create where it plans a replacement). Without ../shared (a user's clone) nothing
is admitted and `test_webhooks.py` says why in the summary; in CI (`CI=true`) every program run fails.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Collection
from functools import cache
from types import ModuleType
from typing import Any

from harness import IN_CI, SHARED_TOOLS, Registration, Registry

WEBHOOKS = SHARED_TOOLS / "webhooks"
MISSING = f"the upstream webhook validators are not in {WEBHOOKS} (a clone without ../shared)"
# The tag the validators were built from (WEBHOOKS/README.md): what they say holds for these releases only.
VALIDATED_KNATIVE = "1.23.0"
KNATIVE_SERVICE = "kubernetes:serving.knative.dev/v1:Service"


@cache
def _tool(name: str) -> ModuleType | None:
    """../shared/tools/webhooks/<name>.py, run as it is (it is the tool's, not the project's)."""
    path = WEBHOOKS / f"{name}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"webhooks_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _admit() -> ModuleType | None:
    return _tool("admit")


def available() -> bool:
    return _admit() is not None


def judged_types() -> frozenset[str]:
    """The resource types the webhooks judge (those admit.py hands to a validator)."""
    admit = _admit()
    return frozenset(admit.VALIDATORS) if admit is not None else frozenset()


def as_sent(value: Any) -> Any:
    """An input as the provider sends it: numbers cross the engine as floats, and Kubernetes' JSON
    carries a whole number as an integer (Go's decoder refuses 300.0 for an int64 field)."""
    if isinstance(value, dict):
        return {k: as_sent(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_sent(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _render(registry: Registry) -> dict[str, Any]:
    """A registry in the form admit.py reads (../shared/tools/crcheck/render.py's)."""
    return {"resources": [{"urn": r.urn, "type": r.type, "inputs": as_sent(r.inputs),
                           "options": {"replaceOnChanges": r.replace_on_changes}}
                          for r in registry.all()]}


def verdicts(registry: Registry, before: Registry | None = None, replaced: Collection[str] = ()) -> dict[str, str]:
    """URN -> "" (admitted) or the webhook's denial, for every object of a judged type. With `before`, an
    object it has too is admitted as an update of that one, unless the engine replaces it (`replaced`, or a
    replaceOnChanges field or its name changed): then it is a create."""
    admit = _admit()
    if admit is None:
        return {}
    old = None
    if before is not None:
        old = _render(Registry({u: r for u, r in before.registrations.items() if u not in replaced}))
    found = {}
    for urn, ok, message in admit.run(_render(registry), old):
        found[urn] = "" if ok else (message or "denied")
    judged = {r.urn for r in registry.all() if r.type in admit.VALIDATORS}
    # A validator that crashed or answered fewer lines is reported under its own name: never a silent pass.
    assert set(found) == judged, f"the webhook validators did not answer for every object: {found}"
    return found


def pod_security(registry: Registry) -> dict[str, list[str]]:
    """Knative Service name -> how the pod Knative's reconcilers would build for it (queue-proxy included)
    breaks Pod Security `restricted`, which the function namespaces enforce ([] where it does not)."""
    podsecurity = _tool("podsecurity")
    if podsecurity is None:
        return {}
    found = dict(podsecurity.run(_render(registry)))
    services = {r.inputs["metadata"]["name"] for r in registry.of_type(KNATIVE_SERVICE)}
    assert set(found) == services, f"Knative's pod builder did not answer for every Service: {sorted(found)}"
    return found


def denials(registry: Registry, before: Registry | None = None, replaced: Collection[str] = ()) -> dict[str, str]:
    return {urn: message for urn, message in verdicts(registry, before, replaced).items() if message}


def describe(registry: Registry, denied: dict[str, str]) -> str:
    def name(urn: str) -> str:
        r: Registration | None = registry.registrations.get(urn)
        return f"{r.type.rsplit(':', 1)[1]} {r.name}" if r is not None else urn
    return "\n".join(f"  {name(urn)}: {message}" for urn, message in denied.items())


def require_admitted(registry: Registry) -> None:
    """Fail when a webhook would refuse an object the program registers, as `pulumi up` would fail."""
    assert available() or not IN_CI, f"{MISSING}: CI admits every render"
    denied = denials(registry)
    assert not denied, "the upstream admission webhooks refuse what the program registers:\n" + \
        describe(registry, denied)
