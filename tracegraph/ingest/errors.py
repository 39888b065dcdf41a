"""The one error type the parsers raise.

A :class:`ParseError` means the whole body is unusable (not a trace format,
undecodable, too large); a bad *span* inside a good body is never an
exception, it is counted in :attr:`ParseResult.rejected` instead.
"""

from __future__ import annotations

__all__ = ["BodyTooLarge", "ParseError"]


class ParseError(ValueError):
    """The body is not a trace format tracegraph can read."""


class BodyTooLarge(ParseError):
    """The body is larger than the limit once decompressed (HTTP 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes after decompression")
        self.limit = limit
