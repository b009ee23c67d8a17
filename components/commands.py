"""The recipe's manual checks as ready-to-paste commands, exported per stack and function."""
from __future__ import annotations

import json
import shlex
from typing import Any

# The label of the throwaway client pods below: Kafka's client listener admits them from the function
# namespaces (components/strimzi.py, networkPolicyPeers).
CLIENT_LABEL = {"knative-kafka.dev/kafka-client": "true"}


def produce(namespace: str, image: str, bootstrap: str, topic: str) -> str:
    """A throwaway producer pod: type a line, press enter, and it is one event on the topic."""
    overrides = json.dumps(load_overrides(PRODUCE_POD, None), separators=(",", ":"))
    return (f"kubectl -n {namespace} run {PRODUCE_POD} -ti --rm --restart=Never --image={image} "
            f"--override-type=strategic --overrides={shlex.quote(overrides)} -- "
            f"bin/kafka-console-producer.sh --bootstrap-server {bootstrap} --topic {shlex.quote(topic)}")


# Enough records, sent as fast as Kafka takes them, to keep every partition busy for minutes:
# the autoscaler then takes the function to its bound (max-scale), which typing lines never does.
LOAD_RECORDS = 50000
LOAD_RECORD_BYTES = 512
LOAD_POD = "kafka-load"
PRODUCE_POD = "kafka-producer"
# What Pod Security's `restricted` level requires of a container (function namespaces enforce it); the
# Strimzi Kafka image runs as a numeric non-root user.
RESTRICTED_CONTAINER = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"}}
# Where the load pod mounts its producer's Secret (authenticated Kafka): the client properties, and the
# cluster CA they name as a PEM truststore.
PRODUCER_DIR = "/etc/kafka-producer"
PRODUCER_PROPERTIES = "producer.properties"
PRODUCER_CA = "ca.crt"


def producer_properties(user: str, password: str) -> str:
    """Kafka client settings of a SCRAM-SHA-512 producer over TLS (the Secret the load pod mounts)."""
    return "\n".join([
        "security.protocol=SASL_SSL",
        "sasl.mechanism=SCRAM-SHA-512",
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";',
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={PRODUCER_DIR}/{PRODUCER_CA}",
        "",
    ])


def load_overrides(pod: str, producer_secret: str | None) -> dict[str, Any]:
    """What `kubectl run` adds to its pod (strategic merge, by container name = pod name)."""
    container: dict[str, Any] = {"name": pod, "securityContext": RESTRICTED_CONTAINER}
    spec: dict[str, Any] = {"containers": [container]}
    if producer_secret is not None:
        container["volumeMounts"] = [{"name": "producer", "mountPath": PRODUCER_DIR, "readOnly": True}]
        spec["volumes"] = [{"name": "producer", "secret": {"secretName": producer_secret}}]
    return {"metadata": {"labels": CLIENT_LABEL}, "spec": spec}


def load(namespace: str, image: str, bootstrap: str, topic: str, producer_secret: str | None = None) -> str:
    """A throwaway pod running Kafka's producer performance tool: $RECORDS records (default
    LOAD_RECORDS) at full speed onto the function's topic. producer_secret: the Secret (in `namespace`)
    of a producer identity, for an authenticated Kafka."""
    overrides = json.dumps(load_overrides(LOAD_POD, producer_secret), separators=(",", ":"))
    auth = f" --producer.config {PRODUCER_DIR}/{PRODUCER_PROPERTIES}" if producer_secret is not None else ""
    return (f"kubectl -n {namespace} run {LOAD_POD} -i --rm --restart=Never --image={image} "
            f"--override-type=strategic --overrides={shlex.quote(overrides)} -- "
            f"bin/kafka-producer-perf-test.sh --topic {shlex.quote(topic)} --num-records ${{RECORDS:-{LOAD_RECORDS}}} "
            f"--record-size {LOAD_RECORD_BYTES} --throughput -1 --producer-props bootstrap.servers={bootstrap}{auth}")


def follow_logs(namespace: str, service: str) -> str:
    return (f"kubectl -n {namespace} logs -f -l serving.knative.dev/service={service} -c user-container "
            "--max-log-requests 20")


def watch_scale(namespace: str, service: str) -> str:
    return f"kubectl -n {namespace} get pods -l serving.knative.dev/service={service} -w"


def fetch_kubeconfig(stack: str) -> str:
    """The provider's own kubeconfig (kubelogin exec, no static credential): needs kubelogin on PATH."""
    return f"pulumi stack output kubeconfig --show-secrets --stack {stack} > kubeconfig-{stack}.yaml"
