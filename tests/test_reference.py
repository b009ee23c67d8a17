"""One declaration of the configuration: the parser's reads. schema/stack.schema.json (which every stack file
names for editors) and README's configuration reference are rendered from it (tests/reference.py), and the
schema judges each key's values as the parser does:

    UPDATE_REFERENCE=1 scripts/test -k reference      (then review the diff of both files)
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
from typing import Any

import jsonschema
import pytest
import yaml
from reference import (
    MODELINE,
    README,
    README_END,
    README_START,
    ROOT_PATTERN,
    SCHEMA_FILE,
    declarations,
    readme_block,
    reference_markdown,
    schema_text,
)

from components.settings import (
    CIDR,
    GO_DURATION,
    ISO_DURATION,
    NUMBER_TEXT,
    ConfigError,
    Container,
    Setting,
)
from harness import FIXTURES, SAFE_LOADER, STACK_FILES, USER_STACKS

UPDATE = os.environ.get("UPDATE_REFERENCE", "") not in ("", "0")


def ecma(pattern: str) -> re.Pattern[str]:
    """A schema's pattern as editors run it (ECMA-262, the YAML language server's `u` flag): \\d and \\w ASCII, $ at
    the very end only. Python's own would take "my-topic\\n" and "١" where an editor refuses them."""
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern), re.ASCII)


def pattern_as_editors_run_it(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not ecma(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


EditorValidator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": pattern_as_editors_run_it})


def validator() -> Any:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return EditorValidator(schema)


def test_every_setting_says_what_it_means_and_the_explored_stacks_parse():
    d = declarations()
    assert d.unparsed == ()
    undocumented = [p for p, s in d.merged().items() if isinstance(s, Setting) and not s.doc]
    assert undocumented == []


def test_the_schema_file_is_rendered_from_the_parser():
    if UPDATE:
        SCHEMA_FILE.parent.mkdir(exist_ok=True)
        SCHEMA_FILE.write_text(schema_text())
    assert SCHEMA_FILE.read_text() == schema_text(), "UPDATE_REFERENCE=1 scripts/test -k reference"


def test_the_readme_reference_is_rendered_from_the_parser():
    readme = README.read_text()
    start, end = readme_block(readme)
    if UPDATE:
        readme = readme[:start] + reference_markdown() + readme[end:]
        README.write_text(readme)
    assert readme[start:end] == reference_markdown(), "UPDATE_REFERENCE=1 scripts/test -k reference"
    assert readme.count(README_START) == 1 and readme.count(README_END) == 1


def test_the_reference_has_a_row_for_every_key_the_parser_reads():
    start, end = readme_block(README.read_text())
    block = README.read_text()[start:end]
    for key in declarations().keys:
        top, _, rest = key.partition(".")
        assert f"### `{top.removesuffix('[]')}`" in block, key
        assert not rest or f"| `{rest}` |" in block, key


# --- the schema judges each key as the parser does ---------------------------------------------------

PROBES: list[Any] = [None, True, False, "", "x", "X1", 0, 1, -1, 2, 6, 100, 2**31, 2**63, 0.5, 2.5, "1", "2.5",
                     "-1", "1.35", 1.35, [], {}, ["1"], ["x"], [1], {"A": "b"}, {"a-b": "c"}, {"A": 1}, "250m",
                     "0m", "0", "0.5", "1Gi", "0Mi", "100Gi", "PT1M", "PT0.3S", "PT", "PT3600S", "60s", "2m", "0s",
                     "2h", "20.50.10.0/24", "300.1.1.1/24", ["20.50.10.0/24"], ["10.0.0.1/8"], ["20.50.10.0/33"],
                     "my-topic", "My-Topic", "a" * 64, "8b1e2f3a-4c5d-4e6f-9a0b-1c2d3e4f5a6b", "Standard_D4ds_v5",
                     "westeurope", "ghcr.io/org/app:1.0", "1.23.0", "4.3-IV0", "kpa", "hpa", "keda", "none",
                     "https://example.com/{repo}/{version}/{file}", math.inf,
                     # What Python's regular expressions take unless told otherwise, and an editor does not.
                     "my-topic\n", "1.35\n", "250m\n", "1\n", "\u0661", "\u0661Gi", "1.\u0663\u0665", "rg-m\u00fcller",
                     "gr\u00fcppe", ["20.0.0.0/08"], "PT1M\n", "60s\n"]


def probes(setting: Setting) -> list[Any]:
    """The fixed probes plus the schema's own edges: each bound and one past it, each choice and a near miss."""
    s = setting.schema
    edges: list[Any] = []
    for bound in ("minimum", "maximum", "exclusiveMinimum"):
        if bound in s:
            edges += [s[bound] + step for step in (-1, 0, 1)] + [str(s[bound] + step) for step in (-1, 0, 1)]
    for choice in s.get("enum", []):
        edges += [choice, choice.upper(), f"{choice} "] if choice is not None else []
    if "maxLength" in s:
        edges += ["a" * s["maxLength"], "a" * (s["maxLength"] + 1)]
    return PROBES + edges


def parser_takes(setting: Setting, value: Any) -> bool:
    try:
        setting.check(value)
        return True
    except ConfigError:
        return False


def judged_per_key() -> list[tuple[str, Setting]]:
    """Each key as each read declared it (a key read with other choices elsewhere, once per choice set)."""
    seen, out = set(), []
    for pattern, d in declarations().recorded:
        if isinstance(d, Setting) and (pattern, json.dumps(d.schema)) not in seen:
            seen.add((pattern, json.dumps(d.schema)))
            out.append((pattern, d))
    return out


def beyond_a_schema(setting: Setting, value: Any) -> str | None:
    """Why the schema may take a value the parser refuses: what a JSON Schema cannot say. Never the other way."""
    pattern = setting.schema.get("pattern")
    if pattern in (GO_DURATION.pattern, ISO_DURATION.pattern) and isinstance(value, str) and re.match(pattern, value):
        return "a duration's range (the text of 6s..1h, PT0.1S..PT1H)"
    if "number" in setting.schema.get("type", ()) and isinstance(value, str) and NUMBER_TEXT.match(value):
        return "a fractional number's range when written as text"
    if setting.schema.get("items", {}).get("pattern") == CIDR.pattern:
        return "host bits of a network (10.0.0.1/8)"
    return None


def test_the_schema_takes_what_the_parser_takes_and_refuses_what_it_refuses_key_by_key():
    disagreements = []
    for pattern, setting in judged_per_key():
        schema = EditorValidator(setting.schema)
        for value in probes(setting):
            if isinstance(value, float) and not math.isfinite(value):
                continue          # not JSON: a stack file's .inf reaches the parser only (probed there below)
            ours, theirs = parser_takes(setting, value), schema.is_valid(value)
            if ours != theirs and (ours or not beyond_a_schema(setting, value)):
                disagreements.append(f"{pattern.removeprefix(ROOT_PATTERN)} = {value!r}: parser "
                                     f"{'takes' if ours else 'refuses'}, schema {'takes' if theirs else 'refuses'}")
    assert disagreements == []


def test_the_schema_can_tell_a_refused_value():
    # Proof that the comparison above is not vacuous: a schema that takes anything disagrees with the parser.
    pattern, setting = next((p, s) for p, s in judged_per_key() if p.endswith("kafka.brokers"))
    assert parser_takes(setting, 3) and not parser_takes(setting, 101) and not parser_takes(setting, "three")
    assert not EditorValidator(setting.schema).is_valid(101)


# --- the stack files and the schema ------------------------------------------------------------------

def test_each_shipped_stack_file_names_the_schema_for_editors():
    for path in sorted(FIXTURES.glob("Pulumi.*.yaml")):
        assert path.read_text().splitlines()[0] == MODELINE, f"{path.name} starts with the schema's modeline"


@pytest.mark.parametrize("name", USER_STACKS)
def test_each_stack_file_passes_the_schema(name):
    path = STACK_FILES / f"Pulumi.{name}.yaml"
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator().iter_errors(yaml.load(path.read_text(), Loader=SAFE_LOADER))]
    assert errors == []


def edited(change: dict[str, Any]) -> dict[str, Any]:
    document = yaml.load((FIXTURES / "Pulumi.prod.yaml").read_text(), Loader=SAFE_LOADER)
    document = copy.deepcopy(document)
    for key, value in change.items():
        document["config"][key] = value
    return document


@pytest.mark.parametrize("change, where", [
    ({"knative-kafka:clustr": {}}, "config"),                                  # a misspelt setting
    ({"knative-kafka:kafka": {"brokers": "three"}}, "config.knative-kafka:kafka.brokers"),
    ({"knative-kafka:kafka": {"brokers": 101}}, "config.knative-kafka:kafka.brokers"),
    ({"knative-kafka:kafka": {"brokrs": 3}}, "config.knative-kafka:kafka"),
    ({"knative-kafka:cluster": {"kubernetesVersion": 1.35}}, "config.knative-kafka:cluster.kubernetesVersion"),
    ({"knative-kafka:topics": [{"partitions": 6}]}, "config.knative-kafka:topics.0"),
    ({"knative-kafka:functions": [{"name": "f", "topic": "t", "env": {"A": 1}}]},
     "config.knative-kafka:functions.0.env.A"),
], ids=["unknown-top-level-key", "wrong-type", "out-of-range", "unknown-nested-key", "unquoted-version",
        "topic-without-name", "env-value-not-text"])
def test_an_editor_marks_what_preview_would_refuse(change, where):
    errors = ['.'.join(map(str, e.absolute_path)) for e in validator().iter_errors(edited(change))]
    assert where in errors, errors


def test_an_editor_takes_what_pulumi_config_set_writes():
    secret = {"secure": "v1:Zm9v:YmFy"}
    document = edited({"knative-kafka:functions": [{"name": "f", "topic": "my-topic", "env": {"API_KEY": secret}}],
                       "knative-kafka:topics": '[{"name": "my-topic"}]'})
    assert [e.message for e in validator().iter_errors(document)] == []
    wrong = edited({"knative-kafka:kafka": {"brokers": {"secure": 3}}})
    assert ['.'.join(map(str, e.absolute_path)) for e in validator().iter_errors(wrong)] == [
        "config.knative-kafka:kafka.brokers"]


def test_an_editor_leaves_other_namespaces_alone():
    assert list(validator().iter_errors(edited({"azure-native:location": "westeurope", "pulumi:tags": {"a": "b"}}))) \
        == []


def test_the_schema_declares_what_the_parser_reads():
    schema = json.loads(SCHEMA_FILE.read_text())
    settings = schema["properties"]["config"]["properties"]
    merged = declarations().merged()
    assert sorted(settings) == sorted(p for p in merged if p.count(":") == 1 and p != ROOT_PATTERN
                                      and "." not in p and not p.endswith("[]"))
    assert all(isinstance(merged[p], Container) for p in settings)


def test_vs_code_maps_every_stack_file_to_the_schema():
    # `pulumi config set` drops the stack file's comments, the modeline among them (pulumi/pulumi#423).
    settings = json.loads((SCHEMA_FILE.parents[1] / ".vscode" / "settings.json").read_text())
    assert settings["yaml.schemas"] == {"./schema/stack.schema.json": "Pulumi.*.yaml"}
    assert SCHEMA_FILE.relative_to(SCHEMA_FILE.parents[1]).as_posix() == "schema/stack.schema.json"
