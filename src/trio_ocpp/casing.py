"""Wire (camelCase) <-> python (snake_case) names of OCPP messages, by exact tables.

See :mod:`trio_ocpp._core.casing` for the tables, the generic rule for names in no schema, and what
:func:`payload_to_wire` does to values. The ``kind`` of :func:`payload_to_python` and
:func:`payload_to_wire` is a :class:`trio_ocpp.messages.MessageKind` or its value (``"request"``,
``"response"``, ``"send"``).
"""

from ._core.casing import camel_to_snake_case as camel_to_snake_case
from ._core.casing import payload_to_python as payload_to_python
from ._core.casing import payload_to_wire as payload_to_wire
from ._core.casing import snake_to_camel_case as snake_to_camel_case
from ._core.casing import to_python as to_python
from ._core.casing import to_wire as to_wire

__all__ = [
    "camel_to_snake_case",
    "payload_to_python",
    "payload_to_wire",
    "snake_to_camel_case",
    "to_python",
    "to_wire",
]
