"""Peer-chosen text in logs (CONFORMANCE 42): escaped, capped; repeated warnings summarized."""

from __future__ import annotations

import logging
import sys
import tracemalloc

import pytest

from trio_ocpp._core.logsafe import MAX_SOURCES, RepeatLimiter, escape


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("CP_1", "CP_1"),
        ("Zürich 7", "Zürich 7"),
        ("CP\nFAKE LINE", "CP\\nFAKE LINE"),
        ("a\r\nb", "a\\r\\nb"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("\ud800", "\\ud800"),
        ("x\u2028y\x85z", "x\\u2028y\\x85z"),
        (b"\x00\xff", "b'\\x00\\xff'"),
    ],
)
def test_escape_leaves_one_printable_line(text: str | bytes, shown: str) -> None:
    assert escape(text) == shown
    assert escape(text).isprintable()


def test_escape_caps_the_length_and_says_how_much_was_cut() -> None:
    assert escape("a" * 1_000_000, 10) == "aaaaaaaaaa...[1000000 characters]"
    assert escape("\n" * 50, 4) == "\\n\\n...[50 characters]"
    assert escape("\ud800" * 4, 12) == "\\ud800\\ud800...[4 characters]"
    assert escape(b"x" * 100, 10).startswith("b'xxxxxx")
    assert len(escape(b"x" * 100, 10)) < 30


def test_a_short_printable_text_is_returned_as_it_is() -> None:
    text = "CP_0001"
    assert escape(text) is text


def test_repeats_past_the_burst_are_counted_and_summarized(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("trio_ocpp.test_logsafe")
    limiter = RepeatLimiter(logger, "CP_1", burst=3, period=10)
    with caplog.at_level(logging.WARNING, logger.name):
        for second in range(60):
            limiter.warning(second * 0.1, "%s: invalid frame (%s)", "CP_1", second)
        limiter.warning(0.5, "%s: other kind", "CP_1")
        assert len(caplog.records) == 4
        limiter.warning(12.0, "%s: invalid frame (%s)", "CP_1", "late")
        assert [r.getMessage() for r in caplog.records[-2:]] == [
            "CP_1: ... 57 more like '%s: invalid frame (%s)' in the last 12 s",
            "CP_1: invalid frame (late)",
        ]
        for _ in range(5):
            limiter.warning(13.0, "%s: invalid frame (%s)", "CP_1", "again")
        limiter.flush(14.0)
        assert caplog.records[-1].getMessage() == (
            "CP_1: ... 3 more like '%s: invalid frame (%s)' in the last 2 s"
        )
        count = len(caplog.records)
        limiter.flush(15.0)
        assert len(caplog.records) == count


def test_each_source_has_a_burst_of_its_own(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("trio_ocpp.test_logsafe")
    limiter = RepeatLimiter(logger, "server", burst=3)
    with caplog.at_level(logging.WARNING, logger.name):
        for i in range(50):
            limiter.warning(i / 100, "%s: replaced", "JUNK", source="JUNK")
        limiter.warning(1.0, "%s: replaced", "VICTIM", source="VICTIM")
    assert [r.getMessage() for r in caplog.records] == 3 * ["JUNK: replaced"] + ["VICTIM: replaced"]


def test_a_period_ends_with_a_summary_naming_the_top_sources(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("trio_ocpp.test_logsafe")
    limiter = RepeatLimiter(logger, "server", burst=2, period=10)
    counts = {"A": 9, "B": 5, "C\n[forged]" + "c" * 100: 4, "D": 3, "E": 3, "F": 3, "G": 1}
    with caplog.at_level(logging.WARNING, logger.name):
        for source, count in counts.items():
            for _ in range(count):
                limiter.warning(1.0, "%s: replaced", "...", source=source)
        logged = len(caplog.records)
        assert logged == 2 * 6 + 1
        limiter.expire(10.9)
        assert len(caplog.records) == logged  # the period has not ended
        limiter.expire(11.0)
        assert caplog.records[-1].getMessage() == (
            "server: ... 15 more like '%s: replaced' in the last 10 s (most from: A 7, B 3, "
            f"C\\n[forged]{'c' * 53}...[64 characters] 2, D 1, E 1)"
        )
        limiter.expire(30.0)
        limiter.warning(30.0, "%s: replaced", "A", source="A")  # a new period, a new burst
        assert len(caplog.records) == logged + 2


class Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_memory_and_lines_stay_bounded_under_100000_sources() -> None:
    logger = logging.getLogger("trio_ocpp.test_logsafe.bounded")
    logger.propagate = False
    counter = Counter()
    logger.addHandler(counter)
    try:
        limiter = RepeatLimiter(logger, "server", burst=2)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(100_000):
            source = f"JUNK_{i:06d}_" + "x" * 1000  # kept to SOURCE_LIMIT characters
            limiter.warning(i / 100_000, "%s: refused", "JUNK", source=source)
        held = tracemalloc.get_traced_memory()[0] - before - sys.getsizeof(counter.lines)
        tracemalloc.stop()
        assert held < 400_000, held  # MAX_SOURCES + 1 counts of 64-character keys
        assert len(counter.lines) == MAX_SOURCES + 2  # the first MAX_SOURCES, then the others
        limiter.warning(1.0, "%s: refused", "VICTIM", source="VICTIM")  # among the others now
        limiter.expire(10.0)
        held_back = 100_001 - MAX_SOURCES - 2  # VICTIM's too, one of the others now
        assert counter.lines[-1] == (
            f"server: ... {held_back} more like '%s: refused' in the last 10 s "
            f"(most from: others {held_back})"
        )
    finally:
        tracemalloc.stop()
        logger.removeHandler(counter)
