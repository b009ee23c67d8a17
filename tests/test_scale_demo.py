"""scripts/scale-demo, run against stand-in `kubectl` and `pulumi` that replay a scripted timeline.

The stand-ins read a JSON timeline: the stacks' outputs, the cluster's Knative Service and KafkaSource, and
one step per sample (replicas, the source's consumers, dispatcher pods, records in the topic, lag, dead letters,
producer phase). Each `kubectl get
deployments` (the first call of a sample) moves to the next step; the other calls read the current one.
`--interval 0` and SCALE_DEMO_REPLAY_SECONDS=5 (each sample counts as 5 s) keep the runs fast and their
figures exact. Every call is logged, with the mode of the kubeconfig file it was handed.

Runs go through the script's main() in this process (`Replay.run`), the stand-ins' code answering each
kubectl and pulumi call the script makes; the terminal and the interrupt tests run the command itself, with
the stand-ins as executables on PATH.
"""
from __future__ import annotations

import ast
import contextlib
import csv
import dataclasses
import io
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from components import commands
from harness import load_script

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = ROOT / "scripts" / "scale-demo"
IMAGE = "quay.io/strimzi/kafka:1.2.0-kafka-4.3.1"
PLAIN_BOOTSTRAP = "my-cluster-kafka-bootstrap.kafka-cluster.svc:9092"
TLS_BOOTSTRAP = "my-cluster-kafka-bootstrap.kafka-cluster.svc:9093"
GROUP = "knative-kafka-default-event-display"
PRODUCER_SECRET = "event-display-kafka-producer"
KUBECONFIG = "apiVersion: v1\nkind: Config\n# the provider's kubelogin kubeconfig\n"
PRODUCER_LOG = ("1200 records sent, 1180.9 records/sec (0.58 MB/sec), 412.7 ms avg latency, 871.0 ms max latency, "
                "399 ms 50th, 840 ms 95th, 866 ms 99th, 871 ms 99.9th.")

# The stand-ins start in ~8 ms: no imports beyond os and sys (the timeline is a Python literal whose JSON and
# metrics texts are rendered beforehand), so a replayed run costs what the script itself costs.
STUB = '''
import os, sys

tool, args = os.path.basename(sys.argv[0]), sys.argv[1:]
with open(os.environ["SCALE_DEMO_TIMELINE"]) as f:
    timeline = eval(f.read(), {"__builtins__": {}})
state = os.environ["SCALE_DEMO_STATE"]
kubeconfig_mode = None
if "--kubeconfig" in args:
    path = args[args.index("--kubeconfig") + 1]
    kubeconfig_mode = oct(os.stat(path).st_mode & 0o777) if os.path.exists(path) else "missing"
with open(os.environ["SCALE_DEMO_CALLS"], "a") as log:
    log.write(repr((tool, args, kubeconfig_mode)) + "\\n")


def fail(message, code=1):
    sys.stderr.write(message + "\\n")
    sys.exit(code)


if tool == "pulumi":
    name = args[args.index("--stack") + 1]
    stack = timeline["stacks"].get(name)
    if stack is None:
        fail("error: no stack named '%s' found" % name, 255)
    sys.stdout.write(stack["kubeconfig"] if args[:3] == ["stack", "output", "kubeconfig"] else stack["outputs"])
    sys.exit(0)

# kubectl: drop the global flags, then answer from the timeline
rest, i = [], 0
while i < len(args):
    if args[i] in ("--kubeconfig", "--context"):
        i += 2
        continue
    if not args[i].startswith("--request-timeout"):
        rest.append(args[i])
    i += 1
if rest[:1] == ["-n"]:
    rest = rest[2:]
if timeline["unreachable"]:
    fail("Unable to connect to the server: dial tcp 20.50.10.4:443: i/o timeout")
seen = int(open(state).read()) if os.path.exists(state) else 0
if rest[:2] == ["get", "deployments"]:
    seen += 1
    with open(state + ".new", "w") as f:     # a stand-in killed half-way must not leave half a state
        f.write(str(seen))
    os.replace(state + ".new", state)
steps = timeline["steps"]
step = steps[min(max(seen - 1, 0), len(steps) - 1)]
if step["fail"] and (rest[:1] != ["delete"] or timeline["delete_fails"]):
    fail("Unable to connect to the server: net/http: TLS handshake timeout")

if rest[:2] == ["get", "namespace"]:
    print("namespace/" + rest[2])
elif rest[:1] == ["get"] and rest[1].startswith("ksvc/"):
    name = rest[1].split("/", 1)[1]
    if name not in timeline["objects"]:
        fail('Error from server (NotFound): services.serving.knative.dev "%s" not found' % name)
    print(timeline["objects"][name])
elif rest[:1] == ["get"] and rest[1].startswith("kafkasource/"):
    print(step["source"])
elif rest[:2] == ["get", "statefulset/kafka-source-dispatcher"]:
    print(step["dispatchers"])
elif rest[:2] == ["get", "pods"]:
    sys.stdout.write("my-cluster-kafka-exporter-7c9d8-x2x4q")
elif rest[:2] == ["get", "--raw"]:
    print(step["metrics"])
elif rest[:2] == ["get", "deployments"]:
    print(step["deployments"])
elif rest[:1] == ["run"]:
    if timeline["run_fails"]:
        fail('Error from server (Forbidden): pods "%s" is forbidden: violates PodSecurity '
             '"restricted:latest"' % rest[1])
    print("pod/%s created" % rest[1])
elif rest[:2] == ["get", "pod"]:
    sys.stdout.write(step["phase"])
elif rest[:1] == ["logs"]:
    print("SLF4J: deprecated option --producer-props")
    print(timeline["producer_log"])
elif rest[:2] == ["delete", "pod"]:
    print('pod "%s" deleted' % rest[2])
else:
    fail("stub kubectl: unexpected call %r" % (args,))
'''


STUB_CODE = compile(STUB, "stand-in", "exec")


SCRIPT_MODULE = load_script("scale_demo")


def print_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def exit_code(main: Any) -> int:
    """What a process running `main` would exit with."""
    try:
        result = main()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return result if isinstance(result, int) else 0


def step(desired: int, ready: int, end: int, lag: int | None, phase: str, dlq: int = 0, fail: bool = False,
         consumers: int = 6, dispatchers: int = 1) -> dict:
    """consumers, dispatchers: fixed at the partitions (6) and their one dispatcher pod unless a step says."""
    return {"desired": desired, "ready": ready, "end": end, "lag": lag, "phase": phase, "dlq": dlq, "fail": fail,
            "consumers": consumers, "dispatchers": dispatchers}


def metrics_text(s: dict[str, Any], topic: str, group: str, partitions: int) -> str:
    """What Strimzi's Kafka Exporter answers for one step: the step's records and lag spread over the partitions
    (lag None: the group has committed no offset, -1), plus another group's lag the script must ignore."""
    dlq = f"{topic}-dlq"
    lines = ["# TYPE kafka_topic_partitions gauge", f'kafka_topic_partitions{{topic="{topic}"}} {partitions}',
             f'kafka_topic_partitions{{topic="{dlq}"}} 1',
             f'kafka_consumergroup_lag{{consumergroup="another-group",partition="0",topic="{topic}"}} 999']
    for p in range(partitions):
        end = s["end"] // partitions + (1 if p < s["end"] % partitions else 0)
        lag = -1 if s["lag"] is None else s["lag"] // partitions + (1 if p < s["lag"] % partitions else 0)
        lines += [f'kafka_topic_partition_current_offset{{partition="{p}",topic="{topic}"}} {end}',
                  f'kafka_topic_partition_oldest_offset{{partition="{p}",topic="{topic}"}} 0',
                  f'kafka_consumergroup_lag{{consumergroup="{group}",partition="{p}",topic="{topic}"}} {lag}']
    lines.append(f'kafka_topic_partition_current_offset{{partition="0",topic="{dlq}"}} {s["dlq"]}')
    return "\n".join(lines)


# 1200 records onto 6 partitions: before the run, then one step per 5 s sample.
BURST = [
    step(0, 0, 0, 0, "Pending"),                    # before the producer starts
    step(0, 0, 0, None, "Pending"),                 # t=0: the group has no committed offset yet
    step(1, 0, 600, None, "Running"),               # t=5
    step(4, 1, 1200, 1100, "Running"),              # t=10
    step(6, 4, 1200, 800, "Succeeded"),             # t=15
    step(6, 6, 1200, 400, "Succeeded", dlq=1),      # t=20
    step(6, 6, 1200, 100, "Succeeded", dlq=2),      # t=25
    step(6, 6, 1200, 0, "Succeeded", dlq=2),        # t=30: drained
    step(3, 6, 1200, 0, "Succeeded", dlq=2),        # t=35
    step(1, 3, 1200, 0, "Succeeded", dlq=2),        # t=40
    step(0, 0, 1200, 0, "Succeeded", dlq=2),        # t=45: back down
]


def function_outputs(load: str | None, namespace: str = "default") -> dict[str, Any]:
    return {"url": f"http://event-display.{namespace}.svc.cluster.local", "kafkaSource": "event-display",
            "consumerGroup": GROUP, "deadLetterTopic": "my-topic-dlq",
            "commands": {"produce": None, "load": load, "logs": "kubectl logs ...", "watchScale": "kubectl get ..."}}


def timeline(steps: list[dict], unreachable: bool = False, run_fails: bool = False, delete_fails: bool = False,
             producer_log: str = PRODUCER_LOG, keda: bool = False) -> dict[str, Any]:
    """The stacks' outputs, the cluster's objects and the steps, rendered as the stand-ins print them; keda: the
    KafkaSource's consumers scaled by KEDA from 0 (consumerScaling), else fixed."""
    plain_load = commands.load("default", IMAGE, PLAIN_BOOTSTRAP, "my-topic")
    auth_load = commands.load("default", IMAGE, TLS_BOOTSTRAP, "my-topic", producer_secret=PRODUCER_SECRET)
    dev = {"bootstrapServers": PLAIN_BOOTSTRAP, "kubeconfig": "[secret]", "clusterName": "aks-dev",
           "functions": {"event-display": function_outputs(plain_load)}}
    prod = {"bootstrapServers": TLS_BOOTSTRAP, "kubeconfig": "[secret]", "clusterName": "aks-prod",
            "functions": {"event-display": function_outputs(auth_load)}}
    local = {"bootstrapServers": PLAIN_BOOTSTRAP, "functions": {
        "event-display": function_outputs(plain_load), "billing": function_outputs(plain_load)}}
    service = {"kind": "Service", "spec": {"template": {"metadata": {"annotations": {
        "autoscaling.knative.dev/max-scale": "6", "autoscaling.knative.dev/metric": "rps"}}}}}
    scaling = {"autoscaling.eventing.knative.dev/class": "keda.autoscaling.knative.dev",
               "autoscaling.eventing.knative.dev/min-scale": "0", "autoscaling.eventing.knative.dev/max-scale": "6"}
    source = {"kind": "KafkaSource", "metadata": {"annotations": scaling if keda else {}},
              "spec": {"ordering": "ordered", "topics": ["my-topic"]}}
    return {
        "stacks": {"dev": {"outputs": json.dumps(dev), "kubeconfig": KUBECONFIG},
                   "prod": {"outputs": json.dumps(prod), "kubeconfig": KUBECONFIG},
                   "local": {"outputs": json.dumps(local), "kubeconfig": ""}},
        "objects": {"event-display": json.dumps({"kind": "List", "items": [service, source]})},
        "steps": [{"metrics": metrics_text(s, "my-topic", GROUP, 6), "phase": s["phase"], "fail": s["fail"],
                   "source": json.dumps({"kind": "KafkaSource", "status": {"consumers": s["consumers"]}}),
                   "dispatchers": json.dumps({"spec": {"replicas": s["dispatchers"]},
                                              "status": {"readyReplicas": s["dispatchers"]}}),
                   "deployments": json.dumps({"items": [{"spec": {"replicas": s["desired"]},
                                                         "status": {"readyReplicas": s["ready"]}}]})}
                  for s in steps],
        "producer_log": producer_log, "unreachable": unreachable, "run_fails": run_fails,
        "delete_fails": delete_fails,
    }


@dataclass
class Replay:
    tmp: Path
    env: dict[str, str]

    def write(self, data: dict[str, Any]) -> None:
        Path(self.env["SCALE_DEMO_TIMELINE"]).write_text(repr(data))

    def edit_outputs(self, stack: str, edit: Any) -> None:
        data = ast.literal_eval(Path(self.env["SCALE_DEMO_TIMELINE"]).read_text())
        outputs = json.loads(data["stacks"][stack]["outputs"])
        edit(outputs)
        data["stacks"][stack]["outputs"] = json.dumps(outputs)
        self.write(data)

    def argv(self, *args: str) -> list[str]:
        return [str(SCRIPT), *args, "--interval", "0", "--out", str(self.tmp / "out")]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The same run in this process: the script's main() with this replay's environment and working
        directory, each kubectl and pulumi it starts answered by the stand-in's own code run here (a
        process start per call was most of the time of these tests). A warning goes to stderr, as a
        process would print it."""
        argv = self.argv(*args)
        out, err = io.StringIO(), io.StringIO()
        with mock.patch.dict(os.environ, self.env, clear=True), contextlib.chdir(self.tmp), \
                mock.patch.object(SCRIPT_MODULE.subprocess, "run", self.stand_in), \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = print_warning
            code = exit_code(lambda: SCRIPT_MODULE.main(argv[1:]))
        return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())

    def stand_in(self, command: list[str], *, capture_output: bool = False, stdout: Any = None,
                 stderr: Any = None, text: bool = False, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None, check: bool = False, timeout: float | None = None
                 ) -> subprocess.CompletedProcess[Any]:
        """subprocess.run for the stand-ins: what the caller did not capture goes where the process's output
        would (the caller's stdout/stderr) and comes back None; bytes unless `text`; the caller's env and cwd."""
        found = shutil.which(command[0], path=(env if env is not None else os.environ)["PATH"])
        if found is None:
            raise FileNotFoundError(command[0])
        assert Path(found).parent == self.tmp / "bin", f"{command[0]} is not a stand-in: {found}"
        out, err = io.StringIO(), io.StringIO()
        with mock.patch.dict(os.environ, env if env is not None else dict(os.environ), clear=True), \
                contextlib.chdir(cwd if cwd is not None else os.getcwd()), \
                mock.patch.object(sys, "argv", [found, *command[1:]]), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            code = exit_code(lambda: exec(STUB_CODE, {"__name__": "__main__"}))  # noqa: S102 - our stand-in

        def stream(text_out: str, captured: bool, caller: Any) -> Any:
            if not captured:
                caller.write(text_out)
                return None
            return text_out if text else text_out.encode()

        result = subprocess.CompletedProcess(command, code, stream(out.getvalue(), capture_output or
                                                                   stdout == subprocess.PIPE, sys.stdout),
                                             stream(err.getvalue(), capture_output or stderr == subprocess.PIPE,
                                                    sys.stderr))
        if check:
            result.check_returncode()
        return result

    def calls(self, tool: str = "kubectl") -> list[dict[str, Any]]:
        path = Path(self.env["SCALE_DEMO_CALLS"])
        lines = path.read_text().splitlines() if path.exists() else []
        return [{"args": args, "kubeconfig_mode": mode} for name, args, mode in map(ast.literal_eval, lines)
                if name == tool]

    def kubectl_calls(self) -> list[list[str]]:
        """kubectl's arguments without the global flags."""
        found = []
        for call in self.calls():
            rest: list[str] = []
            skip = False
            for a in call["args"]:
                if skip:
                    skip = False
                elif a in ("--kubeconfig", "--context"):
                    skip = True
                elif not a.startswith("--request-timeout"):
                    rest.append(a)
            found.append(rest)
        return found

    def created_pods(self) -> list[str]:
        return [c[c.index("run") + 1] for c in self.kubectl_calls() if "run" in c]

    def deleted_pods(self) -> list[str]:
        return [c[c.index("pod") + 1] for c in self.kubectl_calls() if "delete" in c]

    def csv_rows(self) -> list[dict[str, str]]:
        with (self.tmp / "out" / "samples.csv").open() as f:
            return list(csv.DictReader(f))


def make_replay(tmp_path: Path, steps: list[dict] = BURST) -> Replay:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kubectl", "pulumi"):
        (bin_dir / tool).write_text(f"#!{sys.executable} -IS\n{STUB}")
        (bin_dir / tool).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "SCALE_DEMO_REPLAY_SECONDS": "5",
           "SCALE_DEMO_TIMELINE": str(tmp_path / "timeline.py"), "SCALE_DEMO_STATE": str(tmp_path / "state"),
           "SCALE_DEMO_CALLS": str(tmp_path / "calls.log")}
    replay = Replay(tmp_path, env)
    replay.write(timeline(steps))
    return replay


@pytest.fixture
def replay(tmp_path: Path) -> Replay:
    return make_replay(tmp_path)


@dataclass
class Run:
    replay: Replay
    result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def dev_burst(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The dev stack's burst, replayed once for the tests that read its outputs."""
    replay = make_replay(tmp_path_factory.mktemp("dev-burst"))
    return Run(replay, replay.run("dev", "event-display", "--records", "1200", "--size", "100", "--rate", "400"))


def summary_figures(stdout: str) -> dict[str, str]:
    lines = stdout[stdout.index("summary ("):].splitlines()[1:]
    return {line[:20].strip(): line[20:].strip() for line in lines if line.startswith("  ")}


def test_a_replayed_burst_gives_the_summarys_figures(dev_burst):
    result, out = dev_burst.result, dev_burst.replay.tmp / "out"
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "summary (drained):" in result.stdout
    assert summary_figures(result.stdout) == {
        "records": "1200 sent, 1200 delivered",
        "time to drain": "30 s",
        "back down": "45 s (to 0 replicas)",
        "peak replicas": "6 (desired 6, ready 6)",
        "bound": "6 (partitions of my-topic, ordered delivery; max-scale 6)",
        "above the bound": "0 (replicas beyond what ordered delivery lets work)",
        "consumers": "6 at peak (fixed: no consumerScaling on this source)",
        "dispatcher pods": "1 at peak, 1 at the end",
        "dead letters": "2 (on my-topic-dlq)",
        "producer": PRODUCER_LOG,
    }
    assert result.stdout.splitlines()[-2:] == [f"samples: {out / 'samples.csv'}", f"picture: {out / 'scale.png'}"]


def test_the_csv_holds_every_sample(dev_burst):
    rows = dev_burst.replay.csv_rows()
    assert list(rows[0]) == ["seconds", "desired", "ready", "consumers", "dispatchers", "lag", "produced", "delivered",
                             "dead_letters", "producer"]
    assert [(r["seconds"], r["desired"], r["ready"], r["lag"], r["produced"], r["delivered"]) for r in rows] == [
        ("0", "0", "0", "0", "0", "0"),
        ("5", "1", "0", "600", "600", "0"),             # no committed offset: everything produced lags
        ("10", "4", "1", "1100", "1200", "100"),
        ("15", "6", "4", "800", "1200", "400"),
        ("20", "6", "6", "400", "1200", "800"),
        ("25", "6", "6", "100", "1200", "1100"),
        ("30", "6", "6", "0", "1200", "1200"),
        ("35", "3", "6", "0", "1200", "1200"),
        ("40", "1", "3", "0", "1200", "1200"),
        ("45", "0", "0", "0", "1200", "1200"),
    ]
    assert [r["dead_letters"] for r in rows] == ["0", "0", "0", "0", "1", "2", "2", "2", "2", "2"]
    assert rows[1]["producer"] == "Running" and rows[-1]["producer"] == "Succeeded"


def test_the_picture_is_a_png(dev_burst):
    png = (dev_burst.replay.tmp / "out" / "scale.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png[12:16] == b"IHDR" and png[-8:-4] == b"IEND"
    assert len(png) > 1024


def test_the_producer_pod_sends_the_asked_records_and_is_deleted_at_the_end(dev_burst):
    replay = dev_burst.replay
    [run] = [c for c in replay.kubectl_calls() if "run" in c]
    pod = run[run.index("run") + 1]
    assert pod.startswith("scale-demo-")
    args = run[run.index("--") + 1:]
    assert args[0] == "bin/kafka-producer-perf-test.sh"
    assert (args[args.index("--num-records") + 1], args[args.index("--record-size") + 1],
            args[args.index("--throughput") + 1], args[args.index("--topic") + 1]) == ("1200", "100", "400", "my-topic")
    assert "-i" not in run and "--rm" not in run, "detached: the script deletes it itself"
    assert "--labels=app.kubernetes.io/name=scale-demo" in run
    assert replay.deleted_pods() == [pod]
    assert replay.kubectl_calls()[-1][-4:] == ["pod", pod, "--ignore-not-found", "--wait=false"]


def test_the_aks_kubeconfig_is_a_private_temporary_file_removed_afterwards(dev_burst):
    calls = dev_burst.replay.calls()
    assert calls and {c["kubeconfig_mode"] for c in calls} == {"0o600"}
    kubeconfig = calls[0]["args"][calls[0]["args"].index("--kubeconfig") + 1]
    assert not Path(kubeconfig).exists()
    assert ["stack", "output", "kubeconfig", "--show-secrets", "--stack", "dev"] in [
        c["args"] for c in dev_burst.replay.calls("pulumi")]


# The burst under consumerScaling: KEDA raises the consumers from 0 with the lag and takes them away after its
# cooldown, after the replicas are down; the dispatcher pods follow the consumers.
KEDA_BURST = [
    step(0, 0, 0, 0, "Pending", consumers=0, dispatchers=0),
    step(0, 0, 0, None, "Pending", consumers=0, dispatchers=0),             # t=0
    step(1, 0, 600, None, "Running", consumers=0, dispatchers=0),           # t=5: lag, no consumer yet
    step(4, 1, 1200, 1100, "Running", consumers=2, dispatchers=1),          # t=10
    step(6, 4, 1200, 600, "Succeeded", consumers=6, dispatchers=1),         # t=15: all consumers
    step(6, 6, 1200, 0, "Succeeded", consumers=6, dispatchers=1),           # t=20: drained
    step(0, 0, 1200, 0, "Succeeded", consumers=6, dispatchers=1),           # t=25: replicas down, consumers not
    step(0, 0, 1200, 0, "Succeeded", consumers=0, dispatchers=1),           # t=30: KEDA's cooldown is over
    step(0, 0, 1200, 0, "Succeeded", consumers=0, dispatchers=0),           # t=35: never reached
]


def pixels(png: bytes) -> tuple[int, list[bytes]]:
    """(width, rows of RGB bytes) of a PNG as Canvas writes it: one IDAT, filter 0 on every row."""
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    start = png.index(b"IDAT") + 4
    raw = zlib.decompress(png[start:start + int.from_bytes(png[start - 8:start - 4], "big")])
    stride = 1 + 3 * width
    return width, [raw[y * stride + 1:(y + 1) * stride] for y in range(height)]


def has_color(rows: list[bytes], color: tuple[int, int, int], below: int) -> bool:
    return any(bytes(color) in row for row in rows[below:])


def test_consumers_and_dispatcher_pods_follow_the_lag_on_the_same_time_axis(tmp_path):
    replay = make_replay(tmp_path)
    replay.write(timeline(KEDA_BURST, keda=True))
    result = replay.run("dev", "--records", "1200")
    assert result.returncode == 0, result.stderr
    figures = summary_figures(result.stdout)
    assert figures["back down"] == "30 s (to 0 replicas)", "waits for the consumers too"
    assert figures["consumers"] == "6 at peak (KEDA, from 0); up 10 s after the lag, back to 0 10 s after the drain"
    assert figures["dispatcher pods"] == "1 at peak, 1 at the end"
    rows = replay.csv_rows()
    assert [(r["seconds"], r["lag"], r["consumers"], r["dispatchers"], r["desired"]) for r in rows] == [
        ("0", "0", "0", "0", "0"), ("5", "600", "0", "0", "1"), ("10", "1100", "2", "1", "4"),
        ("15", "600", "6", "1", "6"), ("20", "0", "6", "1", "6"), ("25", "0", "6", "1", "0"),
        ("30", "0", "0", "1", "0")]
    assert ["-n", "knative-eventing", "get", "statefulset/kafka-source-dispatcher", "-o", "json"] in \
        replay.kubectl_calls()
    # Every series is drawn in the plot, below the two legend rows (which end at y 82).
    width, image = pixels((replay.tmp / "out" / "scale.png").read_bytes())
    for color in (SCRIPT_MODULE.CONSUMERS, SCRIPT_MODULE.DISPATCHER_PODS, SCRIPT_MODULE.DESIRED,
                  SCRIPT_MODULE.LAG):
        assert has_color(image, color, below=90), color


def test_the_picture_of_a_replayed_run_says_so_in_its_title(dev_burst):
    result = SCRIPT_MODULE.Result("dev", "event-display", "my-topic", 1200, 100, 400, 6, 6, True, 0, None,
                                  replay=False, samples=[SCRIPT_MODULE.Sample(0, 0, 0, 0, 0, 0, 0, 0, 0, "")])
    live = pixels(SCRIPT_MODULE.chart(result))[1][14:30]
    replayed = pixels(SCRIPT_MODULE.chart(dataclasses.replace(result, replay=True)))[1][14:30]
    assert live != replayed, "the title row differs: '(replayed timeline)'"
    assert pixels((dev_burst.replay.tmp / "out" / "scale.png").read_bytes())[1][14:30] != live


def test_on_a_terminal_the_samples_are_a_table_under_a_progress_line(tmp_path):
    replay = make_replay(tmp_path, [BURST[0], step(6, 4, 1200, 600, "Running"), step(0, 0, 1200, 0, "Succeeded")])
    leader, follower = pty.openpty()
    with os.fdopen(leader, "rb", buffering=0) as terminal:
        process = subprocess.Popen(replay.argv("dev", "--records", "1200"), env=replay.env, cwd=replay.tmp,
                                   stdout=follower, stderr=subprocess.PIPE)
        os.close(follower)
        screen = b""
        while True:
            try:
                chunk = terminal.read(4096)
            except OSError:         # the script closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        assert process.wait(timeout=30) == 0
    text = screen.decode()
    assert "  time desired ready consumers dispatchers       lag delivered  dead  producer" in text
    assert "\r\x1b[K    0s       6     4         6           1       600       600     0  Running\r\n" in text
    assert "[##########          ]  50% delivered  lag 600  replicas 4/6 (bound 6)  consumers 6  0s\r\x1b[K" in text
    assert "\r\x1b[K    5s       0     0         6           1         0      1200     0  Succeeded\r\n" in text
    assert "summary (drained):" in text and "t=5s" not in text, "a table, not the plain lines"


def test_an_authenticated_stack_runs_the_load_pod_with_its_producer_identity(tmp_path):
    replay = make_replay(tmp_path, [*BURST[:3], step(6, 6, 1200, 0, "Succeeded"), step(0, 0, 1200, 0, "Succeeded")])
    result = replay.run("prod", "--records", "1200")
    assert result.returncode == 0, result.stderr
    assert summary_figures(result.stdout)["time to drain"] == "10 s"
    [run] = [c for c in replay.kubectl_calls() if "run" in c]
    pod = run[run.index("run") + 1]
    overrides = json.loads(next(a for a in run if a.startswith("--overrides=")).split("=", 1)[1])
    [container] = overrides["spec"]["containers"]
    assert container["name"] == pod, "kubectl names the container after the pod: the override must follow"
    assert container["volumeMounts"] == [{"name": "producer", "mountPath": "/etc/kafka-producer", "readOnly": True}]
    assert overrides["spec"]["volumes"] == [{"name": "producer", "secret": {"secretName": PRODUCER_SECRET}}]
    args = run[run.index("--") + 1:]
    assert args[args.index("--producer.config") + 1] == "/etc/kafka-producer/producer.properties"
    assert args[args.index("--producer-props") + 1] == f"bootstrap.servers={TLS_BOOTSTRAP}"
    assert replay.deleted_pods() == [pod]


def test_an_existing_cluster_stack_uses_the_kubeconfig_and_context_of_its_stack_file(tmp_path):
    replay = make_replay(tmp_path, [BURST[0], step(0, 0, 1200, 0, "Succeeded")])
    result = replay.run("local", "event-display", "--records", "1200")
    assert result.returncode == 0, result.stderr
    first = replay.calls()[0]["args"]
    assert first[first.index("--context") + 1] == "kind-knative"
    assert first[first.index("--kubeconfig") + 1] == f"{replay.tmp}/.kube/config"    # ~ of the caller
    assert [c["args"][:3] for c in replay.calls("pulumi")] == [["stack", "output", "--stack"]]


def test_replicas_above_the_partitions_are_counted(tmp_path):
    replay = make_replay(tmp_path, [BURST[0], step(8, 8, 1200, 0, "Succeeded"), step(0, 0, 1200, 0, "Succeeded")])
    result = replay.run("dev", "--records", "1200")
    assert result.returncode == 0, result.stderr
    figures = summary_figures(result.stdout)
    assert figures["peak replicas"] == "8 (desired 8, ready 8)"
    assert figures["above the bound"].startswith("2 ")


def test_a_timeline_that_never_drains_stops_at_the_timeout_and_still_writes_the_samples(tmp_path):
    replay = make_replay(tmp_path, [BURST[0], step(6, 6, 1200, 900, "Succeeded")])
    result = replay.run("dev", "--records", "1200", "--timeout", "10")
    assert result.returncode == 1
    assert "summary (timed out):" in result.stdout
    assert summary_figures(result.stdout)["time to drain"] == "not drained (lag 900 at the end)"
    assert [r["seconds"] for r in replay.csv_rows()] == ["0", "5", "10"]
    assert len(replay.deleted_pods()) == 1


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("scale-demo: ")
    return lines[0]


def test_a_stack_without_a_stack_file_is_refused(replay):
    stacks = sorted(f.name[len("Pulumi."):-len(".yaml")] for f in ROOT.glob("Pulumi.*.yaml"))
    assert {"dev", "local", "prod"} <= set(stacks)
    missing = next(name for name in ("staging", "staging-2", "staging-3", "qa-never") if name not in stacks)
    message = refusal(replay.run(missing))
    assert message == f"scale-demo: no stack file Pulumi.{missing}.yaml (stacks: {', '.join(stacks)})"
    assert replay.calls("pulumi") == [] and replay.calls() == []


def test_a_stack_file_pulumi_would_refuse_is_refused_in_the_words_of_its_reader(replay):
    """Read through components/stack_file.py, as scripts/capacity and scripts/deploy read it, before any call."""
    project = replay.tmp / "project"
    project.mkdir()
    (project / "Pulumi.local.yaml").write_text("config:\n  knative-kafka:cluster: {mode: existing}\n"
                                               "  knative-kafka:cluster: {context: kind-knative}\n")
    with mock.patch.object(SCRIPT_MODULE, "ROOT", project):
        message = refusal(replay.run("local"))
    assert message == ("scale-demo: Pulumi.local.yaml line 3, column 3: the key knative-kafka:cluster is given twice "
                       "in one object (also on line 2), which Pulumi refuses")
    assert replay.calls("pulumi") == [] and replay.calls() == []


def test_a_stack_that_was_never_deployed_is_refused(replay):
    data = timeline(BURST)
    del data["stacks"]["prod"]
    replay.write(data)
    message = refusal(replay.run("prod"))
    assert message == "scale-demo: cannot read the outputs of stack prod: error: no stack named 'prod' found"
    assert replay.calls() == []


def test_a_function_the_stack_does_not_have_is_refused(replay):
    message = refusal(replay.run("dev", "billing"))
    assert message == "scale-demo: no function 'billing' in stack dev (functions: event-display)"
    assert replay.calls() == []


def test_a_stack_of_several_functions_needs_one_named(replay):
    message = refusal(replay.run("local"))
    assert message == "scale-demo: stack local has 2 functions; name one: billing, event-display"


def test_an_authenticated_function_without_a_producer_identity_is_refused(replay):
    replay.edit_outputs("prod", lambda outputs: outputs["functions"]["event-display"]["commands"].update(load=None))
    message = refusal(replay.run("prod"))
    assert "has no load command" in message and "loadProducer: true" in message
    assert replay.calls() == []


def test_an_unreachable_cluster_is_refused_before_anything_starts(replay):
    replay.write(timeline(BURST, unreachable=True))
    message = refusal(replay.run("dev"))
    assert message == ("scale-demo: cannot reach the cluster of stack dev: Unable to connect to the server: "
                       "dial tcp 20.50.10.4:443: i/o timeout")
    assert replay.created_pods() == [] and replay.deleted_pods() == []
    assert not (replay.tmp / "out").exists()


def test_a_cluster_lost_during_the_run_deletes_the_producer_pod(replay):
    replay.write(timeline([BURST[0], step(1, 0, 600, None, "Running"), step(6, 6, 1200, 500, "Running", fail=True)]))
    message = refusal(replay.run("dev", "--records", "1200"))
    assert "TLS handshake timeout" in message
    [pod] = replay.created_pods()
    assert replay.deleted_pods() == [pod]
    assert message.endswith(f"producer pod default/{pod} deleted")


def test_a_producer_pod_it_cannot_delete_is_named_with_the_command_that_does(replay):
    replay.write(timeline([BURST[0], step(6, 6, 1200, 500, "Running", fail=True)], delete_fails=True))
    message = refusal(replay.run("dev", "--records", "1200"))
    [pod] = replay.created_pods()
    assert message.endswith(f"; producer pod default/{pod} NOT deleted (kubectl delete: Unable to connect to the "
                            f"server: net/http: TLS handshake timeout); delete it: kubectl -n default delete pod {pod}")


def test_a_producer_pod_the_cluster_refuses_is_not_left_behind(replay):
    replay.write(timeline(BURST, run_fails=True))
    message = refusal(replay.run("dev"))
    assert "violates PodSecurity" in message
    assert replay.deleted_pods() == replay.created_pods()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_deletes_the_producer_pod(replay, signum, code):
    replay.write(timeline([BURST[0], step(6, 6, 600, 600, "Running")]))     # never drains
    process = subprocess.Popen(replay.argv("dev", "--timeout", "1e9"), env=replay.env, cwd=replay.tmp,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while len([c for c in replay.kubectl_calls() if "deployments" in c]) < 3:
        assert time.monotonic() < deadline and process.poll() is None, "the demo did not start sampling"
        time.sleep(0.02)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == code
    [pod] = replay.created_pods()
    assert replay.deleted_pods() == [pod]
    assert stderr.splitlines() == [
        f"scale-demo: interrupted ({signal.Signals(signum).name}); producer pod default/{pod} deleted"]


def test_bad_flags_are_refused_in_one_line(replay):
    message = refusal(replay.run("dev", "--records", "0"))
    assert "--records and --size at least 1" in message


# --- the script's pieces, in process -----------------------------------------------------------------------

@pytest.mark.parametrize("producer_secret", [None, "event-display-kafka-producer"])
def test_the_load_command_the_stack_exports_becomes_the_demos_pod(producer_secret):
    """The script reads commands.load as exported: a change of its shape must keep the two in step."""
    demo = SCRIPT_MODULE
    command = commands.load("payments", IMAGE, TLS_BOOTSTRAP, "orders", producer_secret=producer_secret)
    load = demo.load_pod(command, "scale-demo-abc123", 2000, 64, 250)
    assert (load.namespace, load.topic, load.pod) == ("payments", "orders", "scale-demo-abc123")
    run = load.run
    assert run[:2] == ["run", "scale-demo-abc123"]
    assert f"--image={IMAGE}" in run and "--restart=Never" in run and "--override-type=strategic" in run
    assert run[run.index("-n") + 1] == "payments"
    args = run[run.index("--") + 1:]
    assert args == ["bin/kafka-producer-perf-test.sh", "--topic", "orders", "--num-records", "2000", "--record-size",
                    "64", "--throughput", "250", "--producer-props", f"bootstrap.servers={TLS_BOOTSTRAP}",
                    *(["--producer.config", "/etc/kafka-producer/producer.properties"] if producer_secret else [])]
    overrides = json.loads(next(a for a in run if a.startswith("--overrides=")).split("=", 1)[1])
    assert overrides["spec"]["containers"][0]["name"] == "scale-demo-abc123"
    assert overrides["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] is True


def test_lag_is_read_per_partition_and_an_uncommitted_partition_lags_by_what_it_holds():
    demo = SCRIPT_MODULE
    text = "\n".join([
        '# HELP kafka_topic_partitions Number of partitions for this Topic',
        'kafka_topic_partitions{topic="orders"} 2',
        'kafka_topic_partition_current_offset{partition="0",topic="orders"} 100',
        'kafka_topic_partition_current_offset{partition="1",topic="orders"} 50',
        'kafka_topic_partition_oldest_offset{partition="0",topic="orders"} 0',
        'kafka_topic_partition_oldest_offset{partition="1",topic="orders"} 10',
        'kafka_consumergroup_lag{consumergroup="g",partition="0",topic="orders"} 30',
        'kafka_consumergroup_lag{consumergroup="g",partition="1",topic="orders"} -1',
        'kafka_consumergroup_lag{consumergroup="other",partition="0",topic="orders"} 7',
        'kafka_topic_partition_current_offset{partition="0",topic="orders-dlq"} 4',
    ])
    assert demo.reading(text, "orders", "g", "orders-dlq") == demo.Reading(2, 150, 30 + 40, 4)
    assert demo.reading(text, "audit", "g", None) is None


@pytest.mark.skipif(os.environ.get("SCALE_DEMO_SAMPLE") is None, reason="regenerates docs/scale-demo-sample.png")
def test_regenerate_the_readme_sample_picture(replay):
    """SCALE_DEMO_SAMPLE=1 .venv/bin/python -m pytest tests/test_scale_demo.py -k sample -s"""
    replay.write(timeline(SAMPLE_TIMELINE, producer_log=SAMPLE_PRODUCER_LOG, keda=True))
    result = replay.run("dev", "--records", "50000")
    print(result.stdout)
    assert result.returncode == 0, result.stderr
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "scale-demo-sample.png").write_bytes((replay.tmp / "out" / "scale.png").read_bytes())


def _sample_timeline() -> list[dict]:
    """A scripted run of the dev stack's demo with consumerScaling (50000 records, 6 partitions, rps target 5),
    5 s a sample: the burst lands in ~10 s and waits for a consumer, KEDA raises the consumers from 0 at its next
    lag poll (10 s), the events reach the function, Knative scales to max-scale 6 and no further, the lag
    drains; KEDA takes the consumers away after its cooldown (30 s) and a poll, the dispatcher pod goes at the
    kafka-controller's next scale-down (every 100 s, AUTOSCALER_REFRESH_PERIOD), and after the stable window
    (60 s) and the scale-to-zero grace period (30 s) the function is back at zero."""
    desired = [0, 0, 1, 4] + [6] * 18 + [3, 3, 2, 1, 1, 1, 1, 0, 0, 0]
    ready = [0, *desired[:-1]]
    end = [0, 21000] + [50000] * 30
    lag: list[int | None] = [None, None, 49800, 48900, 45400, 40100, 34600, 29100, 23700, 18200, 12800, 7300, 2100]
    lag += [0] * (32 - len(lag))
    phases = ["Pending", "Running", "Running"] + ["Succeeded"] * 29
    consumers = [0, 0, 2] + [6] * 17 + [0] * 12
    dispatchers = [0, 0, 1] + [1] * 26 + [0] * 3
    steps = [step(0, 0, 0, 0, "Pending", consumers=0, dispatchers=0)]
    steps += [step(d, r, e, lg, ph, dlq=0, consumers=c, dispatchers=p) for d, r, e, lg, ph, c, p in
              zip(desired, ready, end, lag, phases, consumers, dispatchers, strict=True)]
    return steps


SAMPLE_TIMELINE = _sample_timeline()
SAMPLE_PRODUCER_LOG = ("50000 records sent, 4950.5 records/sec (2.42 MB/sec), 1843.2 ms avg latency, 2710.0 ms max "
                       "latency, 1902 ms 50th, 2588 ms 95th, 2671 ms 99th, 2702 ms 99.9th.")
