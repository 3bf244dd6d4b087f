"""Log lines for operators: plain or one JSON object per line, the worker on each, frames at
INFO or at DEBUG (``python -m trio_ocpp --log-format json --frames-at-debug``).

A JSON line has ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``worker`` (the process:
``"main"``, ``"supervisor"`` or ``"worker <index>"``), ``text`` (the whole line, escaped as
every line is), and for a frame ``identity``, ``direction`` (``"in"``/``"out"``), ``action``
(of a CALL or SEND) and ``message_id``. The frame lines are the runtime's own
(``RECEIVED_FRAME``, ``SENT_FRAME``), told apart by their format string: no parsing of text.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

from .._core.logsafe import RECEIVED_FRAME, SENT_FRAME

__all__ = ["FramesAtDebug", "JsonFormatter", "configure"]

_DIRECTIONS = {RECEIVED_FRAME: "in", SENT_FRAME: "out"}
#: The logger the frame lines are written to (ChargePoint.logger's default).
FRAME_LOGGER = "trio_ocpp.charge_point"


class JsonFormatter(logging.Formatter):
    """One JSON object per record; see the module docstring."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "worker": _worker(record.processName),
            "text": record.getMessage(),
        }
        direction = _DIRECTIONS.get(record.msg) if isinstance(record.msg, str) else None
        if direction is not None and isinstance(record.args, tuple) and len(record.args) == 2:
            line["identity"] = record.args[0]
            line["direction"] = direction
            line.update(_frame_fields(record.args[1]))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def _worker(process: str | None) -> str:
    return "main" if process in (None, "MainProcess") else process


def _frame_fields(text: object) -> dict[str, str]:
    """The message id and action of a logged frame; nothing when it is no frame (or was cut
    short for the log)."""
    try:
        frame = orjson.loads(str(text))
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(frame, list) or len(frame) < 2 or not isinstance(frame[1], str):
        return {}
    fields = {"message_id": frame[1]}
    if frame[0] in (2, 6) and len(frame) > 2 and isinstance(frame[2], str):
        fields["action"] = frame[2]  # a CALL or a SEND names its action
    return fields


class FramesAtDebug(logging.Filter):
    """Installed on the frame logger: its frame lines become DEBUG records, kept only when
    the root logger takes DEBUG, so that production INFO is quiet."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg is RECEIVED_FRAME or record.msg is SENT_FRAME:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def configure(
    level: str, *, json: bool = False, frames_at_debug: bool = False, processes: bool = False
) -> None:
    """The root logger's level and format, and where the frame lines go. ``processes``: each
    plain line says which process wrote it (a JSON line always does)."""
    handler = logging.StreamHandler()
    if json:
        handler.setFormatter(JsonFormatter())
    else:
        process = "%(processName)s " if processes else ""
        handler.setFormatter(logging.Formatter(f"%(asctime)s {process}%(levelname)s %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    if frames_at_debug:
        logging.getLogger(FRAME_LOGGER).addFilter(FramesAtDebug())
