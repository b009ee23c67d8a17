"""The recipe's manual checks as ready-to-paste commands, exported per stack and function."""
from __future__ import annotations

import shlex


def produce(namespace: str, image: str, bootstrap: str, topic: str) -> str:
    """A throwaway producer pod: type a line, press enter, and it is one event on the topic."""
    return (f"kubectl -n {namespace} run kafka-producer -ti --rm --restart=Never --image={image} -- "
            f"bin/kafka-console-producer.sh --bootstrap-server {bootstrap} --topic {shlex.quote(topic)}")


# Enough records, sent as fast as Kafka takes them, to keep every partition busy for minutes:
# the autoscaler then takes the function to its bound (max-scale), which typing lines never does.
LOAD_RECORDS = 50000
LOAD_RECORD_BYTES = 512


def load(namespace: str, image: str, bootstrap: str, topic: str) -> str:
    """A throwaway pod running Kafka's producer performance tool: $RECORDS records (default
    LOAD_RECORDS) at full speed onto the function's topic."""
    return (f"kubectl -n {namespace} run kafka-load -i --rm --restart=Never --image={image} -- "
            f"bin/kafka-producer-perf-test.sh --topic {shlex.quote(topic)} --num-records ${{RECORDS:-{LOAD_RECORDS}}} "
            f"--record-size {LOAD_RECORD_BYTES} --throughput -1 --producer-props bootstrap.servers={bootstrap}")


def follow_logs(namespace: str, service: str) -> str:
    return (f"kubectl -n {namespace} logs -f -l serving.knative.dev/service={service} -c user-container "
            "--max-log-requests 20")


def watch_scale(namespace: str, service: str) -> str:
    return f"kubectl -n {namespace} get pods -l serving.knative.dev/service={service} -w"


def fetch_kubeconfig(stack: str) -> str:
    """The provider's own kubeconfig (kubelogin exec, no static credential): needs kubelogin on PATH."""
    return f"pulumi stack output kubeconfig --show-secrets --stack {stack} > kubeconfig-{stack}.yaml"
