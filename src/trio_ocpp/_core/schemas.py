"""The bundled JSON schemas: where they are, which messages each version has, loading them once.

An installed wheel carries the schemas inside the package (``trio_ocpp/schemas``); a source
checkout (editable install, or tests run from the repository) reads the top-level ``schemas/``.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

from .versions import PACKAGES, OCPPVersion, normalize_version


class MessageKind(enum.Enum):
    """Which side of an action a payload belongs to: the ``kind`` that ``messages.validate`` and
    ``casing.payload_to_python``/``payload_to_wire`` take (or its value: ``"request"``...)."""

    REQUEST = "request"  # the payload of a CALL
    RESPONSE = "response"  # the payload of a CALLRESULT
    SEND = "send"  # the payload of a 2.1 SEND (no response exists)


# The members as constants for the hot path: one looked up on its enum class costs ~150 ns on
# Python 3.11 (EnumType's __getattr__ slows every attribute look-up on the class), ten times a
# global's.
REQUEST, RESPONSE, SEND = MessageKind.REQUEST, MessageKind.RESPONSE, MessageKind.SEND


#: The kind of payload a message type carries: CALL, CALLRESULT, SEND (the others carry none).
KIND_OF_MESSAGE_TYPE: Final[dict[int, MessageKind]] = {
    2: MessageKind.REQUEST,
    3: MessageKind.RESPONSE,
    6: MessageKind.SEND,
}

#: What the public functions take for a kind: a member or its value. They turn a value into its
#: member first (``MessageKind(kind)``, a ValueError for another text); the core takes members.
MessageKindLike = MessageKind | Literal["request", "response", "send"]


def _schema_root() -> Path:
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "schemas", package.parent.parent / "schemas"):
        if (candidate / "v16").is_dir():
            return candidate
    raise RuntimeError(f"trio_ocpp cannot find its schemas (looked in {package / 'schemas'})")


SCHEMA_ROOT = _schema_root()


@functools.cache
def _catalogue(version: OCPPVersion) -> dict[tuple[str, MessageKind], Path]:
    """Map (action, kind) to its schema file, from the file names of one version."""
    folder = SCHEMA_ROOT / PACKAGES[version]
    files = {p.stem: p for p in folder.glob("*.json")}
    table: dict[tuple[str, MessageKind], Path] = {}
    for stem, path in files.items():
        if stem.endswith("Response"):
            table[stem.removesuffix("Response"), MessageKind.RESPONSE] = path
        elif stem.endswith("Request") and version != "1.6":
            table[stem.removesuffix("Request"), MessageKind.REQUEST] = path
        elif version == "1.6":
            table[stem, MessageKind.REQUEST] = path
        else:
            # 2.x file names without a suffix are SEND messages (2.1 NotifyPeriodicEventStream).
            table[stem, MessageKind.SEND] = path
    return table


@functools.cache
def actions(version: str, kind: MessageKind = MessageKind.REQUEST) -> frozenset[str]:
    """The action names of one version that have a schema of the given kind."""
    return frozenset(a for a, k in _catalogue(normalize_version(version)) if k is kind)


def has_schema(version: OCPPVersion, action: str, kind: MessageKind) -> bool:
    return (action, kind) in _catalogue(version)


@functools.cache
def load_schema(version: OCPPVersion, action: str, kind: MessageKind) -> dict[str, Any]:
    """Parse one schema file (cached: each file is read at most once per process)."""
    try:
        path = _catalogue(version)[action, kind]
    except KeyError:
        raise LookupError(f"OCPP {version} has no {kind.value} schema for {action!r}") from None
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def resolve_ref(root: Mapping[str, Any], node: Mapping[str, Any]) -> Any:
    """The schema ``node`` stands for: itself, or what its local ``$ref`` (``#/definitions/X``,
    any JSON pointer into ``root``) points to, through references to references."""
    while "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node
