"""Deterministic payloads for an OCPP JSON schema: valid ones, and mutations that break one rule.

Reusable by any test (tests/ is on sys.path under pytest's default rootdir-relative import mode)::

    from helpers.schema_payloads import full_payload, minimal_payload, mutations

- :func:`minimal_payload`: the required fields only (arrays with ``minItems`` items).
- :func:`full_payload`: every property, arrays with one item (or ``minItems``). One item, not
  more: the 2.x payloads nest arrays deeply, and each extra item would multiply their size.
- :func:`mutations`: ``(description, payload)`` pairs, each a small valid payload with one
  constraint of one field broken, so that every one is invalid; pass JSON Schema keywords (the
  keys of :data:`MUTATORS`) to get only the mutations that break that keyword.
- :func:`edge_payloads`: the same kind of pairs, all valid, each with one field at a limit: every
  enum member, the longest string, the minimum, the maximum, the most items.

It covers the keywords the OCPP schemas use (type, properties, required, additionalProperties,
items, minItems, maxItems, enum, maxLength, minimum, maximum, multipleOf, format, local $ref).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

Schema = dict[str, Any]
Path = tuple[str | int, ...]

DATE_TIME = "2024-01-01T12:00:00Z"
URI = "https://example.com/firmware.bin"
# A value the schema does not declare: no OCPP property or enum member is called this.
UNEXPECTED = "unexpectedExtraKey"


def resolve(root: Schema, node: Schema) -> Schema:
    """Follow local ``$ref`` ("#/definitions/Name") until a node without one."""
    while "$ref" in node:
        ref: str = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local references are supported, not {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


# --- valid payloads -------------------------------------------------------------------------------


def minimal_payload(schema: Schema) -> Any:
    """A valid payload with only the required fields."""
    return _build(schema, schema, full=False, name="value")


def full_payload(schema: Schema) -> Any:
    """A valid payload with every optional field too."""
    return _build(schema, schema, full=True, name="value")


def _build(root: Schema, node: Schema, *, full: bool, name: str) -> Any:
    node = resolve(root, node)
    if "enum" in node:
        # Different members in the two payloads: both ends of each enum get exercised.
        return node["enum"][-1 if full else 0]
    kind = node.get("type")
    if kind == "object":
        properties: dict[str, Schema] = node.get("properties", {})
        required = node.get("required", [])
        return {
            key: _build(root, sub, full=full, name=key)
            for key, sub in properties.items()
            if full or key in required
        }
    if kind == "array":
        low = node.get("minItems", 0)
        count = max(low, 1) if full else low
        return [_build(root, node["items"], full=full, name=name) for _ in range(count)]
    if kind == "string":
        return _string(node, name)
    if kind == "integer":
        return int(_clamped(node, 1))
    if kind == "number":
        return _clamped(node, 21.4)  # a multiple of 0.1 in decimal, not in binary floating point
    if kind == "boolean":
        return True
    if kind is None:
        return name  # an untyped node (2.x DataTransfer data) accepts anything
    raise ValueError(f"no value for schema node {node!r}")


def _string(node: Schema, name: str) -> str:
    if node.get("format") == "date-time":
        return DATE_TIME
    if node.get("format") == "uri":
        return URI
    return name[: node.get("maxLength", len(name))]


def _clamped(node: Schema, preferred: float) -> float:
    value: float = max(preferred, node.get("minimum", preferred))
    value = min(value, node.get("maximum", value))
    return value


# --- mutations ------------------------------------------------------------------------------------
#
# Each mutation (and each edge payload below) changes one node and keeps the rest of the payload
# small: the node's ancestors hold only their required fields, so the change is the only thing to
# find and validating it stays cheap even for the deep 2.x messages.

#: Given the root schema, a node's schema and its value: (what was done, the new value) pairs.
NodeVariants = Callable[[Schema, Schema, Any], list[tuple[str, Any]]]
Variant = tuple[str, Any]

# A value of another JSON type for each type, the subtle one for numbers: 1.5 is no integer and
# a bool is no number (Python's bool is an int).
_WRONG_TYPES: dict[str, Any] = {
    "string": 12345,
    "integer": 1.5,
    "number": True,
    "boolean": "true",
    "object": [],
    "array": {},
}


def _missing_required(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    required = node.get("required", []) if isinstance(value, dict) else []
    return [
        (f"without required {key!r}", {k: v for k, v in value.items() if k != key})
        for key in required
    ]


def _wrong_type(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    kind = node.get("type")
    if kind not in _WRONG_TYPES:
        return []
    wrong = _WRONG_TYPES[kind]
    return [(f"{wrong!r} instead of {kind}", wrong)]


def _too_long(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    if not isinstance(value, str) or "maxLength" not in node:
        return []
    return [(f"longer than {node['maxLength']}", "x" * (node["maxLength"] + 1))]


def _bad_enum(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    return [("not in its enum", UNEXPECTED)] if "enum" in node else []


def _extra_key(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    if not isinstance(value, dict) or node.get("additionalProperties") is not False:
        return []
    return [(f"with extra key {UNEXPECTED!r}", {**value, UNEXPECTED: "surprise"})]


def _bound(node: Schema, keyword: str, step: int) -> list[tuple[str, Any]]:
    """The number ``step`` away from the limit of ``keyword``, if the node has that limit."""
    if keyword not in node:
        return []
    number = node[keyword] + step
    if node["type"] == "integer":
        number = int(number)
    return [(f"{number!r} ({keyword} {node[keyword]})", number)]


def _below_minimum(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    return _bound(node, "minimum", -1)


def _above_maximum(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    return _bound(node, "maximum", 1)


def _items(root: Schema, node: Schema, count: int) -> list[Any]:
    return [_build(root, node["items"], full=False, name="item") for _ in range(count)]


def _too_few_items(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    low = node.get("minItems", 0) if isinstance(value, list) else 0
    return [(f"fewer than {low} items", _items(root, node, low - 1))] if low > 0 else []


def _too_many_items(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    if not isinstance(value, list) or "maxItems" not in node:
        return []
    high = node["maxItems"]
    return [(f"more than {high} items", _items(root, node, high + 1))]


def _not_multiple(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    if "multipleOf" not in node:
        return []
    # 41.1 steps, computed in decimal: 4.11 for multipleOf 0.1.
    wrong = float(Decimal(repr(node["multipleOf"])) * Decimal("41.1"))
    return [(f"{wrong!r}, not a multiple of {node['multipleOf']}", wrong)]


#: The mutators per JSON Schema keyword that their mutations break.
MUTATORS: dict[str, NodeVariants] = {
    "required": _missing_required,
    "type": _wrong_type,
    "maxLength": _too_long,
    "enum": _bad_enum,
    "additionalProperties": _extra_key,
    "minimum": _below_minimum,
    "maximum": _above_maximum,
    "minItems": _too_few_items,
    "maxItems": _too_many_items,
    "multipleOf": _not_multiple,
}


def mutations(schema: Schema, *keywords: str) -> list[Variant]:
    """``(description, payload)`` pairs, each payload invalid in one way.

    Every node of the full payload (the first item of arrays) gets the mutations of ``keywords``
    (default: all of :data:`MUTATORS`); the description names the field path and what is wrong.
    """
    chosen = [MUTATORS[k] for k in keywords] if keywords else list(MUTATORS.values())
    return list(_variants(schema, schema, chosen, (), "value"))


# --- valid payloads at the limits -----------------------------------------------------------------


def _each_member(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    return [(f"= {member!r}", member) for member in node.get("enum", ())]


def _longest(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    if not isinstance(value, str) or "maxLength" not in node or "enum" in node:
        return []
    return [(f"exactly {node['maxLength']} characters", "x" * node["maxLength"])]


def _at_minimum(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    return _bound(node, "minimum", 0)


def _at_maximum(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    return _bound(node, "maximum", 0)


def _most_items(root: Schema, node: Schema, value: Any) -> list[tuple[str, Any]]:
    if not isinstance(value, list) or "maxItems" not in node:
        return []
    return [(f"exactly {node['maxItems']} items", _items(root, node, node["maxItems"]))]


#: Valid values at the limit of each keyword, where a constraint off by one would show.
EDGES: dict[str, NodeVariants] = {
    "enum": _each_member,
    "maxLength": _longest,
    "minimum": _at_minimum,
    "maximum": _at_maximum,
    "maxItems": _most_items,
}


def edge_payloads(schema: Schema) -> list[Variant]:
    """``(description, payload)`` pairs, each payload valid with one field at a limit."""
    return list(_variants(schema, schema, list(EDGES.values()), (), "value"))


# --- walking the schema ---------------------------------------------------------------------------


def _variants(
    root: Schema, node: Schema, makers: list[NodeVariants], path: Path, name: str
) -> Iterator[Variant]:
    node = resolve(root, node)
    # The node itself with all its properties (or one or more items), each at its smallest.
    kind = node.get("type")
    if kind == "object":
        value: Any = {
            key: _build(root, sub, full=False, name=key)
            for key, sub in node.get("properties", {}).items()
        }
    elif kind == "array":
        value = _items(root, node, max(node.get("minItems", 0), 1))
    else:
        value = _build(root, node, full=True, name=name)
    for make in makers:
        for what, new in make(root, node, value):
            yield f"{field_path(path)}: {what}", new

    # Variants further down, inside the smallest valid parent.
    if kind == "object":
        for key, sub in node.get("properties", {}).items():
            for description, new in _variants(root, sub, makers, (*path, key), key):
                yield description, {**_build(root, node, full=False, name=name), key: new}
    elif kind == "array":
        low = node.get("minItems", 0)
        for description, new in _variants(root, node["items"], makers, (*path, 0), name):
            yield description, [new, *_items(root, node, low - 1)]


def field_path(path: Path) -> str:
    """``meterValue[0].sampledValue`` for ("meterValue", 0, "sampledValue"); "payload" for ()."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "payload"


def charging_profile_16(limit: Any) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
            },
        },
    }
