"""Peer-chosen text in logs (CONFORMANCE 42): escaped, capped; repeated warnings summarized."""

from __future__ import annotations

import logging

import pytest

from trio_ocpp._logsafe import RepeatLimiter, escape


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
