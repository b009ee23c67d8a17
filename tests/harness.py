"""A mocked Pulumi runtime that records every registration: type, inputs, parent, provider,
options and dependencies (mocks alone do not show depends_on, so the monitor records the requests).
"""
from __future__ import annotations

import base64
import copy
import functools
import gc
import importlib.util
import json
import os
import pickle
import runpy
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from google.protobuf import struct_pb2
from google.protobuf.json_format import MessageToDict
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.sync_await import _sync_await

from components import stack_file

ROOT = Path(__file__).resolve().parents[1]
# The upstream checks beside this checkout (../shared/tools: check-crs, the webhook validators); a user's clone
# may lack them.
SHARED_TOOLS = ROOT.parent / "shared" / "tools"
# The stack files a user edits: the checkout's, or those in $KNATIVE_KAFKA_STACK_FILES (tests/test_user_edits.py
# runs the any-stack tests on an edited copy).
STACK_FILES = Path(os.environ.get("KNATIVE_KAFKA_STACK_FILES") or ROOT)
# Every stack file there: the shipped ones and any a user added.
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in STACK_FILES.glob("Pulumi.*.yaml"))
# Copies of the shipped stack files as the tests expect them. A test session reads these (tests/conftest.py),
# except in tests marked any_stack, which check what must hold for whatever a user wrote in STACK_FILES: so
# editing Pulumi.<stack>.yaml as README says changes the stack, not what the tests expect of it.
FIXTURES = ROOT / "tests" / "fixtures"
SHIPPED_STACKS = ("dev", "local", "prod")     # each with its copy in FIXTURES
# The stacks of STACK_FILES as the parameters of an any-stack test.
USER_STACKS = [pytest.param(name, marks=pytest.mark.any_stack) for name in STACKS]
# Where stack_config and Harness.run_main read Pulumi.<stack>.yaml.
READ_FROM = STACK_FILES
# CI sets CI (to "true"): there a check that cannot run fails instead of being skipped.
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
SECRET_SIG = rpc._special_secret_sig
PROJECT = "knative-kafka"
ORGANIZATION = "organization"         # what the engine names the organization of a file backend's stacks
USER_CREDENTIALS = "azure-native:containerservice:listManagedClusterUserCredentials"
CLIENT_CONFIG = "azure-native:authorization:getClientConfig"
READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"
# Who runs `pulumi up` in the tests: a deployer identity, not one of the admin groups.
DEPLOYER = {"clientId": "3f1d2c4b-5a6e-4f70-8192-a3b4c5d6e7f8", "objectId": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "subscriptionId": "9b2f7d61-1c3e-4a5b-8d9f-0e1a2b3c4d5e",
            "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"}

# What AKS hands out for an Entra ID cluster: kubelogin in device-code mode.
AKS_USER_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: aks-dev
  cluster: {server: "https://aks-dev.hcp.westeurope.azmk8s.io:443", certificate-authority-data: Q0E=}
contexts:
- name: aks-dev
  context: {cluster: aks-dev, user: clusterUser_aks-dev}
current-context: aks-dev
users:
- name: clusterUser_aks-dev
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --environment, AzurePublicCloud, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630,
             --client-id, 80faf920-1908-4b52-b5ef-a8e7bedfc67a, --tenant-id, 11111111-2222-3333-4444-555555555555,
             --login, devicecode]
"""


def load_script(name: str) -> Any:
    """scripts/<name>.py as a module, to call its functions in the test's process."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module          # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def as_the_engine_returns(value: Any) -> Any:
    """Stack outputs cross the engine as protobuf Structs: every number comes back a float."""
    if isinstance(value, dict):
        return {k: as_the_engine_returns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_the_engine_returns(v) for v in value]
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


OIDC_ISSUER = "https://westeurope.oic.prod-aks.azure.com/72f988bf-86f1-41af-91ab-2d7cd011db47/5d4c3b2a/"


class Mocks(pulumi.runtime.Mocks):
    """Provider stand-ins: outputs echo inputs, plus what the real providers compute.

    `deployed`: the stack's outputs from its last `pulumi up` (None: the stack was never deployed).
    """

    def __init__(self, deployed: dict[str, Any] | None = None) -> None:
        self.deployed = deployed

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        outputs = dict(args.inputs)
        if args.typ == "azure-native:containerservice:ManagedCluster":
            outputs["name"] = args.inputs.get("resourceName", args.name)
            outputs["oidcIssuerProfile"] = {"enabled": True, "issuerURL": OIDC_ISSUER}
        elif args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            outputs |= {"name": args.inputs["resourceName"], "clientId": f"client-id-of-{args.name}",
                        "principalId": f"principal-id-of-{args.name}"}
        elif args.typ == "azure-native:resources:ResourceGroup":
            outputs["name"] = args.inputs.get("resourceGroupName", args.name)
        elif args.typ == "tls:index/privateKey:PrivateKey":
            outputs["privateKeyPem"] = "-----BEGIN RSA PRIVATE KEY-----fake"
            outputs["privateKeyPemPkcs8"] = "-----BEGIN PRIVATE KEY-----fake"
        elif args.typ == "tls:index/selfSignedCert:SelfSignedCert":
            outputs["certPem"] = f"-----BEGIN CERTIFICATE-----{args.name}"
        elif args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = f"password-of-{args.name}"
        elif args.typ == "kubernetes:serving.knative.dev/v1:Service":
            # Knative's URL: the cluster-local domain for a cluster-local Service, else config-domain's default.
            md = args.inputs["metadata"]
            local = (md.get("labels") or {}).get("networking.knative.dev/visibility") == "cluster-local"
            outputs["status"] = {"url": f"http://{md['name']}.{md['namespace']}."
                                        f"{'svc.cluster.local' if local else 'example.com'}"}
        return self.resource_id(args, outputs), outputs

    @staticmethod
    def resource_id(args: MockResourceArgs, outputs: dict[str, Any]) -> str:
        """Azure's resource ids for what tests tell apart by id (role assignment scopes); else '<name>-id'."""
        group = f"/subscriptions/{DEPLOYER['subscriptionId']}/resourceGroups/"
        if args.typ == "azure-native:resources:ResourceGroup":
            return group + outputs["name"]
        if args.typ == "azure-native:containerservice:ManagedCluster":
            return f"{group}{args.inputs['resourceGroupName']}/providers/Microsoft.ContainerService/managedClusters/" \
                   + outputs["name"]
        return f"{args.name}-id"

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        if args.token == USER_CREDENTIALS:
            b64 = base64.b64encode(AKS_USER_KUBECONFIG.encode()).decode()
            return {"kubeconfigs": [{"name": "clusterUser", "value": b64}]}, []
        if args.token == CLIENT_CONFIG:
            return dict(DEPLOYER), []
        if args.token == READ_STACK_OUTPUTS:
            assert args.args["name"] == f"{ORGANIZATION}/{PROJECT}/{pulumi.get_stack()}", args.args
            return {"name": args.args["name"], "outputs": as_the_engine_returns(self.deployed or {}),
                    "secretOutputNames": []}, []
        raise AssertionError(f"unexpected invoke {args.token}")


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    remote: bool
    inputs: dict[str, Any]
    dependencies: set[str]
    provider: str                       # "urn::id" of the explicit provider, or ""
    protect: bool
    retain_on_delete: bool
    ignore_changes: list[str]
    custom_timeouts: dict[str, str]
    transforms: int
    secret_inputs: set[str]             # top-level inputs that hold a secret anywhere inside
    replace_on_changes: list[str]
    delete_before_replace: bool
    aliases: int
    # Each alias as the engine gets it: {"urn": ...} or {"spec": {name, type, stack, project, parentUrn,
    # noParent}} (tests/identity.py turns them into the URNs they stand for).
    alias_specs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


def without_secret_wrappers(value: Any) -> Any:
    """Plain data for assertions; which inputs were secret is recorded apart (secret_inputs)."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == SECRET_SIG:
            return without_secret_wrappers(value["value"])
        return {k: without_secret_wrappers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_secret_wrappers(v) for v in value]
    return value


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self.invokes: list[str] = []
        self.events: list[tuple[str, str]] = []     # ("invoke", token) and ("register", type), in order

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        self.events.append(("register", request.type))
        response = super().RegisterResource(request)
        # What the engine does and the mock monitor does not: the outputs a resource lists as
        # additionalSecretOutputs (a password's result, a private key) come back secret.
        for key in set(request.additionalSecretOutputs) & set(response.object.fields):
            value = struct_pb2.Value()
            value.CopyFrom(response.object.fields[key])
            wrapped = response.object.fields[key].struct_value
            wrapped.Clear()
            wrapped.fields[rpc._special_sig_key].string_value = SECRET_SIG
            wrapped.fields["value"].CopyFrom(value)
        if request.type != "pulumi:pulumi:Stack":
            assert response.urn not in self.registrations, f"duplicate URN {response.urn}"
            timeouts = request.customTimeouts
            self.registrations[response.urn] = Registration(
                urn=response.urn, type=request.type, name=request.name, parent=request.parent,
                custom=request.custom, remote=request.remote,
                inputs=without_secret_wrappers(rpc.deserialize_properties(request.object)),
                dependencies=set(request.dependencies),
                provider=request.provider,
                protect=request.protect,
                retain_on_delete=request.retainOnDelete,
                ignore_changes=list(request.ignoreChanges),
                custom_timeouts={k: v for k, v in (("create", timeouts.create), ("update", timeouts.update),
                                                   ("delete", timeouts.delete)) if v},
                transforms=len(request.transforms),
                secret_inputs={k for k, v in MessageToDict(request.object).items() if SECRET_SIG in json.dumps(v)},
                replace_on_changes=list(request.replaceOnChanges),
                delete_before_replace=request.deleteBeforeReplace,
                aliases=len(request.aliases) + len(request.aliasURNs),
                alias_specs=[MessageToDict(a) for a in request.aliases] + [{"urn": u} for u in request.aliasURNs],
            )
        return response

    def Invoke(self, request):  # noqa: N802
        self.invokes.append(request.tok)
        self.events.append(("invoke", request.tok))
        return super().Invoke(request)


@dataclass
class Registry:
    """What one program run registered, with queries a test reads like a specification."""

    registrations: dict[str, Registration]
    exports: dict[str, Any] = field(default_factory=dict)

    def all(self) -> list[Registration]:
        return list(self.registrations.values())

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations.values() if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> Registration:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> Registration:
        found = [r for r in self.registrations.values() if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {[r.type for r in found]}"
        return found[0]

    def kubernetes_objects(self) -> list[Registration]:
        return [r for r in self.registrations.values()
                if r.type.startswith("kubernetes:") and not r.type.startswith("pulumi:providers")]

    def custom_objects(self) -> list[Registration]:
        """Objects of a CRD (group with a dot, not Kubernetes' own *.k8s.io), not pulumi-kubernetes components."""
        return [r for r in self.kubernetes_objects()
                if r.custom and "." in (group := r.type.split(":")[1].split("/")[0]) and not group.endswith(".k8s.io")]

    def waits_for(self) -> dict[str, set[str]]:
        """URN -> URNs it waits for: dependencies, its provider, and a parent that is a resource."""
        graph = {}
        for r in self.registrations.values():
            edges = set(r.dependencies)
            if r.provider_urn:
                edges.add(r.provider_urn)
            parent = self.registrations.get(r.parent)
            if parent is not None and (parent.custom or parent.remote):
                edges.add(parent.urn)
            graph[r.urn] = edges & set(self.registrations)
        return graph

    def depends_on(self, a: Registration, b: Registration) -> bool:
        """a waits for b, directly or transitively."""
        graph, seen, todo = self.waits_for(), set(), [a.urn]
        while todo:
            for d in graph[todo.pop()]:
                if d == b.urn:
                    return True
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return False

    def children_of(self, component: Registration) -> list[Registration]:
        return [r for r in self.registrations.values() if r.parent == component.urn]


def resolve(value: Any) -> Any:
    """The value behind an Output (or plain value holding Outputs); fails if it never resolves."""
    box: list[Any] = []
    _sync_await(pulumi.Output.from_input(value).apply(box.append).future())
    assert box, "the Output never resolved (unknown during a preview?)"
    return box[0]


def is_secret(value: Any) -> bool:
    return bool(_sync_await(pulumi.Output.from_input(value).is_secret()))


SMALL_KAFKA = {"controllers": 1, "brokers": 1, "replicationFactor": 1, "minInsyncReplicas": 1, "storage": "ephemeral",
               "authentication": "none"}


def small_stack(**sections: Any) -> dict[str, Any]:
    """Raw settings of a small valid stack (one Kafka node, restricted API server), plus `sections`."""
    return {"cluster": {"authorizedIpRanges": ["20.50.10.0/24"]}, "kafka": SMALL_KAFKA, **sections}


# What a user writes over the REPLACE placeholders of a shipped stack file (which the program refuses).
PLACEHOLDERS = {
    "00000000-0000-0000-0000-000000000000": "5f0c7e2a-9b1d-4c3e-8f6a-2d4b6c8e0a1f",   # an Entra ID group
    "203.0.113.0/24": "20.50.10.0/24",                                                # a CI egress range
}


def filled(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: filled(v) for k, v in value.items()}
    if isinstance(value, list):
        return [filled(v) for v in value]
    return PLACEHOLDERS.get(value, value) if isinstance(value, str) else value


SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def stack_config(stack: str, placeholders_filled: bool = True, directory: Path | None = None) -> dict[str, Any]:
    """Pulumi.<stack>.yaml's knative-kafka:* settings as the program gets them (components/stack_file.py, the
    scripts' reader: YAML as Pulumi reads it), prefix removed, with its placeholders filled in as a user would
    (unless asked for the file as shipped); from READ_FROM unless another directory is named."""
    path = (directory or READ_FROM) / f"Pulumi.{stack}.yaml"
    stat = path.stat()
    settings = copy.deepcopy(read_stack_file(path, stat.st_mtime_ns, stat.st_size))
    return filled(settings) if placeholders_filled else settings


@functools.lru_cache(maxsize=64)
def read_stack_file(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    """Every render reads a stack file: each version of one is read once (the reader is pure Python)."""
    return stack_file.read(path)


class RenderCache:
    """Whole-program renders by what decides them: the stack, its settings and the outputs of its last
    `pulumi up`. A test run renders the shipped stacks many times with the same settings; a hit starts a
    fresh runtime as a run would (new root stack, config and monitor) and hands out its own copy of what the
    render registered, invoked and exported, so a test may change what it gets and nothing of one test's
    runtime reaches another. Only `Harness.run_main` uses it, and only while `RENDER_CACHE` is set
    (tests/conftest.py: never for a test that patches the program)."""

    def __init__(self) -> None:
        self._renders: dict[str, bytes] = {}
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(stack: str, config: dict[str, Any], deployed: dict[str, Any] | None) -> str:
        return json.dumps([stack, config, deployed], sort_keys=True, default=repr)

    def get(self, key: str) -> tuple[dict[str, Registration], dict[str, tuple[Any, bool]], list[str],
                                     list[tuple[str, str]]] | None:
        stored = self._renders.get(key)
        if stored is None:
            self.misses += 1
            return None
        self.hits += 1
        return pickle.loads(stored)  # noqa: S301 - our own bytes, written by put() in this process

    @staticmethod
    def _settled(value: Any) -> tuple[Any, bool]:
        """An export's value and whether it is secret: read from an Output the run has resolved to plain
        data (without running the event loop again for it), else awaited."""
        if not isinstance(value, pulumi.Output) and _plain(value):
            return value, False
        data = getattr(value, "_data", None)          # pulumi.Output's one future of its resolved state
        if isinstance(value, pulumi.Output) and data is not None and data.done() and not data.cancelled() \
                and data.exception() is None and data.result().is_known and _plain(data.result().value):
            return data.result().value, bool(data.result().is_secret)
        output = pulumi.Output.from_input(value)
        return resolve(output), bool(_sync_await(output.is_secret()))

    def put(self, key: str, monitor: RecordingMonitor, exports: dict[str, Any]) -> None:
        try:
            resolved = {name: self._settled(value) for name, value in exports.items()}
            self._renders[key] = pickle.dumps((monitor.registrations, resolved, monitor.invokes, monitor.events))
        except Exception:  # noqa: BLE001 - what cannot be replayed is rendered again next time
            return


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return isinstance(value, (str, int, float, bool, type(None)))


# Set by tests/conftest.py for the tests that may share renders; None (the default, and in benchmarks)
# renders every time.
RENDER_CACHE: RenderCache | None = None
# The collector's thresholds a test session restores after each program (tests/conftest.py); None (the
# default, and in benchmarks) leaves __main__.py's, as in a `pulumi up` process.
SESSION_GC_THRESHOLDS: tuple[int, int, int] | None = None
# What a test session asks of every program it runs, beside the test's own assertions (tests/conftest.py: the
# upstream webhooks admit its objects); empty in benchmarks, which measure the program alone.
RUN_CHECKS: list[Callable[[Registry], None]] = []


class Harness:
    """A fresh mocked runtime per run: new root stack, new config, new monitor."""

    def __init__(self) -> None:
        self.monitor: RecordingMonitor | None = None

    def _start(self, stack: str, config: dict[str, Any], deployed: dict[str, Any] | None) -> RecordingMonitor:
        flat = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
        pulumi.runtime.reset_options(project=PROJECT, stack=stack, preview=False, organization=ORGANIZATION)
        pulumi.runtime.set_all_config(flat)
        self.monitor = RecordingMonitor(Mocks(deployed))
        pulumi.runtime.set_mocks(self.monitor.mocks, project=PROJECT, stack=stack, preview=False,
                                 monitor=self.monitor, organization=ORGANIZATION)
        return self.monitor

    def run(self, program: Callable[[], Any], stack: str = "test", config: dict[str, Any] | None = None,
            deployed: dict[str, Any] | None = None) -> Registry:
        monitor = self._start(stack, config or {}, deployed)
        try:
            pulumi.runtime.test(program)()
        finally:
            if SESSION_GC_THRESHOLDS is not None:     # __main__.py sets its own, for one program per process
                gc.set_threshold(*SESSION_GC_THRESHOLDS)
        registry = Registry(dict(monitor.registrations))
        for check in RUN_CHECKS:
            check(registry)
        return registry

    def run_main(self, stack: str, overrides: dict[str, Any] | None = None,
                 deployed: dict[str, Any] | None = None) -> Registry:
        """Run the whole __main__.py with Pulumi.<stack>.yaml (plus overrides), as `pulumi up` would,
        on a stack whose last `pulumi up` exported `deployed` (None: a first deploy)."""
        config = {**stack_config(stack), **(overrides or {})}
        cache = RENDER_CACHE
        key = cache.key(stack, config, deployed) if cache is not None else ""
        hit = cache.get(key) if cache is not None else None
        if hit is not None:
            registrations, exports, invokes, events = hit
            monitor = self._start(stack, config, deployed)
            monitor.registrations, monitor.invokes, monitor.events = registrations, invokes, events
            return Registry(dict(registrations), {
                name: pulumi.Output.secret(value) if secret else pulumi.Output.from_input(value)
                for name, (value, secret) in exports.items()})
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        registry = self.run(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"), stack, config,
                            deployed)
        root = pulumi.runtime.get_root_resource()
        registry.exports = dict(root.outputs) if root is not None else {}  # type: ignore[attr-defined]
        if cache is not None and self.monitor is not None:
            cache.put(key, self.monitor, registry.exports)
        return registry
