"""A strict reader of one object of stack settings, whose every read declares the key it reads.

A read names the key, its default and its bounds; from those come both the check of the value (a refusal
names the key, the value as YAML would write it and what is allowed) and the key's declaration: a JSON Schema
of its value, its default as the README shows it and what it means (tests/reference.py renders
schema/stack.schema.json and README's configuration reference from the declarations).
"""
from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import yaml
from pulumi.errors import RunError

PROJECT = "knative-kafka"


class ConfigError(RunError, ValueError):
    """A stack setting is malformed, out of range, unknown or contradicts another one.

    A pulumi RunError, because the Python language host prints a RunError's message alone, without the
    traceback an unhandled error gets: the user sees which key to fix and nothing else.
    """


DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$", re.ASCII)          # Service / Kafka resource names
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", re.ASCII)       # namespaces
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", re.ASCII)
NAME_RULES = {
    DNS1035: "lower-case letters, digits and '-', starting with a letter and not ending with '-'",
    DNS1123: "lower-case letters, digits and '-', starting and ending with a letter or digit",
    DNS1123_SUBDOMAIN: "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
}

INTEGER_TEXT = re.compile(r"^[+-]?\d+$", re.ASCII)
NUMBER_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", re.ASCII)
GO_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?$", re.ASCII)
# eventing-kafka reads ISO-8601 durations with rickb777/date `period.Parse(s, false)`: one decimal (PT0.05S
# becomes 0) and each field in tenths as an int16, so at most 3276.7 (PT3600S overflows; PT1H does not).
ISO_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d)?)S)?$", re.ASCII)
ISO_FIELD_MAX = 3276.7
# An IPv4 network: octets 0-255 and a prefix 0-32 without leading zeros (ipaddress reads /08 as /8; the JSON Schema
# could not); host bits are the parser's alone.
OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
CIDR = re.compile(rf"^({OCTET}\.){{3}}{OCTET}/(3[0-2]|[12]?\d)$", re.ASCII)
CPU = re.compile(r"^(?:(\d+)m|(\d+(?:\.\d{1,3})?))$", re.ASCII)
MEMORY = re.compile(r"^(\d+)(Mi|Gi)$", re.ASCII)


def go_duration_seconds(text: str) -> int | None:
    """'1h2m3s' -> 3723; None when the text is not a whole-second Go duration."""
    m = GO_DURATION.fullmatch(text)
    if not m or not text:
        return None
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + s


def iso_duration_seconds(text: str) -> float | None:
    """'PT1M30.5S' -> 90.5; None when the text is not an ISO-8601 time duration as eventing-kafka reads
    it: whole hours and minutes, seconds with at most one decimal, no field above 3276.7."""
    m = ISO_DURATION.fullmatch(text)
    if not m or text == "PT":
        return None
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    if max(h, mi, s) > ISO_FIELD_MAX:
        return None
    return h * 3600 + mi * 60 + s


def yaml_text(value: Any) -> str:
    """A value as a stack file would write it, for messages: false, null, 8, "1.35", [a, b], {cpu: 250m}.
    A string is plain unless YAML would read it otherwise; then in double quotes."""
    if isinstance(value, list):
        return "[" + ", ".join(yaml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{yaml_text(k)}: {yaml_text(v)}" for k, v in value.items()) + "}"
    # As an item of a flow list: quoted wherever a plain scalar would be read otherwise, in any context.
    flow = yaml.safe_dump([value], default_flow_style=True, width=math.inf).strip()[1:-1]
    return json.dumps(value) if flow.startswith(("'", '"')) else flow


def quoting_fixes(value: Any, accepts: Callable[[str], bool]) -> str:
    """What a refusal adds when YAML read a number (or a list with numbers) where text is wanted and the
    number's text would do: unquoted, `kubernetesVersion: 1.35` is a number, and 1.30 arrives as 1.3."""
    items = value if isinstance(value, list) else [value]
    numbers = [v for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]
    texts = [v if isinstance(v, str) else str(v) for v in items]
    only_text_and_numbers = len(numbers) + sum(isinstance(v, str) for v in items) == len(items)
    if not numbers or not only_text_and_numbers or not all(map(accepts, texts)):
        return ""
    quoted = yaml_text(texts) if isinstance(value, list) else json.dumps(texts[0])
    # A trailing zero is lost only behind a single decimal: 1.30 arrives as 1.3, 1.35 as itself.
    short = [str(v) for v in numbers if isinstance(v, float) and len(str(v).partition(".")[2]) == 1]
    lost = f' (YAML reads 1.30 as the number 1.3: if you wrote {short[0]}0, write "{short[0]}0")' if short else ""
    return f"; YAML read a number: write it in quotes, {quoted}{lost}"


# --- the declaration of every setting ----------------------------------------------------------
# Each read of a key below declares it: what it takes as a JSON Schema, its default as the README shows it and
# what it means. tests/reference.py collects the declarations by parsing stacks that reach every key, and
# renders schema/stack.schema.json and README's configuration reference from them; the parser checks a value
# with the same arguments the schema came from.

@dataclass(frozen=True)
class Setting:
    schema: dict[str, Any]               # a JSON Schema (draft 07) of the value
    default: str | None                  # as the README shows it; None: no default
    doc: str
    required: bool
    check: Callable[[Any], Any]          # the parser's own check of one value of this key, alone


@dataclass(frozen=True)
class Container:
    """An object or list of settings, or the object under a name the user chose (`<name>`)."""
    kind: str                            # "object" | "list"
    default: str | None
    doc: str


def show(default: Any) -> str | None:
    """A default as the README shows it (Markdown)."""
    return None if default is None else f"`{yaml_text(default)}`"


def integer_schema(low: int, high: int | None, optional: bool) -> dict[str, Any]:
    """The text of a whole number counts as that number (a quoted YAML number), so the schema takes the text of
    one in range too."""
    return nullable({"type": ["integer", "string"], "minimum": low, **({"maximum": high} if high is not None else {}),
                     "pattern": integer_text_pattern(low, high)}, optional)


def integer_text_pattern(low: int, high: int | None) -> str:
    """A regular expression for the text of the whole numbers from low to high (none: no upper bound) as
    INTEGER_TEXT reads them: a sign, leading zeros."""
    alternatives = []
    if high is None or high >= 0:
        alternatives.append(f"\\+?0*(?:{natural_range(max(low, 0), high)})")
    if low <= 0:
        alternatives.append(f"-0*(?:{natural_range(0, -low)})")
    return f"^(?:{'|'.join(alternatives)})$"


def natural_range(low: int, high: int | None) -> str:
    """Alternatives matching low..high (0 <= low), without leading zeros, one per number of digits."""
    parts = []
    for length in range(len(str(low)), len(str(high)) + 1 if high is not None else len(str(low)) + 1):
        start, end = max(low, 10 ** (length - 1) if length > 1 else 0), 10 ** length - 1
        parts.append(digits_range(str(start), str(end if high is None else min(end, high))))
    if high is None:
        parts.append(f"[1-9]\\d{{{len(str(low))},}}")
    return "|".join(parts)


def digits_range(low: str, high: str) -> str:
    """Alternatives matching the numbers low..high of as many digits as low and high."""
    if low == high:
        return low
    rest = len(low) - 1
    if low[1:] == "0" * rest and high[1:] == "9" * rest:
        return f"[{low[0]}-{high[0]}]" + (f"\\d{{{rest}}}" if rest else "")
    if low[0] == high[0]:
        return low[0] + f"(?:{digits_range(low[1:], high[1:])})"
    parts = [low[0] + f"(?:{digits_range(low[1:], '9' * rest)})"]
    if int(high[0]) - int(low[0]) > 1:
        parts.append(f"[{int(low[0]) + 1}-{int(high[0]) - 1}]" + (f"\\d{{{rest}}}" if rest else ""))
    parts.append(high[0] + f"(?:{digits_range('0' * rest, high[1:])})")
    return "|".join(parts)


def nullable(schema: dict[str, Any], optional: bool) -> dict[str, Any]:
    """A key the stack may leave empty (`window:`, YAML's null) when it has no default: null reads as unset."""
    if not optional:
        return schema
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*kinds, "null"]}


def number_schema(above: float | None, at_least: float | None, optional: bool) -> dict[str, Any]:
    return nullable({"type": ["number", "string"], "pattern": NUMBER_TEXT.pattern,
                     **({"exclusiveMinimum": above} if above is not None else {}),
                     **({"minimum": at_least} if at_least is not None else {})}, optional)


def text_schema(pattern: re.Pattern[str] | None = None, choices: tuple[str, ...] | None = None,
                max_length: int | None = None, optional: bool = False) -> dict[str, Any]:
    if choices is not None:
        return nullable({"enum": list(choices)}, optional)
    return nullable({"type": "string", **({"pattern": pattern.pattern} if pattern is not None else {}),
                     **({"maxLength": max_length} if max_length is not None else {})}, optional)


# --- a strict reader over one config object ---------------------------------------------------

class Section:
    """Reads one config object; every key must be read, so an unknown key is an error."""

    # Where the reads declare their keys while tests/reference.py collects them: (pattern, declaration).
    declarations: ClassVar[list[tuple[str, Setting | Container]] | None] = None

    def __init__(self, path: str, data: Any, pattern: str | None = None, doc: str = "") -> None:
        self.path = path
        # The path as components/live_changes.py names the key: list indices as [], a name the user chose
        # (an environment variable's) as <name>.
        self.pattern = path if pattern is None else pattern
        self.declare(self.pattern, Container("object", None, doc))
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path}: {yaml_text(data)} is not allowed; an object (key: value)")
        self.data: dict[str, Any] = data
        self.read: set[str] = set()

    @classmethod
    def declare(cls, pattern: str, declaration: Setting | Container) -> None:
        if cls.declarations is not None:
            cls.declarations.append((pattern, declaration))

    def setting(self, name: str, describe: Callable[[], tuple[dict[str, Any], str | None]], doc: str,
                required: bool, check: Callable[[Section], Any]) -> Any:
        """Declare key `name` and read it: check(section) reads it from a section, this one or one that holds
        only a value to try."""
        if Section.declarations is not None:      # only then: describing every read would slow every preview
            schema, default = describe()
            self.declare(self.pattern_of(name), Setting(schema, default, doc, required,
                                                        lambda value: check(Section(self.path, {name: value}))))
        return check(self)

    def key(self, name: str) -> str:
        return self._join(self.path, name)

    def pattern_of(self, name: str) -> str:
        return self._join(self.pattern, name)

    @staticmethod
    def _join(path: str, name: str) -> str:
        return f"{path}{name}" if path.endswith(":") else f"{path}.{name}"

    def fail(self, name: str, value: Any, allowed: str) -> ConfigError:
        return ConfigError(f"{self.key(name)}: {yaml_text(value)} is not allowed; {allowed}")

    def _get(self, name: str, default: Any) -> Any:
        self.read.add(name)
        return self.data.get(name, default)

    # Each typed read: declare(...) with the schema and default its arguments give, then its check (_<kind>).
    # doc says what the key means; shown is the default as the README writes it, where it is derived from other
    # settings (then the value passed differs between stacks).

    def string(self, name: str, default: Any, pattern: re.Pattern[str] | None = None, allowed: str = "a string",
               choices: tuple[str, ...] | None = None, *, doc: str, shown: str | None = None,
               required: bool = False) -> Any:
        return self.setting(name, lambda: (text_schema(pattern, choices, optional=default is None and not required),
                                           shown or show(default)), doc, required,
                            lambda s: s._string(name, default, pattern, allowed, choices, required))

    def _string(self, name: str, default: Any, pattern: re.Pattern[str] | None, allowed: str,
                choices: tuple[str, ...] | None, required: bool) -> Any:
        value = self._get(name, default)
        if value is not None and choices is not None and value in choices:
            return value
        if choices is not None:      # the message only: what a refusal says is costly to write
            allowed = "one of " + ", ".join(yaml_text(c) for c in choices)
        if value is None and required:
            raise self.fail(name, None, f"{allowed}; required")
        if value is None and default is None:
            return None
        if choices is not None:
            raise self.fail(name, value, allowed + quoting_fixes(value, choices.__contains__))
        if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
            raise self.fail(name, value, allowed + quoting_fixes(value, lambda text: pattern is None or
                                                                 bool(pattern.fullmatch(text))))
        return value

    def boolean(self, name: str, default: bool, *, doc: str, shown: str | None = None) -> bool:
        return self.setting(name, lambda: ({"type": "boolean"}, shown or show(default)), doc, False,
                            lambda s: s._boolean(name, default))

    def _boolean(self, name: str, default: bool) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise self.fail(name, value, "true or false")
        return value

    # `pulumi config set --path` stores every number it cannot read as an integer ("2.5") as a string, and a
    # quoted YAML number is a string too: integer() and number() take the text of a number as that number.

    def integer(self, name: str, default: Any, low: int, high: int | None = None, *, doc: str,
                shown: str | None = None) -> Any:
        return self.setting(name, lambda: (integer_schema(low, high, default is None), shown or show(default)), doc,
                            False, lambda s: s._integer(name, default, low, high))

    def _integer(self, name: str, default: Any, low: int, high: int | None) -> Any:
        value = self._get(name, default)
        if value is None and default is None:
            return None
        number = int(value) if isinstance(value, str) and INTEGER_TEXT.fullmatch(value) else value
        if isinstance(number, bool) or not isinstance(number, int) or number < low or (
                high is not None and number > high):
            upper = f" and at most {high}" if high is not None else ""
            raise self.fail(name, value, f"a whole number at least {low}{upper}")
        return number

    def number(self, name: str, default: Any, above: float | None = None, at_least: float | None = None, *,
               doc: str, shown: str | None = None) -> Any:
        """above: an exclusive lower bound; at_least: an inclusive one."""
        return self.setting(name, lambda: (number_schema(above, at_least, default is None), shown or show(default)),
                            doc, False, lambda s: s._number(name, default, above, at_least))

    def _number(self, name: str, default: Any, above: float | None, at_least: float | None) -> Any:
        value = self._get(name, default)
        if value is None and default is None:
            return None
        number = value
        if isinstance(value, str) and NUMBER_TEXT.fullmatch(value):
            number = int(value) if INTEGER_TEXT.fullmatch(value) else float(value)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or (
                isinstance(number, float) and not math.isfinite(number)) or (
                above is not None and not number > above) or (at_least is not None and not number >= at_least):
            bounds = ([f"greater than {above}"] if above is not None else []) + (
                [f"at least {at_least}"] if at_least is not None else [])
            raise self.fail(name, value, " ".join(["a number", " and ".join(bounds)]).strip())
        return number

    def name(self, key: str, default: Any, max_length: int, pattern: re.Pattern[str] = DNS1035,
             what: str = "a Kubernetes name", why: str = "", required: bool = False, *, doc: str,
             shown: str | None = None) -> Any:
        """A name that Kubernetes, Kafka or a name derived from it limits: pattern and length in one rule."""
        return self.setting(key, lambda: (text_schema(pattern, max_length=max_length,
                                                      optional=default is None and not required),
                                          shown or show(default)), doc, required,
                            lambda s: s._name(key, default, max_length, pattern, what, why, required))

    def _name(self, key: str, default: Any, max_length: int, pattern: re.Pattern[str], what: str, why: str,
              required: bool) -> Any:
        value = self._get(key, default)
        allowed = f"{what} of at most {max_length} characters ({NAME_RULES[pattern]})"
        if why:
            allowed += f": {why}"
        if value is None and required:
            raise self.fail(key, None, f"{allowed}; required")
        if value is None and default is None:
            return None
        if not isinstance(value, str) or not pattern.fullmatch(value) or len(value) > max_length:
            raise self.fail(key, value, allowed + quoting_fixes(value, lambda text: bool(pattern.fullmatch(text))))
        return value

    def strings(self, name: str, default: list[str], pattern: re.Pattern[str], allowed: str, *, doc: str,
                shown: str | None = None) -> tuple[str, ...]:
        return self.setting(name, lambda: ({"type": "array", "items": text_schema(pattern)}, shown or show(default)),
                            doc, False, lambda s: s._strings(name, default, pattern, allowed))

    def _strings(self, name: str, default: list[str], pattern: re.Pattern[str], allowed: str) -> tuple[str, ...]:
        value = self._get(name, default)
        if not isinstance(value, list) or not all(isinstance(v, str) and pattern.fullmatch(v) for v in value):
            raise self.fail(name, value,
                            f"a list of {allowed}" + quoting_fixes(value, lambda text: bool(pattern.fullmatch(text))))
        return tuple(value)

    def mapping(self, name: str, key_pattern: re.Pattern[str], what: str, *, doc: str) -> dict[str, str]:
        """An object of string values, such as environment variables."""
        schema = {"type": ["object", "null"], "propertyNames": {"pattern": key_pattern.pattern},
                  "additionalProperties": {"type": "string"}}
        return self.setting(name, lambda: (schema, "`{}`"), doc, False, lambda s: s._mapping(name, key_pattern, what))

    def _mapping(self, name: str, key_pattern: re.Pattern[str], what: str) -> dict[str, str]:
        value = self._get(name, {})
        value = {} if value is None else value
        if not isinstance(value, dict):
            raise self.fail(name, value, f"an object of {what}s and string values")
        for key, item in value.items():
            if not key_pattern.fullmatch(key):
                raise self.fail(f"{name}.{key}", item, f"a value under {what} (letters, digits, '_'): "
                                                       f"{yaml_text(key)} is not one")
            if not isinstance(item, str):
                raise self.fail(f"{name}.{key}", item, "a string (quote numbers and booleans)")
        return dict(value)

    def cpu(self, name: str, default: int, *, doc: str, shown: str | None = None) -> int:
        """A CPU quantity ('250m', '0.5', '2'), in millicores; default 0: none."""
        schema = {"type": ["string", "number", "null"], "pattern": CPU.pattern, "exclusiveMinimum": 0,
                  "not": {"type": "string", "pattern": r"^[0.]*m?$"}}
        return self.setting(name, lambda: (schema, shown or (f"`{default}m`" if default else None)), doc, False,
                            lambda s: s._cpu(name, default))

    def _cpu(self, name: str, default: int) -> int:
        value = self._get(name, None)
        if value is None:
            return default
        m = CPU.fullmatch(str(value)) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
        millicores = (int(m.group(1)) if m.group(1) else round(float(m.group(2)) * 1000)) if m else 0
        if millicores < 1:
            raise self.fail(name, value, "a CPU quantity such as '250m' or '1' (at least 1m)")
        return millicores

    def memory(self, name: str, default: int, *, doc: str, shown: str | None = None) -> int:
        """A memory quantity ('256Mi', '1Gi'), in MiB; default 0: none."""
        schema = {"type": ["string", "null"], "pattern": MEMORY.pattern,
                  "not": {"type": "string", "pattern": r"^0+(Mi|Gi)$"}}
        text = (f"`{default // 1024}Gi`" if default % 1024 == 0 else f"`{default}Mi`") if default else None
        return self.setting(name, lambda: (schema, shown or text), doc, False, lambda s: s._memory(name, default))

    def _memory(self, name: str, default: int) -> int:
        value = self._get(name, None)
        if value is None:
            return default
        m = MEMORY.fullmatch(value) if isinstance(value, str) else None
        mebibytes = int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1) if m else 0
        if mebibytes < 1:
            raise self.fail(name, value, "a memory quantity such as '256Mi' or '1Gi' (at least 1Mi)")
        return mebibytes

    def ipv4_networks(self, name: str, default: list[str], *, doc: str) -> tuple[str, ...]:
        """IPv4 networks in CIDR notation, as Azure takes them: no prefix over 32, no octet over 255, no host bits."""
        schema = {"type": "array", "items": {"type": "string", "pattern": CIDR.pattern}}
        return self.setting(name, lambda: (schema, show(default)), doc, False,
                            lambda s: s._ipv4_networks(name, default))

    def _ipv4_networks(self, name: str, default: list[str]) -> tuple[str, ...]:
        allowed = "an IPv4 network such as '20.50.10.0/24' (prefix 0-32, octets 0-255, no host bits)"
        value = self._get(name, default)
        if not isinstance(value, list):
            raise self.fail(name, value, f"a list of {allowed}")
        for i, v in enumerate(value):
            try:
                ok = isinstance(v, str) and bool(CIDR.fullmatch(v)) and ipaddress.ip_network(v, strict=True).version \
                    == 4
            except ValueError:
                ok = False
            if not ok:
                raise self.fail(f"{name}[{i}]", v, allowed)
        return tuple(value)

    def go_duration(self, name: str, default: Any, low: int, high: int, *, doc: str, shown: str | None = None) -> Any:
        schema = nullable({"type": "string", "pattern": GO_DURATION.pattern, "minLength": 1}, default is None)
        return self.setting(name, lambda: (schema, shown or show(default)), doc, False,
                            lambda s: s._go_duration(name, default, low, high))

    def _go_duration(self, name: str, default: Any, low: int, high: int) -> Any:
        value = self._get(name, default)
        if value is None and default is None:
            return None
        seconds = go_duration_seconds(value) if isinstance(value, str) else None
        if seconds is None or not low <= seconds <= high:
            raise self.fail(name, value, f"a duration such as '60s' or '2m', from {low}s to {high}s")
        return value

    def iso_duration(self, name: str, default: str, low: float, high: float, *, doc: str) -> str:
        schema = {"type": "string", "pattern": ISO_DURATION.pattern, "not": {"const": "PT"}}
        return self.setting(name, lambda: (schema, show(default)), doc, False,
                            lambda s: s._iso_duration(name, default, low, high))

    def _iso_duration(self, name: str, default: str, low: float, high: float) -> str:
        value = self._get(name, default)
        seconds = iso_duration_seconds(value) if isinstance(value, str) else None
        if seconds is None or not low <= seconds <= high:
            raise self.fail(name, value, f"an ISO-8601 duration such as 'PT0.3S' or 'PT1M', seconds with at most "
                                         f"one decimal (whole hours and minutes; no field above {ISO_FIELD_MAX:g}, "
                                         f"so 'PT1H', not 'PT3600S'), from {low:g}s to {high:g}s")
        return value

    def section(self, name: str, doc: str = "") -> Section:
        """doc: what the object is, where its keys do not say it."""
        return Section(self.key(name), self._get(name, None), self.pattern_of(name), doc)

    def entry(self, name: str) -> Section:
        """The object under a key the user named (an environment variable), not one the parser knows."""
        return Section(self.key(name), self._get(name, None), self.pattern_of("<name>"))

    def items(self, name: str, default: list[Any], *, doc: str, shown: str | None = None) -> list[Section]:
        if Section.declarations is not None:
            self.declare(self.pattern_of(name), Container("list", shown or show(default), doc))
        value = self._get(name, default)
        if not isinstance(value, list):
            raise self.fail(name, value, "a list of objects")
        return [Section(f"{self.key(name)}[{i}]", v, f"{self.pattern_of(name)}[]") for i, v in enumerate(value)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise ConfigError(f"{self.path}: unknown key(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(sorted(self.read))}")
