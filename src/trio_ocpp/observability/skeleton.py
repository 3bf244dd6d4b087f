"""A payload skeleton from a request's schema: what an operator fills in to send an action.

Required properties only, each with a value of its type (an enum's first value), so that the
skeleton shows the shape and mostly passes validation once the blanks are filled.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from .._core.schemas import MessageKind, actions, load_schema, resolve_ref

__all__ = ["skeleton", "skeletons"]

_BLANKS: dict[str, Any] = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}


def skeleton(root: Mapping[str, Any], node: Mapping[str, Any] | None = None) -> Any:
    """The skeleton of ``node`` (by default the whole schema ``root``)."""
    node = resolve_ref(root, root if node is None else node)
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        properties = node.get("properties", {})
        return {name: skeleton(root, properties[name]) for name in node.get("required", ())}
    return _BLANKS.get(kind) if isinstance(kind, str) else None


@functools.cache
def skeletons(version: str) -> dict[str, Any]:
    """Every CALL of ``version`` a central system can send, action -> its skeleton."""
    return {
        action: skeleton(load_schema(version, action, MessageKind.REQUEST))
        for action in sorted(actions(version))
    }
