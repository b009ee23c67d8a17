#!/usr/bin/env python3
"""scripts/scale-demo <stack> [function]: the recipe's experiment in one command.

Sends a burst of records to a function's topic from a pod in the cluster (the function's `commands.load`
output), samples the function's replicas, its KafkaSource's consumers, eventing-kafka's dispatcher pods and the
consumer group's lag until the lag is back to zero and replicas and consumers are back down, and ends with a
summary, a CSV of the samples and a PNG: replicas, consumers and dispatcher pods over time against the
partition bound, lag on a second axis, one time axis.

Reads only what the stack exports (`pulumi stack output`) and the cluster (`kubectl`):
- replicas: the Deployments Knative makes for the function's revisions (spec.replicas is what the
  autoscaler asks for, status.readyReplicas what serves);
- consumers: the KafkaSource's status.consumers, its consumer group's replicas (eventing-kafka-broker
  control-plane/pkg/reconciler/source/source.go), which KEDA moves with the lag under consumerScaling;
- dispatcher pods: the ready replicas of StatefulSet knative-eventing/kafka-source-dispatcher, which the
  kafka-controller sizes to the consumers of all sources;
- lag, records produced, dead letters, partitions: Strimzi's Kafka Exporter, scraped through the API
  server's pod proxy. One HTTP GET a sample, no Kafka client and no credentials: the exporter connects
  with its own certificate, so this works on authenticated stacks too (a kafka-consumer-groups.sh pod
  would start a JVM every sample and need a KafkaUser allowed to describe the group).

Exit codes: 0 drained and back down; 1 timed out or the producer failed (the samples are still written);
2 a bad stack, function or a cluster it cannot reach (one line on stderr); 130/143 interrupted. The
producer pod is deleted on every way out.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import secrets
import shlex
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TextIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PROG = "scale-demo"
INSTALL = "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt"
EXPORTER_PORT = 9404                      # Strimzi's Kafka Exporter: metrics port of its pod (no Service)
KUBECTL_TIMEOUT = 60                      # seconds a kubectl call may take before the cluster counts as gone
DEMO_LABEL = "app.kubernetes.io/name=scale-demo"
# Tests replay a scripted timeline through stand-in kubectl and pulumi: each sample then counts as this many
# seconds (instead of the wall clock), and the picture's title says it is a replay.
REPLAY_SECONDS = "SCALE_DEMO_REPLAY_SECONDS"
BOOTSTRAP = re.compile(r"^(?P<kafka>[a-z0-9-]+)-kafka-bootstrap\.(?P<namespace>[a-z0-9-]+)\.svc(?:[.:]|$)")
SAMPLE_FIELDS = ("seconds", "desired", "ready", "consumers", "dispatchers", "lag", "produced", "delivered",
                 "dead_letters", "producer")
DISPATCHERS = ("knative-eventing", "statefulset/kafka-source-dispatcher")
# eventing-kafka-broker knative-v1.23.0 control-plane/pkg/autoscaler/autoscaler_api.go, keda/keda.go
CONSUMER_SCALING = "autoscaling.eventing.knative.dev/"
KEDA_CLASS = "keda.autoscaling.knative.dev"


class DemoError(Exception):
                """A bad stack or function, or a cluster out of reach: one line on stderr, exit code 2."""


class Interrupted(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


# --- the stack ------------------------------------------------------------------------------------------

def pulumi(*args: str) -> str:
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    # The backend scripts/deploy uses, unless the caller chose another (README, "The two commands").
    env.setdefault("PULUMI_BACKEND_URL", f"file://{Path.home()}/.pulumi-knative-kafka")
    try:
        result = subprocess.run(["pulumi", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=120, check=False)
    except FileNotFoundError:
        raise DemoError("the Pulumi CLI is not on PATH (https://www.pulumi.com/docs/install/)") from None
    except subprocess.TimeoutExpired:
        raise DemoError(f"pulumi {' '.join(args[:2])} did not answer within 120 s") from None
    if result.returncode != 0:
        raise DemoError(last_line(result.stderr or result.stdout))
    return result.stdout


def stack_files() -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def read_stack_file(stack: str) -> dict[str, Any]:
    """The stack file's settings as `pulumi up` reads them (components/stack_file.py): a file Pulumi would refuse is
    refused in the same words, before any pulumi or kubectl call."""
    if stack not in stack_files():
        raise DemoError(f"no stack file Pulumi.{stack}.yaml (stacks: {', '.join(stack_files())})")
    try:
        from components import stack_file
    except ModuleNotFoundError as missing:          # a Python without the requirements: no .venv yet
        raise DemoError(f"{missing.name} is not installed: run `{INSTALL}` in {ROOT} (scripts/test does it too)"
                        ) from None
    try:
        return stack_file.read(ROOT / f"Pulumi.{stack}.yaml")
    except stack_file.ConfigError as e:
        raise DemoError(str(e)) from None


def read_outputs(stack: str) -> dict[str, Any]:
    try:
        outputs = json.loads(pulumi("stack", "output", "--stack", stack, "--json"))
    except DemoError as e:
        raise DemoError(f"cannot read the outputs of stack {stack}: {e}") from None
    except json.JSONDecodeError:
        raise DemoError(f"pulumi stack output --stack {stack} --json did not print JSON") from None
    if not isinstance(outputs, dict) or not isinstance(outputs.get("functions"), dict):
        raise DemoError(f"stack {stack} has no functions output: deploy it first (scripts/deploy {stack})")
    return outputs


def existing_cluster(settings: dict[str, Any]) -> tuple[str | None, str | None]:
    """kubeconfig and context of a stack on an existing cluster (its stack file says them; it exports none)."""
    cluster = settings.get("cluster")
    cluster = cluster if isinstance(cluster, dict) else {}
    kubeconfig, context = cluster.get("kubeconfig"), cluster.get("context")
    return (os.path.expanduser(kubeconfig) if isinstance(kubeconfig, str) else None,
            context if isinstance(context, str) else None)


# --- the load pod ---------------------------------------------------------------------------------------

@dataclass
class Load:
    namespace: str
    topic: str
    pod: str
    run: list[str]                     # kubectl arguments that start the pod


def load_pod(command: str, pod: str, records: int, size: int, rate: int) -> Load:
    """The function's `commands.load` as a detached pod named `pod`, sending `records` records of `size`
    bytes at `rate` records/s (-1: as fast as Kafka takes them)."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        tokens = []
    if tokens[:1] != ["kubectl"] or "--" not in tokens or "run" not in tokens:
        raise DemoError(f"the function's load command is not a kubectl run this script knows: {command[:80]}")
    cut = tokens.index("--")
    head, tail = tokens[1:cut], tokens[cut + 1:]
    run: list[str] = []
    namespace, original = "default", ""
    i = 0
    while i < len(head):
        token = head[i]
        if token in ("-n", "--namespace") and i + 1 < len(head):
            namespace = head[i + 1]
            i += 2
            continue
        if token == "run" and i + 1 < len(head):
            original = head[i + 1]
            run += ["run", pod]
            i += 2
            continue
        if token in ("-i", "-t", "-ti", "-it", "--rm", "--stdin", "--tty", "--attach"):
            i += 1          # detached: the script watches the pod and deletes it itself
            continue
        if token.startswith("--overrides="):
            overrides = json.loads(token.split("=", 1)[1])
            for container in ((overrides.get("spec") or {}).get("containers") or []):
                if container.get("name") == original:      # kubectl names the container after the pod
                    container["name"] = pod
            token = "--overrides=" + json.dumps(overrides, separators=(",", ":"))
        run.append(token)
        i += 1
    run.append(f"--labels={DEMO_LABEL}")
    wanted = {"--num-records": str(records), "--record-size": str(size), "--throughput": str(rate)}
    missing = [flag for flag in wanted if flag not in tail[:-1]]
    if missing or "--topic" not in tail[:-1]:
        raise DemoError(f"the function's load command lacks {', '.join(missing or ['--topic'])}")
    args = [wanted.get(tail[j - 1], token) if j else token for j, token in enumerate(tail)]
    return Load(namespace, tail[tail.index("--topic") + 1], pod, [*run, "-n", namespace, "--", *args])


# --- what the cluster says ------------------------------------------------------------------------------

METRIC = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus text format: (name, labels, value) of every labelled sample."""
    found = []
    for line in text.splitlines():
        m = METRIC.match(line)
        if m:
            try:
                value = float(m.group("value"))
            except ValueError:
                continue
            found.append((m.group("name"), dict(LABEL.findall(m.group("labels"))), value))
    return found


@dataclass
class Reading:
    partitions: int
    end: int            # records ever written to the topic (sum of its partitions' end offsets)
    lag: int            # records of the topic the group has not committed yet
    dead_letters: int   # end offset of the dead-letter topic


def reading(text: str, topic: str, group: str, dead_letter_topic: str | None) -> Reading | None:
    """The exporter's view of the function's topic and group; None when it does not know the topic yet.
    A partition the group has no committed offset for (kafka_consumergroup_lag -1, or absent) lags by
    everything it holds: the KafkaSource starts at `initialOffset: earliest` by default."""
    partitions = None
    end: dict[str, float] = {}
    oldest: dict[str, float] = {}
    lag: dict[str, float] = {}
    dead = 0.0
    for name, labels, value in metrics(text):
        if name == "kafka_topic_partitions" and labels.get("topic") == topic:
            partitions = int(value)
        elif name == "kafka_topic_partition_current_offset":
            if labels.get("topic") == topic:
                end[labels.get("partition", "")] = value
            elif dead_letter_topic and labels.get("topic") == dead_letter_topic:
                dead += value
        elif name == "kafka_topic_partition_oldest_offset" and labels.get("topic") == topic:
            oldest[labels.get("partition", "")] = value
        elif name == "kafka_consumergroup_lag" and labels.get("topic") == topic and \
                labels.get("consumergroup") == group:
            lag[labels.get("partition", "")] = value
    if partitions is None:
        return None
    total_lag = sum(lag[p] if lag.get(p, -1) >= 0 else end[p] - oldest.get(p, 0) for p in end)
    return Reading(partitions, int(sum(end.values())), int(total_lag), int(dead))


@dataclass
class Sample:
    seconds: float
    desired: int
    ready: int
    consumers: int
    dispatchers: int
    lag: int
    produced: int
    delivered: int
    dead_letters: int
    producer: str

    def row(self) -> list[Any]:
        return [f"{self.seconds:g}", self.desired, self.ready, self.consumers, self.dispatchers, self.lag,
                self.produced, self.delivered, self.dead_letters, self.producer]


@dataclass
class Result:
    stack: str
    function: str
    topic: str
    records: int
    size: int
    rate: int
    partitions: int
    max_scale: int | None
    ordered: bool
    floor: int
    dead_letter_topic: str | None
    replay: bool
    consumer_floor: int | None = None  # KEDA's min-scale for the source; None: its consumers are fixed
    samples: list[Sample] = field(default_factory=list)
    drained_at: float | None = None
    down_at: float | None = None
    outcome: str = "running"           # drained | timed out | producer failed
    producer_summary: str = ""

    @property
    def bound(self) -> int | None:
        """Replicas that can work at once: one event in flight per partition with ordered delivery."""
        if self.ordered:
            return self.partitions
        return self.max_scale

    @property
    def peak(self) -> int:
        return max((max(s.desired, s.ready) for s in self.samples), default=0)

    @property
    def above_bound(self) -> int:
        return max(0, self.peak - self.bound) if self.ordered and self.bound is not None else 0

    @property
    def peak_consumers(self) -> int:
        return max((s.consumers for s in self.samples), default=0)

    def consumers_followed(self) -> tuple[float | None, float | None]:
        """(seconds from the first lag to the consumers' peak, seconds from the drain to the consumers back at
        their floor); None where it did not happen."""
        loaded = next((s.seconds for s in self.samples if s.lag > 0), None)
        up = next((s.seconds for s in self.samples if s.consumers == self.peak_consumers and loaded is not None
                   and s.seconds >= loaded), None)
        down = None
        if self.drained_at is not None and self.consumer_floor is not None:
            down = next((s.seconds for s in self.samples
                         if s.seconds >= self.drained_at and s.consumers <= self.consumer_floor), None)
        return (None if up is None or loaded is None else up - loaded,
                None if down is None or self.drained_at is None else down - self.drained_at)


# --- the run --------------------------------------------------------------------------------------------

class Demo:
    def __init__(self, args: argparse.Namespace, out: TextIO | None = None) -> None:
        self.args = args
        self.out = out or sys.stdout            # the stream of the call, not of the import
        self.tty = self.out.isatty()
        self.kube_flags: list[str] = []
        self.kubeconfig_file: str | None = None
        self.pod: str | None = None            # the producer pod, once its creation was asked for
        self.namespace = "default"
        self.progress_shown = False
        replay = os.environ.get(REPLAY_SECONDS)
        self.replay_step = float(replay) if replay else None
        self.started = time.monotonic()
        self.sample_count = 0

    # clock: wall time, or the replayed timeline's
    def clock(self) -> float:
        if self.replay_step is not None:
            return self.sample_count * self.replay_step
        return time.monotonic() - self.started

    def kubectl(self, *args: str, what: str) -> str:
        command = ["kubectl", *self.kube_flags, "--request-timeout=30s", *args]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=KUBECTL_TIMEOUT, check=False)
        except FileNotFoundError:
            raise DemoError("kubectl is not on PATH (https://kubernetes.io/docs/tasks/tools/)") from None
        except subprocess.TimeoutExpired:
            raise DemoError(f"{what}: kubectl did not answer within {KUBECTL_TIMEOUT} s") from None
        if result.returncode != 0:
            raise DemoError(f"{what}: {last_line(result.stderr or result.stdout)}")
        return result.stdout

    def kubectl_json(self, *args: str, what: str) -> dict[str, Any]:
        text = self.kubectl(*args, "-o", "json", what=what)
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise DemoError(f"{what}: kubectl did not print JSON") from None
        return data if isinstance(data, dict) else {}

    def connect(self, stack: str, settings: dict[str, Any], outputs: dict[str, Any]) -> None:
        if "kubeconfig" in outputs:
            # AKS: the provider's kubeconfig (kubelogin exec, no static credential), readable by the user only.
            try:
                kubeconfig = pulumi("stack", "output", "kubeconfig", "--show-secrets", "--stack", stack)
            except DemoError as e:
                raise DemoError(f"cannot read the kubeconfig of stack {stack}: {e}") from None
            fd, self.kubeconfig_file = tempfile.mkstemp(prefix=f"{PROG}-{stack}-", suffix=".yaml")
            with os.fdopen(fd, "w") as f:        # mkstemp: mode 600
                f.write(kubeconfig)
            self.kube_flags = ["--kubeconfig", self.kubeconfig_file]
        else:
            path, context = existing_cluster(settings)
            self.kube_flags = (["--kubeconfig", path] if path else []) + (["--context", context] if context else [])

    def run(self) -> int:
        a = self.args
        settings = read_stack_file(a.stack)
        outputs = read_outputs(a.stack)
        functions: dict[str, Any] = outputs["functions"]
        name = a.function
        if name is None:
            if len(functions) != 1:
                raise DemoError(f"stack {a.stack} has {len(functions)} functions; name one: "
                                f"{', '.join(sorted(functions))}")
            name = next(iter(functions))
        if name not in functions:
            raise DemoError(f"no function {name!r} in stack {a.stack} (functions: "
                            f"{', '.join(sorted(functions)) or 'none'})")
        fn = functions[name] or {}
        command = (fn.get("commands") or {}).get("load")
        if not command:
            raise DemoError(f"function {name} has no load command: its Kafka requires authentication; set "
                            f"loadProducer: true on the function in Pulumi.{a.stack}.yaml and pulumi up")
        group = fn.get("consumerGroup")
        bootstrap = BOOTSTRAP.match(str(outputs.get("bootstrapServers", "")))
        if not group or not bootstrap:
            raise DemoError(f"stack {a.stack} exports no consumerGroup or bootstrapServers: redeploy it")
        self.pod = None
        load = load_pod(command, f"{PROG}-{secrets.token_hex(3)}", a.records, a.size, a.rate)
        self.namespace = load.namespace
        self.connect(a.stack, settings, outputs)

        unreachable = f"cannot reach the cluster of stack {a.stack}"
        self.kubectl("get", "namespace", load.namespace, "-o", "name", what=unreachable)
        objects = self.kubectl_json("-n", load.namespace, "get", f"ksvc/{name}", f"kafkasource/{fn.get('kafkaSource')}",
                                    what=f"function {name} is not in the cluster")
        service, source = self.service_and_source(objects)
        annotations = (((service.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
            "annotations") or {}
        max_scale = int(annotations["autoscaling.knative.dev/max-scale"]) \
            if "autoscaling.knative.dev/max-scale" in annotations else None
        min_scale = int(annotations.get("autoscaling.knative.dev/min-scale", "0"))
        ordered = (source.get("spec") or {}).get("ordering", "ordered") == "ordered"
        scaling = (source.get("metadata") or {}).get("annotations") or {}
        consumer_floor = int(scaling.get(CONSUMER_SCALING + "min-scale", "0")) \
            if scaling.get(CONSUMER_SCALING + "class") == KEDA_CLASS else None

        kafka, kafka_ns = bootstrap.group("kafka"), bootstrap.group("namespace")
        exporter = self.kubectl("-n", kafka_ns, "get", "pods", "-l", f"strimzi.io/name={kafka}-kafka-exporter",
                                "--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].metadata.name}",
                                what=unreachable).split()
        if not exporter:
            raise DemoError(f"no Kafka Exporter runs for {kafka} in namespace {kafka_ns}: set exporter.enabled "
                            f"true under knative-kafka:kafka (the default) and pulumi up")
        scrape = f"/api/v1/namespaces/{kafka_ns}/pods/{exporter[0]}:{EXPORTER_PORT}/proxy/metrics"
        dlq = fn.get("deadLetterTopic")

        def read() -> Reading:
            found = reading(self.kubectl("get", "--raw", scrape, what=unreachable), load.topic, group, dlq)
            if found is None:
                raise DemoError(f"the Kafka Exporter of {kafka} reports nothing about topic {load.topic}")
            return found

        base = read()
        first = self.replicas(name, load.namespace)
        result = Result(a.stack, name, load.topic, a.records, a.size, a.rate, base.partitions, max_scale, ordered,
                        floor=max(min_scale, min(first[0], 1)), dead_letter_topic=dlq,
                        replay=self.replay_step is not None, consumer_floor=consumer_floor)
        self.say_start(result)
        self.pod = load.pod      # from here on, every way out deletes it
        self.kubectl(*load.run, what=f"cannot start the producer pod in namespace {load.namespace}")

        phase = "Pending"
        self.started = time.monotonic()
        while True:
            desired, ready = self.replicas(name, load.namespace)
            consumers, dispatchers = self.consumers(str(fn.get("kafkaSource")), load.namespace)
            now = read()
            if phase not in ("Succeeded", "Failed"):
                phase = self.kubectl("-n", load.namespace, "get", "pod", load.pod, "-o",
                                     "jsonpath={.status.phase}", what=unreachable).strip() or "Pending"
            produced = max(0, now.end - base.end)
            delivered = min(produced, max(0, produced - (now.lag - base.lag)))
            sample = Sample(round(self.clock(), 1), desired, ready, consumers, dispatchers, now.lag, produced,
                            delivered, max(0, now.dead_letters - base.dead_letters), phase)
            result.samples.append(sample)
            self.show(result, sample)
            finished = phase == "Succeeded" or produced >= a.records
            if result.drained_at is None and finished and now.lag == 0:
                result.drained_at = sample.seconds
            consumers_down = result.consumer_floor is None or consumers <= result.consumer_floor
            if result.drained_at is not None and desired <= result.floor and ready <= result.floor and consumers_down:
                result.down_at, result.outcome = sample.seconds, "drained"
                break
            if phase == "Failed":
                result.outcome = "producer failed"
                break
            if sample.seconds >= a.timeout:
                result.outcome = "timed out"
                break
            self.sample_count += 1
            time.sleep(a.interval)
        if phase in ("Succeeded", "Failed"):
            logs = self.kubectl("-n", load.namespace, "logs", load.pod, "--tail=20", what=unreachable)
            result.producer_summary = last_line(logs)
        self.end_progress()
        self.finish(result)
        return 0 if result.outcome == "drained" else 1

    @staticmethod
    def service_and_source(objects: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        items = objects.get("items") if objects.get("kind") == "List" else [objects]
        by_kind = {item.get("kind"): item for item in items or [] if isinstance(item, dict)}
        return by_kind.get("Service") or {}, by_kind.get("KafkaSource") or {}

    def replicas(self, service: str, namespace: str) -> tuple[int, int]:
        """(desired, ready) over the Deployments of the function's revisions."""
        data = self.kubectl_json("-n", namespace, "get", "deployments", "-l", f"serving.knative.dev/service={service}",
                                 what=f"cannot reach the cluster of stack {self.args.stack}")
        desired = ready = 0
        for d in data.get("items") or []:
            desired += int((d.get("spec") or {}).get("replicas") or 0)
            ready += int((d.get("status") or {}).get("readyReplicas") or 0)
        return desired, ready

    def consumers(self, source: str, namespace: str) -> tuple[int, int]:
        """(the KafkaSource's consumers, the dispatcher pods ready to run them)."""
        unreachable = f"cannot reach the cluster of stack {self.args.stack}"
        status = self.kubectl_json("-n", namespace, "get", f"kafkasource/{source}", what=unreachable).get("status")
        dispatchers = self.kubectl_json("-n", DISPATCHERS[0], "get", DISPATCHERS[1], what=unreachable).get("status")
        return int((status or {}).get("consumers") or 0), int((dispatchers or {}).get("readyReplicas") or 0)

    def cleanup(self) -> str | None:
        """Delete the producer pod (if its creation was asked for) and the kubeconfig copy. What became of
        the pod, for the last line the user sees; None without a pod."""
        outcome = None
        if self.pod is not None:
            where = f"{self.namespace}/{self.pod}"
            try:
                self.kubectl("-n", self.namespace, "delete", "pod", self.pod, "--ignore-not-found", "--wait=false",
                             what="kubectl delete")
                outcome = f"producer pod {where} deleted"
            except DemoError as e:
                outcome = (f"producer pod {where} NOT deleted ({e}); delete it: kubectl -n {self.namespace} "
                           f"delete pod {self.pod}")
            self.pod = None
        if self.kubeconfig_file is not None:
            Path(self.kubeconfig_file).unlink(missing_ok=True)
            self.kubeconfig_file = None
        return outcome

    # --- what the user sees ---------------------------------------------------------------------------------

    def say_start(self, r: Result) -> None:
        rate = "as fast as Kafka takes them" if r.rate < 0 else f"at {r.rate} records/s"
        print(f"{r.stack}/{r.function}: {r.records} records of {r.size} bytes onto {r.topic} ({r.partitions} "
              f"partitions), {rate}", file=self.out)
        if self.tty:
            print(f"{'time':>6} {'desired':>7} {'ready':>5} {'consumers':>9} {'dispatchers':>11} {'lag':>9} "
                  f"{'delivered':>9} {'dead':>5}  producer", file=self.out)

    def show(self, r: Result, s: Sample) -> None:
        if not self.tty:
            print(f"t={s.seconds:g}s desired={s.desired} ready={s.ready} consumers={s.consumers} "
                  f"dispatchers={s.dispatchers} lag={s.lag} produced={s.produced} delivered={s.delivered} "
                  f"dead_letters={s.dead_letters} producer={s.producer}", file=self.out, flush=True)
            return
        row = (f"{s.seconds:>5g}s {s.desired:>7} {s.ready:>5} {s.consumers:>9} {s.dispatchers:>11} {s.lag:>9} "
               f"{s.delivered:>9} {s.dead_letters:>5}  {s.producer}")
        done = s.delivered / r.records if r.records else 1.0
        bar = "#" * round(20 * min(done, 1.0))
        progress = (f"[{bar:<20}] {100 * done:3.0f}% delivered  lag {s.lag}  replicas {s.ready}/{s.desired}"
                    f" (bound {r.bound if r.bound is not None else '-'})  consumers {s.consumers}  {s.seconds:g}s")
        self.out.write(f"\r\033[K{row}\n{progress}")
        self.out.flush()
        self.progress_shown = True

    def end_progress(self) -> None:
        if self.progress_shown:
            self.out.write("\r\033[K")
            self.out.flush()
            self.progress_shown = False

    def finish(self, r: Result) -> None:
        out_dir = Path(self.args.out) if self.args.out else Path(
            f"{PROG}-{r.stack}-{r.function}-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
        out_dir.mkdir(parents=True, exist_ok=True)
        csv_path, png_path = out_dir / "samples.csv", out_dir / "scale.png"
        with csv_path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(SAMPLE_FIELDS)
            writer.writerows(s.row() for s in r.samples)
        png_path.write_bytes(chart(r))
        print(summary(r), file=self.out)
        print(f"samples: {csv_path}\npicture: {png_path}", file=self.out)


def summary(r: Result) -> str:
    last = r.samples[-1] if r.samples else None
    delivered = last.delivered if last else 0
    lines = [f"summary ({r.outcome}):"]
    lines.append(f"  records           {r.records} sent, {delivered} delivered")
    lines.append(f"  time to drain     {f'{r.drained_at:g} s' if r.drained_at is not None else 'not drained'}"
                 + (f" (lag {last.lag} at the end)" if last and r.drained_at is None else ""))
    lines.append(f"  back down         {f'{r.down_at:g} s' if r.down_at is not None else 'no'} (to {r.floor} "
                 f"replica{'s' if r.floor != 1 else ''})")
    peak_desired = max((s.desired for s in r.samples), default=0)
    peak_ready = max((s.ready for s in r.samples), default=0)
    lines.append(f"  peak replicas     {r.peak} (desired {peak_desired}, ready {peak_ready})")
    scale = f"max-scale {r.max_scale}" if r.max_scale is not None else "no max-scale"
    if r.ordered:
        lines.append(f"  bound             {r.partitions} (partitions of {r.topic}, ordered delivery; {scale})")
        lines.append(f"  above the bound   {r.above_bound} (replicas beyond what ordered delivery lets work)")
    else:
        lines.append(f"  bound             {r.bound if r.bound is not None else 'none'} (unordered delivery: "
                     f"{scale}; {r.partitions} partitions)")
    lines.append(f"  consumers         {consumers_line(r)}")
    lines.append(f"  dispatcher pods   {max((s.dispatchers for s in r.samples), default=0)} at peak, "
                 f"{last.dispatchers if last else 0} at the end")
    dead = last.dead_letters if last else 0
    lines.append(f"  dead letters      {f'{dead} (on {r.dead_letter_topic})' if r.dead_letter_topic else 'off'}")
    if r.producer_summary:
        lines.append(f"  producer          {r.producer_summary}")
    return "\n".join(lines)


def consumers_line(r: Result) -> str:
    if r.consumer_floor is None:
        return f"{r.peak_consumers} at peak (fixed: no consumerScaling on this source)"
    up, down = r.consumers_followed()
    return (f"{r.peak_consumers} at peak (KEDA, from {r.consumer_floor}); up "
            f"{f'{up:g} s after the lag' if up is not None else 'never'}, back to {r.consumer_floor} "
            f"{f'{down:g} s after the drain' if down is not None else 'not yet'}")


# --- the picture: a small PNG renderer (zlib + struct) ------------------------------------------------------
# matplotlib would do it in a few lines, but costs 10 packages and 173 MB in .venv (7.9 s to install) and
# 0.4-0.6 s of import per run; this draws the one chart the demo needs with the standard library.

# A 5x7 pixel font of the characters the chart writes (upper case; lower case is drawn upper case).
GLYPHS = {
    "A": ".###. #...# #...# ##### #...# #...# #...#", "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.", "D": "####. #...# #...# #...# #...# #...# ####.",
    "E": "##### #.... #.... ####. #.... #.... #####", "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####", "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.", "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#", "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#", "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.", "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#", "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.", "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.", "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.", "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..", "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.", "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####", "3": "####. ....# ....# .###. ....# ....# ####.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.", "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": ".###. #.... #.... ####. #...# #...# .###.", "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.", "9": ".###. #...# #...# .#### ....# ....# .###.",
    " ": "..... ..... ..... ..... ..... ..... .....", "-": "..... ..... ..... ##### ..... ..... .....",
    ".": "..... ..... ..... ..... ..... .##.. .##..", ",": "..... ..... ..... ..... .##.. ..#.. .#...",
    ":": "..... .##.. .##.. ..... .##.. .##.. .....", "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
    ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...", "/": "....# ....# ...#. ..#.. .#... #.... #....",
    "%": "##..# ##..# ...#. ..#.. .#... #..## #..##", "_": "..... ..... ..... ..... ..... ..... #####",
    "=": "..... ..... ##### ..... ##### ..... .....", "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
    "<": "...#. ..#.. .#... #.... .#... ..#.. ...#.", ">": ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
    "'": "..#.. ..#.. ..... ..... ..... ..... .....", "#": ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",
    "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
}
Color = tuple[int, int, int]
WHITE, BLACK, GRID, AXIS = (255, 255, 255), (30, 30, 30), (225, 225, 225), (90, 90, 90)
DESIRED, READY, BOUND, LAG = (31, 119, 180), (44, 160, 44), (214, 39, 40), (255, 127, 14)
CONSUMERS, DISPATCHER_PODS = (148, 103, 189), (140, 86, 75)


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(WHITE) * (width * height))

    def dot(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = 3 * (y * self.width + x)
            self.pixels[i:i + 3] = bytes(color)

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        for y in range(max(0, y0), min(self.height, y1 + 1)):
            for x in range(max(0, x0), min(self.width, x1 + 1)):
                self.dot(x, y, color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color, width: int = 1, dash: int = 0) -> None:
        """Bresenham, with a square brush of `width` pixels; dash: on/off run length in pixels."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err, step = dx + dy, 0
        lo, hi = -(width // 2), (width - 1) // 2
        while True:
            if not dash or (step // dash) % 2 == 0:
                self.rect(x0 + lo, y0 + lo, x0 + hi, y0 + hi, color)
            if x0 == x1 and y0 == y1:
                return
            step += 1
            e2 = 2 * err
            if e2 >= dy:
                err, x0 = err + dy, x0 + sx
            if e2 <= dx:
                err, y0 = err + dx, y0 + sy

    def text(self, x: int, y: int, text: str, color: Color = BLACK, scale: int = 2) -> None:
        for ch in text.upper():
            rows = GLYPHS.get(ch, GLYPHS["?"]).split()
            for r, row in enumerate(rows):
                for c, bit in enumerate(row):
                    if bit == "#":
                        self.rect(x + c * scale, y + r * scale, x + c * scale + scale - 1, y + r * scale + scale - 1,
                                  color)
            x += 6 * scale

    @staticmethod
    def text_width(text: str, scale: int = 2) -> int:
        return 6 * scale * len(text) - scale

    def png(self) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        stride = 3 * self.width
        raw = b"".join(b"\x00" + bytes(self.pixels[y * stride:(y + 1) * stride]) for y in range(self.height))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)     # 8-bit RGB
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + \
            chunk(b"IEND", b"")


def nice_step(top: float, ticks: int = 5) -> float:
    raw = max(top, 1) / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1000:g}K"
    return f"{value:g}"


def chart(r: Result, width: int = 960, height: int = 540) -> bytes:
    c = Canvas(width, height)
    left, right, top, bottom = 70, width - 90, 124, height - 60
    samples = r.samples or [Sample(0, 0, 0, 0, 0, 0, 0, 0, 0, "")]
    t_end = max(samples[-1].seconds, 1)
    t_step = nice_step(t_end)
    t_top = math.ceil(t_end / t_step) * t_step
    y_top = max(r.peak, r.bound or 0, r.peak_consumers, max(s.dispatchers for s in samples), 1) + 1
    y_step = max(1, int(nice_step(y_top)))
    y_top = math.ceil(y_top / y_step) * y_step
    lag_top_raw = max(max(s.lag for s in samples), 1)
    lag_step = nice_step(lag_top_raw)
    lag_top = math.ceil(lag_top_raw / lag_step) * lag_step

    def x_of(t: float) -> int:
        return round(left + (right - left) * t / t_top)

    def y_of(replicas: float) -> int:
        return round(bottom - (bottom - top) * replicas / y_top)

    def lag_y(lag: float) -> int:
        return round(bottom - (bottom - top) * lag / lag_top)

    title = f"{r.function} on {r.stack}: {r.records} records"
    if r.replay:
        title += " (replayed timeline)"
    c.text(left, 14, title, BLACK, 2)
    # legend, two rows
    for y, entries in ((46, ((DESIRED, "desired replicas"), (READY, "ready replicas"), (BOUND, "bound"))),
                       (68, ((CONSUMERS, "consumers"), (DISPATCHER_PODS, "dispatcher pods"),
                             (LAG, "lag (right axis)")))):
        x = left
        for color, label in entries:
            c.rect(x, y + 2, x + 17, y + 11, color)
            c.text(x + 24, y, label, AXIS, 2)
            x += 24 + Canvas.text_width(label) + 28
    # grid and axes
    for i in range(0, int(y_top) + 1, y_step):
        c.line(left, y_of(i), right, y_of(i), GRID)
        c.text(left - 10 - Canvas.text_width(str(i)), y_of(i) - 7, str(i), AXIS)
    lag_value = 0.0
    while lag_value <= lag_top:
        label = short(lag_value)
        c.text(right + 10, lag_y(lag_value) - 7, label, LAG)
        lag_value += lag_step
    t = 0.0
    while t <= t_top:
        c.line(x_of(t), top, x_of(t), bottom, GRID)
        label = f"{t:g}"
        c.text(x_of(t) - Canvas.text_width(label) // 2, bottom + 10, label, AXIS)
        t += t_step
    c.line(left, top, left, bottom, AXIS, 2)
    c.line(right, top, right, bottom, AXIS, 2)
    c.line(left, bottom, right, bottom, AXIS, 2)
    c.text(left - 60, top - 26, "count", AXIS)
    c.text(right + 10, top - 26, "lag", LAG)
    c.text((left + right) // 2 - Canvas.text_width("seconds") // 2, bottom + 32, "seconds", AXIS)
    # the bound, then lag, then replicas on top
    if r.bound is not None:
        c.line(left, y_of(r.bound), right, y_of(r.bound), BOUND, 2, dash=10)
        what = f"{r.bound} partitions" if r.ordered else f"max-scale {r.bound}"
        c.text(right - 8 - Canvas.text_width(what), y_of(r.bound) - 20, what, BOUND)
    for a, b in zip(samples, samples[1:], strict=False):
        c.line(x_of(a.seconds), lag_y(a.lag), x_of(b.seconds), lag_y(b.lag), LAG, 2)
    for color, attr, offset in ((DISPATCHER_PODS, "dispatchers", 4), (CONSUMERS, "consumers", -2), (READY, "ready", 2),
                                (DESIRED, "desired", 0)):
        for a, b in zip(samples, samples[1:], strict=False):
            ya, yb = y_of(getattr(a, attr)) + offset, y_of(getattr(b, attr)) + offset
            c.line(x_of(a.seconds), ya, x_of(b.seconds), ya, color, 3)      # a step: hold, then move
            c.line(x_of(b.seconds), ya, x_of(b.seconds), yb, color, 3)
    return c.png()


# --- entry ----------------------------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: {message} (see --help)\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = Parser(prog=PROG, description="Send a burst of records to a function's topic and watch it scale to its "
                                      "partitions: live table, summary, CSV and PNG.")
    p.add_argument("stack", help="a stack with a Pulumi.<stack>.yaml (dev, local, prod, ...)")
    p.add_argument("function", nargs="?", help="function name (default: the stack's only function)")
    p.add_argument("--records", type=int, default=50000, help="records to send (default 50000)")
    p.add_argument("--rate", type=int, default=-1, help="records per second; -1 (default): as fast as Kafka takes them")
    p.add_argument("--size", type=int, default=512, help="bytes per record (default 512)")
    p.add_argument("--timeout", type=float, default=900, help="give up after this many seconds (default 900)")
    p.add_argument("--interval", type=float, default=5, help="seconds between samples (default 5)")
    p.add_argument("--out", help="directory for samples.csv and scale.png "
                                 "(default ./scale-demo-<stack>-<function>-<timestamp>/)")
    args = p.parse_args(argv)
    if args.records < 1 or args.size < 1 or args.rate == 0 or args.rate < -1 or args.timeout <= 0 or args.interval < 0:
        p.error("--records and --size at least 1, --rate positive or -1, --timeout above 0, --interval at least 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    demo = Demo(args)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    message, code = "", 0
    try:
        code = demo.run()
    except DemoError as e:
        message, code = str(e), 2
    except Interrupted as e:
        message, code = f"interrupted ({e})", 128 + e.signum
    finally:
        for s in previous:                      # a second Ctrl-C must not stop the cleanup half-way
            signal.signal(s, signal.SIG_IGN)
        demo.end_progress()
        pod = demo.cleanup()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if pod and (message or " NOT deleted " in pod):
        message = f"{message}; {pod}" if message else pod
    if message:
        print(f"{PROG}: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
