"""components/stack_file.py, the one reader of a stack file (issue 17): YAML 1.2 as Pulumi's yaml.v3 reads it, Pulumi's
own handling of config keys and values, the same refusals as preview, in one line and exit 2 from every entry point
(scripts/capacity, scripts/scale-demo, scripts/deploy, `python -m components.stack_file`).

What Pulumi hands the program is written out by hand below from its Go source (the module's docstring names the
files), so the reader is held to that, not to itself."""
from __future__ import annotations

import datetime
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import stand_ins
import yaml
from test_deploy_script import BASIC_TOOLS, READ_ONLY, STUBS, project

from components import stack_file
from components.config import parse, project_settings
from components.settings import ConfigError
from harness import ROOT, load_script

OPEN = "authorizedIpRanges: [20.50.10.0/24]"        # an AKS cluster the parser takes; the rest are defaults


def write(tmp_path: Path, text: str | bytes, name: str = "Pulumi.edited.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def refusal(read: Callable[[], Any]) -> str:
    with pytest.raises(ConfigError) as refused:
        read()
    return str(refused.value)


# (a plain scalar, the value the program gets for it, what PyYAML's YAML 1.1 safe_load reads instead)
YAML_1_2 = [
    ("on", "on", True), ("off", "off", False), ("yes", "yes", True), ("No", "No", False),
    ("1:30", "1:30", 90),                                   # no sexagesimal numbers
    ("0o17", 15, "0o17"),                                   # YAML 1.2 octal
    ("017", 15, 15),                                        # yaml.v3 keeps YAML 1.1's octal "for compatibility"
    ("09", 9, "09"),                                        # not octal, so yamlStyleFloat's 9.0: 9 to the program
    ("1e3", 1000, "1e3"),                                   # a float without a dot; whole, so 1000
    ("3.0", 3, 3.0),                                        # encoding/json writes a whole float64 as 3
    ("1.30", 1.3, 1.3),
    ("0x1F", 31, 31), ("1_000", 1000, 1000), ("+12", 12, 12), (".5", 0.5, 0.5), (".5e999", ".5e999", ".5e999"),
    ("~", None, None), ("null", None, None), ("NULL", None, None), ("", None, None),
    ("True", True, True), ("tRUE", "tRUE", "tRUE"),
    ("=", "=", "error"),                                    # PyYAML's !!value has no constructor
    ("2001-12-14", "2001-12-14 00:00:00 +0000 UTC", datetime.date(2001, 12, 14)),      # Go's time.String()
    ("2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.1 -0500 -0500",
     datetime.datetime(2001, 12, 14, 21, 59, 43, 100000, datetime.timezone(datetime.timedelta(hours=-5)))),
    ("2001-02-30", "2001-02-30", "error"),                   # no such day: text to Go, an error to PyYAML
    ('"yes"', "yes", "yes"), ("'1:30'", "1:30", "1:30"),
]


@pytest.mark.parametrize(("scalar", "passed", "yaml_1_1"), YAML_1_2, ids=[case[0] or "empty" for case in YAML_1_2])
def test_a_scalar_reaches_the_program_as_yaml_1_2_reads_it(tmp_path, scalar, passed, yaml_1_1):
    path = write(tmp_path, f"config:\n  knative-kafka:cluster: {{value: {scalar}}}\n")
    value = stack_file.read(path)["cluster"]["value"]
    assert (value, type(value)) == (passed, type(passed))
    try:
        older = yaml.safe_load(f"value: {scalar}")["value"]
    except (yaml.YAMLError, ValueError):
        older = "error"
    assert older == yaml_1_1          # what the reader before this one (PyYAML's safe_load) took from the file


@pytest.mark.parametrize("scalar", [".inf", "-.Inf", ".nan"])
def test_a_number_json_cannot_hold_is_refused_as_pulumi_refuses_the_file(tmp_path, scalar):
    path = write(tmp_path, f"config:\n  knative-kafka:cluster: {{value: {scalar}}}\n")
    assert refusal(lambda: stack_file.read(path)) == (
        f"Pulumi.edited.yaml line 2, column 34: {scalar} is a number JSON cannot hold, which Pulumi refuses (write it "
        "in quotes to mean the text)")
    quoted = write(tmp_path, f"config:\n  knative-kafka:cluster: {{value: '{scalar}'}}\n")
    assert stack_file.read(quoted)["cluster"]["value"] == scalar


def test_keys_are_the_ones_pulumi_makes_of_them(tmp_path):
    path = write(tmp_path, "config:\n  cluster: {mode: existing}\n  knative-kafka:config:kafka: {brokers: 1}\n"
                           "  azure-native:location: westeurope\n  knative-kafka:functions: [{name: b, a: 1}]\n")
    settings = stack_file.read(path)
    assert settings == {"cluster": {"mode": "existing"}, "kafka": {"brokers": 1}, "functions": [{"a": 1, "name": "b"}]}
    assert list(settings["functions"][0]) == ["a", "name"]         # encoding/json sorts an object's keys


@pytest.mark.parametrize(("text", "message"), [
    ("config:\n  knative-kafka:cluster: {mode: aks}\n  knative-kafka:cluster: {mode: existing}\n",
     "Pulumi.edited.yaml line 3, column 3: the key knative-kafka:cluster is given twice in one object (also on line 2),"
     " which Pulumi refuses"),
    ('config:\n  knative-kafka:cluster: {mode: aks, "mode": existing}\n',
     "Pulumi.edited.yaml line 2, column 38: the key mode is given twice in one object (also on line 2), which Pulumi "
     "refuses"),
    ("config:\n  knative-kafka:cluster: {mode: aks}\n  cluster: {mode: existing}\n",
     "Pulumi.edited.yaml: config: cluster is knative-kafka:cluster, which the file already sets"),
    ("config:\n  knative-kafka:cluster:x: {}\n",
     "Pulumi.edited.yaml: config: knative-kafka:cluster:x is not allowed; a key `<namespace>:<name>` (Pulumi cannot "
     "parse it)"),
    ("config:\n  knative-kafka:functions: [{name: fn, env: {1: x}}]\n",
     'Pulumi.edited.yaml line 2, column 46: the key 1 is a number to YAML, and Pulumi takes only text as a key (write '
     'it in quotes: "1")'),
    ("config:\n  knative-kafka:cluster: {true: x}\n",
     'Pulumi.edited.yaml line 2, column 27: the key true is true or false to YAML, and Pulumi takes only text as a key'
     ' (write it in quotes: "true")'),
    ("notes:\n  2001-12-14: a key outside config counts too\n",
     'Pulumi.edited.yaml line 2, column 3: the key 2001-12-14 is a date to YAML, and Pulumi takes only text as a key '
     '(write it in quotes: "2001-12-14")'),
    ("config:\n  knative-kafka:cluster: {[a]: x}\n",
     "Pulumi.edited.yaml line 2, column 27: a key is a list, and Pulumi takes only text as a key"),
    ("secretsprovider: [passphrase]\n",
     "Pulumi.edited.yaml: secretsprovider: [passphrase] is not allowed; the name of a secrets provider (passphrase, "
     "azurekeyvault://...)"),
    ("config:\n  knative-kafka:cluster: {value: !!int ten}\n",
     "Pulumi.edited.yaml line 2, column 34: ten cannot be read as !!int"),
    ("config:\n  knative-kafka:functions: &all [{name: fn, more: *all}]\n",
     "Pulumi.edited.yaml line 2, column 28: the value anchored here holds an alias to itself, which Pulumi refuses"),
], ids=["key-twice", "quoted-key-twice", "namespace-added-twice", "three-part-key", "number-key", "boolean-key",
        "date-key-anywhere", "list-key", "secrets-provider-list", "tag-mismatch", "alias-to-itself"])
def test_what_pulumi_refuses_to_read_is_refused_in_one_line(tmp_path, text, message):
    assert refusal(lambda: stack_file.read(write(tmp_path, text))) == message


def test_the_other_top_level_fields(tmp_path):
    quoted = write(tmp_path, "secretsprovider: 'passphrase'  # the team's\nencryptionsalt: v1:abc\nconfig: {}\n")
    assert stack_file.load(quoted) == stack_file.StackFile({}, "passphrase")
    assert stack_file.load(write(tmp_path, "config: {}\n")).secrets_provider == ""
    assert stack_file.read(write(tmp_path, "\ufeffconfig:\n  cluster: {}\n")) == {"cluster": {}}     # a BOM, dropped
    # Only the first document: yaml.v3 reads no further.
    assert stack_file.read(write(tmp_path, "config:\n  cluster: {mode: existing}\n---\n[\n")) == {
        "cluster": {"mode": "existing"}}
    merged = write(tmp_path, "x-local: &local {mode: existing, context: kind}\nconfig:\n  knative-kafka:cluster:\n"
                             "    <<: *local\n    context: kind-knative\n")
    assert stack_file.read(merged) == {"cluster": {"context": "kind-knative", "mode": "existing"}}


# --- the same words as preview ---------------------------------------------------------------------------------
# (stack file's config lines, the config map Pulumi hands the program for them, whether the program takes it)
AS_PREVIEW = [
    ("  knative-kafka:cluster: {mode: on}\n", {"knative-kafka:cluster": '{"mode":"on"}'}, False),
    (f"  knative-kafka:cluster: {{{OPEN}, userPool: {{enabled: yes}}}}\n",
     {"knative-kafka:cluster": '{"authorizedIpRanges":["20.50.10.0/24"],"userPool":{"enabled":"yes"}}'}, False),
    (f"  knative-kafka:cluster: {{{OPEN}, location: 2001-12-14}}\n",
     {"knative-kafka:cluster": '{"authorizedIpRanges":["20.50.10.0/24"],"location":"2001-12-14 00:00:00 +0000 UTC"}'},
     False),
    (f"  knative-kafka:cluster: {{{OPEN}, kubernetesVersion: 1.30}}\n",
     {"knative-kafka:cluster": '{"authorizedIpRanges":["20.50.10.0/24"],"kubernetesVersion":1.3}'}, False),
    ("  knative-kafka:functions:\n", {"knative-kafka:functions": ""}, False),        # a key without a value is ""
    ("  knative-kafka:zeta: 1\n  knative-kafka:alpha: 2\n", {"knative-kafka:alpha": "2", "knative-kafka:zeta": "1"},
     False),
    (f"  knative-kafka:cluster: {{{OPEN}}}\n  knative-kafka:kafka: {{brokers: 3.0, minInsyncReplicas: 0x2}}\n",
     {"knative-kafka:cluster": '{"authorizedIpRanges":["20.50.10.0/24"]}',
      "knative-kafka:kafka": '{"brokers":3,"minInsyncReplicas":2}'}, True),
]


def outcome(read: Callable[[], dict[str, Any]]) -> Any:
    try:
        return parse(read(), "edited")
    except ConfigError as e:
        return str(e)


@pytest.mark.parametrize(("config", "passed", "taken"), AS_PREVIEW,
                         ids=["on", "yes", "date", "version", "no-value", "keys-sorted", "whole-floats"])
def test_a_stack_file_gets_the_words_preview_has_for_it(tmp_path, config, passed, taken):
    """parse(project_settings(...)) is the program's own first stage at preview (config.read): a refusal in the
    same words, or the same settings."""
    path = write(tmp_path, "config:\n" + config)
    preview = outcome(lambda: project_settings(passed))
    assert outcome(lambda: stack_file.read(path)) == preview
    assert isinstance(preview, str) != taken, preview


# --- one line and exit 2, from every entry point ------------------------------------------------------------------
BROKEN = [
    pytest.param("config:\n  knative-kafka:kafka:\n    brokers: 3\n   storage: ephemeral\n", id="indentation-slip"),
    pytest.param("config:\n  knative-kafka:cluster: {mode: aks}\n  knative-kafka:cluster: {mode: existing}\n",
                 id="key-twice"),
    pytest.param("config:\n  knative-kafka:kafka: {brokers: .inf}\n", id="infinity"),
    pytest.param("config:\n  knative-kafka:function: []\n", id="unknown-key"),
    pytest.param(b"config:\n  knative-kafka:functions: [{name: caf\xe9}]\n", id="not-utf-8"),
]


@pytest.mark.parametrize("text", BROKEN)
def test_every_entry_point_refuses_a_broken_file_in_the_readers_one_line(tmp_path, capsys, text):
    script = project(tmp_path, {})             # scripts/deploy in a project of its own, which the others read too
    path = write(script.parents[1], text)
    message = refusal(lambda: stack_file.read(path))
    assert "\n" not in message

    assert load_script("capacity").main([str(path)]) == 2
    assert capsys.readouterr() == ("", f"capacity: {message}\n")

    demo = load_script("scale_demo")
    with mock.patch.object(demo, "ROOT", path.parent), mock.patch.object(demo.subprocess, "run") as run:
        assert demo.main(["edited"]) == 2
    assert capsys.readouterr() == ("", f"scale-demo: {message}\n")
    assert run.call_count == 0                  # neither pulumi nor kubectl was asked

    reader = subprocess.run([sys.executable, "-m", "components.stack_file", "--prog", "reader", str(path),
                             "cluster.mode"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert (reader.returncode, reader.stdout, reader.stderr) == (2, "", f"reader: {message}\n")

    (tmp_path / "deploy").mkdir()
    sandbox = stand_ins.sandbox(tmp_path / "deploy", script, STUBS, BASIC_TOOLS, READ_ONLY)
    sandbox.env |= {"KNATIVE_KAFKA_SKIP_VENV": "1", "PULUMI_CONFIG_PASSPHRASE": "test"}
    deploy = sandbox.run("edited")
    assert (deploy.returncode, deploy.stdout, deploy.stderr) == (2, "", f"deploy: {message}\n")
    assert sandbox.changes() == [] and not [call for call in sandbox.calls() if not call.startswith("python3 ")]


def test_the_reader_prints_the_fields_deploy_asks_for(tmp_path):
    path = write(tmp_path, "secretsprovider: azurekeyvault://kv/keys/k\nconfig:\n  cluster:\n    mode: >-\n"
                           "      existing\n    encryptionAtHost: true\n")
    answer = subprocess.run([sys.executable, "-m", "components.stack_file", str(path), "cluster.mode",
                             "cluster.encryptionAtHost", "secretsprovider", "kafka.brokers"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert (answer.returncode, answer.stderr) == (0, "")
    assert answer.stdout.splitlines() == ['"existing"', "true", '"azurekeyvault://kv/keys/k"', "null"]


def test_scale_demo_without_the_requirements_names_the_command_that_installs_them():
    """The wrapper's python3 fallback when there is no .venv, here a Python without site-packages."""
    result = subprocess.run([sys.executable, "-S", str(ROOT / "scripts" / "scale_demo.py"), "dev"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"scale-demo: yaml is not installed: run `python3 -m venv .venv && .venv/bin/pip install "
                             f"-r requirements.txt` in {ROOT} (scripts/test does it too)\n")


def test_a_secret_reads_as_text_the_scripts_cannot_know(tmp_path):
    # pulumi config set --secret --path 'knative-kafka:functions[0].env.API_KEY' ...: preview gets the plaintext, a
    # script without the secrets provider gets text all the same, so scripts/capacity takes what preview takes.
    path = write(tmp_path, "config:\n  knative-kafka:cluster:\n    mode: existing\n    kubeconfig: ~/.kube/config\n"
                           "  knative-kafka:functions:\n    - name: f\n      topic: my-topic\n      env:\n"
                           "        API_KEY:\n          secure: v1:Zm9vYmFy:YmF6\n")
    settings = stack_file.read(path)
    assert settings["functions"][0]["env"] == {"API_KEY": stack_file.SECRET_TEXT}
    assert parse(settings, "edited").functions[0].workload.env == (("API_KEY", stack_file.SECRET_TEXT),)
