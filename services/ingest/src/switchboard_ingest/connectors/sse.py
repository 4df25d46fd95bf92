"""Server-Sent Events: the WHATWG rules for turning a byte stream into events, with a cap on lines.

Mastodon's streaming API speaks it; the decoder is pure and knows nothing of Mastodon.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from switchboard_ingest.connectors.egress import EgressRefused
from switchboard_ingest.doors import ConnectorRefusal

# A status is a few kilobytes of JSON; a line this long is not one.
DEFAULT_MAX_LINE_BYTES = 1024 * 1024
_LINE_END = re.compile(rb"[\r\n]")
_CR = 0x0D


@dataclass(frozen=True)
class SseEvent:
    """One dispatched Server-Sent Event."""

    event: str
    data: str
    id: str | None = None


class SseDecoder:
    """Turns a Server-Sent Events byte stream, in chunks of any size, into events (WHATWG rules).

    Linear in the bytes fed, whatever the chunking: each byte is searched for a
    line end once. A line, or an event's data, longer than `max_line_bytes` is
    refused (EgressRefused) rather than buffered without end.
    """

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        self._buffer = bytearray()
        self._scanned = 0  # bytes at the buffer's start known to hold no line end
        self._event = ""
        self._data: list[str] = []
        self._data_bytes = 0
        self._last_id: str | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events completed by `chunk` (partial lines wait for the next chunk)."""
        buffer = self._buffer
        buffer += chunk
        events = []
        start = 0  # where the current line begins
        scan = self._scanned  # where the search for its end resumes
        while (match := _LINE_END.search(buffer, scan)) is not None:
            end = match.start()
            if buffer[end] == _CR and end + 1 == len(buffer):
                scan = end  # may be the first half of CRLF: wait for more
                break
            self._check_length(end - start)
            # CR and LF never occur inside a UTF-8 sequence, so whole lines decode safely.
            event = self._line(buffer[start:end].decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
            start = scan = end + 2 if buffer[end : end + 2] == b"\r\n" else end + 1
        else:
            scan = len(buffer)
        self._check_length(len(buffer) - start)
        del buffer[:start]
        self._scanned = scan - start
        return events

    def _check_length(self, length: int) -> None:
        if length > self.max_line_bytes:
            raise EgressRefused(
                ConnectorRefusal.LINE_TOO_LONG,
                f"stream line longer than {self.max_line_bytes} bytes",
            )

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: Mastodon's heartbeat
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data_bytes += len(value) + 1
            if self._data_bytes > self.max_line_bytes:
                raise EgressRefused(
                    ConnectorRefusal.LINE_TOO_LONG,
                    f"stream event data longer than {self.max_line_bytes} bytes",
                )
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._last_id = value
        return None

    def _dispatch(self) -> SseEvent | None:
        event, data = self._event or "message", self._data
        self._event, self._data, self._data_bytes = "", [], 0
        if not data:
            return None
        return SseEvent(event=event, data="\n".join(data), id=self._last_id)
