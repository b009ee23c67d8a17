"""The configuration as the parser declares it, and what is rendered from that declaration.

Every typed read in components/config.py declares its key (a JSON Schema of the value, the default as the
README shows it, what it means). Parsing stacks that between them reach every key (each fixture stack file,
each with every function setting off its default, and every example edit of components/live_changes.py)
collects the declarations; from them come schema/stack.schema.json, which the stack files name for editors,
and the README's configuration reference. tests/test_reference.py holds both files to what this renders:

    UPDATE_REFERENCE=1 scripts/test -k reference      (then review the diff of the two files)
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from test_day2 import base_settings
from test_webhooks import every_function_setting

import day2
from components import config
from components.live_changes import ROWS
from components.settings import ConfigError, Container, Section, Setting
from harness import ROOT, SHIPPED_STACKS, stack_config

ROOT_PATTERN = f"{config.PROJECT}:"
SCHEMA_FILE = ROOT / "schema" / "stack.schema.json"
# The line each stack file starts with, so the YAML language server (VS Code's YAML extension, and editors that
# embed it) checks the file against the schema; the path is relative to the stack file.
MODELINE = "# yaml-language-server: $schema=schema/stack.schema.json"
README = ROOT / "README.md"
README_START = ("<!-- configuration-reference: rendered from the parser's declarations (tests/reference.py); "
                "UPDATE_REFERENCE=1 scripts/test -k reference -->\n")
README_END = "<!-- /configuration-reference -->"


@contextmanager
def declaring() -> Iterator[list[tuple[str, Setting | Container]]]:
    declarations: list[tuple[str, Setting | Container]] = []
    Section.declarations = declarations
    try:
        yield declarations
    finally:
        Section.declarations = None


def explored() -> list[tuple[str, dict[str, Any]]]:
    """(stack, settings) that between them reach every key the parser reads."""
    settings = [(stack, stack_config(stack)) for stack in SHIPPED_STACKS]
    settings += [(stack, every_function_setting(stack)) for stack in SHIPPED_STACKS]
    settings += [(row.stack, day2.settings(row.stack, row.example, base_settings(row.stack, row.base)))
                 for row in ROWS]
    return settings


@dataclass(frozen=True)
class Declarations:
    recorded: tuple[tuple[str, Setting | Container], ...]   # every declaration, as each read made it
    unparsed: tuple[str, ...]                                # explored settings the parser refused

    @property
    def keys(self) -> frozenset[str]:
        """The settings, objects aside, by pattern without the project prefix (as components/live_changes names
        them): every leaf and every list."""
        return frozenset(p.removeprefix(ROOT_PATTERN) for p, d in self.recorded
                         if isinstance(d, Setting) or d.kind == "list")

    def merged(self) -> dict[str, Setting | Container]:
        """One declaration per pattern, in the order of the tree. A key read with other choices elsewhere (a
        metric of another autoscaler class) takes all of them; any other difference is a default derived from
        other settings without a `shown` text, or two meanings of one key: both refused."""
        merged: dict[str, Setting | Container] = {}
        for pattern, d in self.recorded:
            before = merged.setdefault(pattern, d)
            if before is d:
                continue
            if isinstance(before, Setting) and isinstance(d, Setting):
                assert (before.default, before.doc, before.required) == (d.default, d.doc, d.required), (
                    f"{pattern} is declared as {before.default!r}, {before.doc!r} and as {d.default!r}, {d.doc!r}: "
                    "a default derived from other settings needs `shown=`")
                merged[pattern] = Setting(either(pattern, before.schema, d.schema), before.default, before.doc,
                                          before.required, before.check)
            else:
                assert isinstance(before, Container) and isinstance(d, Container), f"{pattern}: a setting and an object"
                assert before.kind == d.kind and before.default == d.default, f"{pattern}: {before} and {d}"
                if d.doc and not before.doc:
                    merged[pattern] = d
                assert not (before.doc and d.doc and before.doc != d.doc), f"{pattern}: two meanings"
        return {p: merged[p] for p in tree_order(merged)}


def either(pattern: str, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The schema of a key whose choices, or whether it may be left empty, depend on other settings (a metric of
    either autoscaler class; maxScale, which has no default without ordering): what either read takes."""
    if a == b:
        return a
    if "enum" in a and "enum" in b:
        return {"enum": a["enum"] + [c for c in b["enum"] if c not in a["enum"]]}
    a_kinds, b_kinds = ([s["type"]] if isinstance(s["type"], str) else s["type"] for s in (a, b))
    kinds = [*a_kinds, *(k for k in b_kinds if k not in a_kinds)]
    assert {**a, "type": None} == {**b, "type": None}, f"{pattern}: {a} and {b}"
    return {**a, "type": kinds}


def parent(pattern: str) -> str | None:
    if pattern == ROOT_PATTERN:
        return None
    if pattern.endswith("[]"):
        return pattern[:-2]
    head, dot, _ = pattern.rpartition(".")
    return head if dot else ROOT_PATTERN


def name_of(pattern: str) -> str:
    return pattern.removeprefix(parent(pattern) or "").removeprefix(".")


def children(merged: dict[str, Any], pattern: str) -> list[str]:
    return [p for p in merged if parent(p) == pattern]


def tree_order(merged: dict[str, Any]) -> list[str]:
    """Depth first, siblings in the order the parser first read them."""
    def walk(pattern: str) -> Iterator[str]:
        yield pattern
        for child in children(merged, pattern):
            yield from walk(child)
    return list(walk(ROOT_PATTERN))


@cache
def declarations() -> Declarations:
    recorded, unparsed = [], []
    for stack, settings in explored():
        with declaring() as made:
            try:
                config.parse(settings, stack)
            except ConfigError as e:
                unparsed.append(f"{stack}: {e}")
        recorded += made
    return Declarations(tuple(recorded), tuple(unparsed))


# --- the JSON Schema ---------------------------------------------------------------------------------

def described(schema: dict[str, Any], doc: str, default: str | None, required: bool) -> dict[str, Any]:
    """The meaning and default as the YAML language server shows them on hover (Markdown) and plain."""
    tail = "required" if required else (f"default {default}" if default else "")
    text = f"{doc} ({tail})" if doc and tail else doc or tail
    return {**schema, **({"description": text.replace("`", ""), "markdownDescription": text} if text else {})}


# `pulumi config set --secret --path` writes a value as {secure: <ciphertext>}; the program gets it decrypted.
SECURE = {"type": "object", "properties": {"secure": {"type": "string"}}, "required": ["secure"],
          "additionalProperties": False, "description": "a value pulumi config set --secret encrypted"}


def secrets_allowed(schema: dict[str, Any]) -> dict[str, Any]:
    """Any value a --path may name (a scalar, a list item, an object's value) may be written encrypted."""
    if isinstance(schema.get("additionalProperties"), dict):
        return {**schema, "additionalProperties": secrets_allowed(schema["additionalProperties"])}
    if isinstance(schema.get("items"), dict):
        return {**schema, "items": secrets_allowed(schema["items"])}
    return {"anyOf": [schema, {"$ref": "#/definitions/secure"}]}


def schema_of(merged: dict[str, Setting | Container], pattern: str) -> dict[str, Any]:
    d = merged[pattern]
    if isinstance(d, Setting):
        return described(secrets_allowed(d.schema), d.doc, d.default, d.required)
    if d.kind == "list":
        return described({"type": "array", "items": schema_of(merged, pattern + "[]")}, d.doc, d.default, False)
    named = [c for c in children(merged, pattern) if name_of(c) != "<name>"]
    chosen = [c for c in children(merged, pattern) if name_of(c) == "<name>"]
    required = [name_of(c) for c in named if isinstance(merged[c], Setting) and merged[c].required]  # type: ignore
    return described({
        # An object left empty (`cluster:`) is YAML's null, which the parser reads as no settings.
        "type": ["object", "null"],
        "properties": {name_of(c): schema_of(merged, c) for c in named},
        "additionalProperties": schema_of(merged, chosen[0]) if chosen else False,
        **({"required": required} if required else {}),
    }, d.doc, None, False)


def as_json_text_too(schema: dict[str, Any]) -> dict[str, Any]:
    """`pulumi config set knative-kafka:topics '[...]'` (without --path) stores a top-level value as JSON text,
    which the program decodes (config.project_settings): an editor takes the text unread."""
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*kinds, "string"]}


def stack_file_schema(merged: dict[str, Setting | Container]) -> dict[str, Any]:
    top = schema_of(merged, ROOT_PATTERN)
    settings = {f"{ROOT_PATTERN}{name}": as_json_text_too(schema) for name, schema in top["properties"].items()}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "knative-kafka stack file (Pulumi.<stack>.yaml)",
        "description": "The settings of one stack of the knative-kafka program. Generated from the program's "
                       "parser (tests/reference.py): pulumi preview refuses what this schema refuses, and more "
                       "(rules between settings, such as a function's maxScale above its topic's partitions).",
        "type": "object",
        "definitions": {"secure": SECURE},
        "properties": {
            "config": {
                "type": "object",
                "properties": settings,
                # Other providers' and Pulumi's own keys (azure-native:location, pulumi:tags) are theirs; a key
                # under the project's namespace is one of these or a mistake.
                "propertyNames": {"anyOf": [{"enum": list(settings)},
                                            {"not": {"pattern": f"^{ROOT_PATTERN}"}}]},
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
    }


def schema_text() -> str:
    return json.dumps(stack_file_schema(declarations().merged()), indent=2) + "\n"


# --- the README's configuration reference ------------------------------------------------------------

def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def reference_markdown() -> str:
    merged = declarations().merged()
    out = []
    for top in children(merged, ROOT_PATTERN):
        d = merged[top]
        assert isinstance(d, Container), f"{top}: a top-level setting"
        default = f" Default: {d.default}." if d.default else ""
        out += [f"### `{name_of(top)}`", "", f"{d.doc[:1].upper()}{d.doc[1:]}.{default}", "",
                "| key | default | meaning |", "|---|---|---|"]
        base = top + "[]" if d.kind == "list" else top
        for pattern in tree_order(merged):
            if not pattern.startswith(base + ".") or pattern.endswith("[]"):
                continue
            row = merged[pattern]
            if isinstance(row, Container) and not row.doc:
                continue
            required = isinstance(row, Setting) and row.required
            shown = "required" if required else (row.default or "-")
            out.append(f"| `{pattern.removeprefix(base + '.')}` | {cell(shown)} | {cell(row.doc)} |")
        out.append("")
    return "\n".join(out)


def readme_block(readme: str) -> tuple[int, int]:
    start = readme.index(README_START) + len(README_START)
    return start, readme.index(README_END, start)
