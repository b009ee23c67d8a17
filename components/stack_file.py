"""The one reader of a stack file on disk, for the scripts that read one without Pulumi (scripts/capacity,
scale-demo, deploy): Pulumi.<stack>.yaml as `pulumi up` reads it, so a file Pulumi refuses is refused here (one
line, ConfigError) and each setting has the value the program gets.

    python -m components.stack_file [--prog NAME] FILE [FIELD ...]

prints each FIELD (`secretsprovider`, or a setting's path such as `cluster.mode`) as a line of JSON, null when
unset; a refused file: one line on stderr, exit 2.

Pulumi's reading (pulumi/pulumi sdk/go/common, master of 2026-08): encoding/marshal.go parses with gopkg.in/yaml.v3
(v3.0.1); workspace/loaders.go LoadProjectStackBytes refuses a key that is not text (project.go
SimplifyMarshalledValue), gives a bare config key the project's namespace and reads the file again as config
values: resource/config/object.go keeps text as it is and makes anything else JSON (a date: Go's time String()), a
key without a value "" (loaders.go checkForEmptyConfig); config/map.go Decrypt hands the program that text.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from components.config import project_settings
from components.settings import PROJECT, ConfigError, yaml_text

STR, BOOL, NULL = "tag:yaml.org,2002:str", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"
INT, FLOAT, TIMESTAMP = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"
MERGE = "tag:yaml.org,2002:merge"
NOT_TEXT = {BOOL: "true or false", NULL: "null", INT: "a number", FLOAT: "a number", TIMESTAMP: "a date"}

# --- a plain scalar as gopkg.in/yaml.v3 v3.0.1 resolves it (resolve.go, func resolve) ---------------------------
# The YAML 1.2 core schema, not PyYAML's 1.1: true and false only in three spellings (yes, no, on, off, y, n are
# text), null only as ~, null, Null, NULL or nothing, no sexagesimal numbers (1:30 is text). A scalar that starts with
# a digit or a sign is tried as a date, then, every '_' removed, as Go's strconv.ParseInt(s, 0, 64) (0x1F, 0o17,
# 0b101, and 017 is octal 15: "still decoded by default in v3 as well for compatibility"), ParseUint, then
# yamlStyleFloat (1e3 and 09 are floats), then after 0b or 0o a signed number.
RESOLVED = {**dict.fromkeys(("true", "True", "TRUE"), (BOOL, True)),
            **dict.fromkeys(("false", "False", "FALSE"), (BOOL, False)),
            **dict.fromkeys(("", "~", "null", "Null", "NULL"), (NULL, None)),
            **dict.fromkeys((".nan", ".NaN", ".NAN"), (FLOAT, math.nan)),
            **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), (FLOAT, math.inf)),
            **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), (FLOAT, -math.inf))}
HINTED = set("+-0123456789.yYnNtTfFoO~")     # resolveTable: a scalar starting otherwise is text at once
YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")      # what strconv.ParseFloat takes that starts with '.'
DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}
INT64, UINT64 = 2**63, 2**64
# parseTimestamp's layouts as Go's time.Parse reads them: one or two digits a field, ',' or '.' before the fraction,
# a zone required after 'T' or 't' and refused after the space (which matches a run of spaces).
TIMESTAMP_TEXT = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})"
    r"(?:[Tt](?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{1,2}):(?P<second>[0-9]{1,2})(?:[.,](?P<fraction>[0-9]+))?"
    r"(?P<zone>Z|[-+][0-9]{2}:[0-9]{2})"
    r"| +(?P<hour2>[0-9]{1,2}):(?P<minute2>[0-9]{1,2}):(?P<second2>[0-9]{1,2})(?:[.,](?P<fraction2>[0-9]+))?)?")


def go_uint(text: str) -> int | None:
    """strconv.ParseUint(text, 0, 64)."""
    if not text:
        return None
    base, digits = 10, text
    if text[0] == "0":
        prefix = text[1:2].lower()
        base, digits = ({"b": 2, "o": 8, "x": 16}[prefix], text[2:]) if len(text) >= 3 and prefix in ("b", "o", "x") \
            else (8, text[1:])
    if any(c not in DIGITS[base] for c in digits):
        return None
    number = int(digits, base) if digits else 0
    return number if number < UINT64 else None


def go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64)."""
    number = go_uint(text[1:] if text[:1] in ("+", "-") else text)
    if number is None:
        return None
    number = -number if text[:1] == "-" else number
    return number if -INT64 <= number < INT64 else None


def go_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64) of a decimal: a number out of range is an error, not infinity."""
    number = float(text)
    return number if math.isfinite(number) else None


def days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def go_time(text: str) -> str | None:
    """A date as the program gets it, or None if Go's time.Parse refuses it: yaml.v3 reads a time.Time, which
    Pulumi writes out and reads back as RFC 3339 and hands over as its String(), "2001-12-14 00:00:00 +0000 UTC". An
    offset other than 0 prints as Go prints a zone the machine does not use ("+0100 +0100"), as on a UTC machine."""
    m = TIMESTAMP_TEXT.fullmatch(text)
    if m is None:
        return None
    year, month, day = int(m["year"]), int(m["month"]), int(m["day"])
    clock = [m[f"{field}{suffix}"] for suffix in ("", "2") for field in ("hour", "minute", "second", "fraction")]
    hour, minute, second = (int(v or 0) for v in (clock[:3] if m["hour"] is not None else clock[4:7]))
    fraction = (clock[3] if m["hour"] is not None else clock[7]) or ""
    if not (1 <= month <= 12 and 1 <= day <= days_in(month, year) and hour < 24 and minute < 60 and second < 60):
        return None
    zone, offset = m["zone"], 0
    if zone is not None and zone != "Z":
        if int(zone[1:3]) > 24 or int(zone[4:6]) > 60:          # Go's own bounds: "some people do write" 24:00
            return None
        offset = (int(zone[1:3]) * 60 + int(zone[4:6])) * (-1 if zone[0] == "-" else 1)
    nanos = fraction[:9].ljust(9, "0").rstrip("0")
    hhmm = f"{'-' if offset < 0 else '+'}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    return (f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}{'.' + nanos if nanos else ''} "
            f"{hhmm} {'UTC' if offset == 0 else hhmm}")


def resolve(text: str, dates: bool = True) -> tuple[str, Any]:
    """(tag, value) of a plain scalar as yaml.v3 resolves it; dates: whether a date is tried (not for a scalar
    tagged !!int or !!float)."""
    if text and text[0] not in HINTED:
        return STR, text
    if text in RESOLVED:
        return RESOLVED[text]
    if text[0] == ".":
        number = go_float(text) if DOT_FLOAT.fullmatch(text) else None
        return (FLOAT, number) if number is not None else (STR, text)
    if text[0] in "+-0123456789":
        date = go_time(text) if dates else None
        if date is not None:
            return TIMESTAMP, date
        plain = text.replace("_", "")
        number = go_int(plain)
        if number is None:
            number = go_uint(plain)
        if number is not None:
            return INT, number
        if YAML_STYLE_FLOAT.fullmatch(plain) and (real := go_float(plain)) is not None:
            return FLOAT, real
        for prefix, base in (("0b", 2), ("0o", 8)):     # ParseInt(s[2:], base) takes a sign: 0b-101 is -5
            rest = plain[len(prefix):]
            if plain.startswith(prefix) and rest[:1] in ("+", "-") and rest[1:] and \
                    all(c in DIGITS[base] for c in rest[1:]) and -INT64 <= (number := int(rest, base)) < INT64:
                return INT, number
    return STR, text


class Refused(yaml.MarkedYAMLError):
    """YAML that Pulumi refuses as a stack file."""


def refused(node: Node, problem: str) -> Refused:
    return Refused(None, None, problem, node.start_mark)


def keys_refused(root: Node) -> Refused | None:
    """The first thing in the file's structure that Pulumi refuses: a key given twice in a mapping (yaml.v3 decode.go
    mapping(): the same text however quoted), a key that is not text (SimplifyMarshalledValue: "expected only string
    keys"), an alias inside the value it names (decode.go alias(): "contains itself")."""
    found: list[Refused] = []
    done: set[int] = set()
    inside: set[int] = set()

    def walk(node: Node) -> None:
        if id(node) in inside:
            found.append(refused(node, "the value anchored here holds an alias to itself, which Pulumi refuses"))
            return
        if id(node) in done:
            return
        done.add(id(node))
        inside.add(id(node))
        if isinstance(node, SequenceNode):
            for item in node.value:
                walk(item)
        if isinstance(node, MappingNode):
            first: dict[str, Node] = {}
            for key, value in node.value:
                if isinstance(key, ScalarNode) and key.tag in NOT_TEXT:
                    found.append(refused(key, f"the key {key.value} is {NOT_TEXT[key.tag]} to YAML, and Pulumi takes "
                                              f"only text as a key (write it in quotes: {json.dumps(key.value)})"))
                elif not isinstance(key, ScalarNode):
                    found.append(refused(key, f"a key is {'an object' if isinstance(key, MappingNode) else 'a list'}, "
                                              "and Pulumi takes only text as a key"))
                elif first.setdefault(key.value, key) is not key:
                    found.append(refused(key, f"the key {key.value} is given twice in one object (also on line "
                                              f"{first[key.value].start_mark.line + 1}), which Pulumi refuses"))
                walk(key)
                walk(value)
        inside.discard(id(node))

    walk(root)
    return min(found, key=lambda e: e.problem_mark.index if e.problem_mark else 0, default=None)


class Loader(yaml.SafeLoader):
    """PyYAML's parser with yaml.v3's reading of scalars in place of PyYAML's YAML 1.1 implicit resolvers, and
    Pulumi's refusals of keys and of numbers that JSON cannot hold."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}    # none: resolve() decides

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return MERGE if value == "<<" else resolve(value)[0]    # v3 decode.go parser.scalar: a plain << merges
        return super().resolve(kind, value, implicit)

    def construct_document(self, node: Any) -> Any:
        error = keys_refused(node)
        if error is not None:
            raise error
        return super().construct_document(node)


def scalar(tag: str) -> Callable[[Loader, Node], Any]:
    """The constructor of a plain scalar resolve() tagged, or of one tagged so explicitly (!!int "12")."""
    def construct(loader: Loader, node: Node) -> Any:
        found, value = resolve(str(node.value), dates=tag == TIMESTAMP)
        if (found, tag) == (INT, FLOAT):
            found, value = FLOAT, float(value)
        if found != tag:
            raise refused(node, f"{node.value} cannot be read as {tag.replace('tag:yaml.org,2002:', '!!')}")
        if isinstance(value, float) and not math.isfinite(value):
            # object.go MarshalString: encoding/json has no infinity or NaN, so Pulumi refuses the file
            raise refused(node, f"{node.value} is a number JSON cannot hold, which Pulumi refuses (write it in quotes "
                                "to mean the text)")
        return value
    return construct


def by_kind(loader: Loader, node: Node) -> Any:
    """A tag yaml.v3 does not read (!custom, and !!set, !!omap, !!pairs): the text, list or object it tags."""
    if isinstance(node, ScalarNode):
        return node.value
    if isinstance(node, SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


def binary(loader: Loader, node: Node) -> str:
    try:
        return base64.b64decode(str(node.value)).decode("utf-8", "replace")
    except binascii.Error:
        raise refused(node, "!!binary value contains invalid base64 data") from None


for _tag in (BOOL, NULL, INT, FLOAT, TIMESTAMP):
    Loader.add_constructor(_tag, scalar(_tag))
for _other in ("tag:yaml.org,2002:set", "tag:yaml.org,2002:omap", "tag:yaml.org,2002:pairs", None):
    Loader.add_constructor(_other, by_kind)
Loader.add_constructor("tag:yaml.org,2002:binary", binary)


# --- what the program gets ----------------------------------------------------------------------------------

def as_passed(value: Any) -> Any:
    """A value inside a config object as the program decodes the JSON Pulumi hands it: numbers re-read as int64 or
    else float64, and encoding/json writes a float64 from 1e-6 to 1e21 without exponent, a whole one without
    fraction (3.0 arrives as 3); an object's keys sorted."""
    if isinstance(value, dict):
        return {key: as_passed(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [as_passed(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -INT64 <= value < INT64:
        value = float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def text_of(value: Any) -> str:
    """A config value as the program gets it: text as it is, no value as "", anything else as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(as_passed(value), separators=(",", ":"), ensure_ascii=False)


def config_key(key: str, name: str) -> str:
    """A config key as Pulumi names it: the project's namespace added (loaders.go stackConfigNamespacedWithProject),
    the old `<namespace>:config:<name>` shortened (config/key.go ParseKey)."""
    parts = key.split(":")
    if len(parts) == 1:
        return f"{PROJECT}:{key}"
    if len(parts) == 2:
        return key
    if len(parts) == 3 and parts[1] == "config":
        return f"{parts[0]}:{parts[2]}"
    raise ConfigError(f"{name}: config: {key} is not allowed; a key `<namespace>:<name>` (Pulumi cannot parse it)")


@dataclass(frozen=True)
class StackFile:
    settings: dict[str, Any]        # the knative-kafka:* settings, prefix removed, as config.parse takes them
    secrets_provider: str           # `secretsprovider:` as Pulumi reads it, "" when the file names none


# What a value encrypted by `pulumi config set --secret` ({secure: <ciphertext>}) reads as here: the program gets the
# decrypted text, which no script without the stack's secrets provider can know; text all the same, as each secret is.
SECRET_TEXT = "[secret]"


def without_ciphertext(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"secure"} and isinstance(value["secure"], str):
        return SECRET_TEXT
    if isinstance(value, dict):
        return {k: without_ciphertext(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_ciphertext(v) for v in value]
    return value


def load(path: Path) -> StackFile:
    """The file as `pulumi up` reads it. ConfigError (one line) for a file Pulumi or the program's reader refuses."""
    name = path.name
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{name}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start})") from None
    loader = Loader(text)
    try:
        node = loader.get_node() if loader.check_node() else None       # the first document: yaml.v3 reads no more
        data = loader.construct_document(node) if node is not None else None
    except Refused as e:
        mark = e.problem_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{name}{where}: {e.problem}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{name}{where}: not YAML ({getattr(e, 'problem', None) or e})") from None
    finally:
        loader.dispose()
    config = data.get("config") if isinstance(data, dict) else data
    if not isinstance(config, dict | None):
        where = "config" if isinstance(data, dict) else "the file"
        raise ConfigError(f"{name}: {where}: {yaml_text(config)} is not allowed; an object of settings "
                          "(knative-kafka:<key>: value)")
    passed: dict[str, str] = {}
    for key, value in (config or {}).items():
        full = config_key(key, name)
        if full in passed:          # Go's map order would pick one of the two
            raise ConfigError(f"{name}: config: {key} is {full}, which the file already sets")
        passed[full] = text_of(without_ciphertext(value))
    provider = data.get("secretsprovider") if isinstance(data, dict) else None
    if isinstance(provider, dict | list):
        raise ConfigError(f"{name}: secretsprovider: {yaml_text(provider)} is not allowed; the name of a secrets "
                          "provider (passphrase, azurekeyvault://...)")
    # The program reads the config map as Pulumi passes it, a JSON object: its keys sorted.
    return StackFile(project_settings(dict(sorted(passed.items()))), text_of(provider))


def read(path: Path) -> dict[str, Any]:
    """The file's knative-kafka:* settings as `pulumi up` hands them to the program, prefix removed: what
    config.parse takes. ConfigError (one line) for a file Pulumi or the program's reader refuses."""
    return load(path).settings


def field(stack: StackFile, path: str) -> Any:
    if path == "secretsprovider":
        return stack.secrets_provider
    value: Any = stack.settings
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m components.stack_file",
                                description="Print fields of a stack file as `pulumi up` reads it, one JSON line each.")
    p.add_argument("--prog", default="stack_file", help="the name that begins the line of a refusal")
    p.add_argument("file", type=Path)
    p.add_argument("fields", nargs="*", help="secretsprovider, or a setting's path such as cluster.mode")
    a = p.parse_args(argv)
    try:
        stack = load(a.file)
    except ConfigError as e:
        print(f"{a.prog}: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{a.prog}: cannot read {a.file}: {e.strerror}", file=sys.stderr)
        return 2
    for path in a.fields:
        print(json.dumps(field(stack, path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
