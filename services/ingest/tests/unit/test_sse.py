"""The Server-Sent Events decoder: heartbeats, multi-line data, any chunking, capped lines, linear work."""

import json
import time

import pytest

from switchboard_ingest.connectors.egress import EgressRefused
from switchboard_ingest.connectors.sse import SseDecoder, SseEvent
from switchboard_ingest.doors import ConnectorRefusal

SSE_STREAM = (
    b":)\n"
    b"event: update\n"
    b'data: {"id": "1",\n'
    b'data:  "text": "two lines"}\n'
    b"\n"
    b":thump\n"
    b"event: delete\r\n"
    b"data: 1\r\n"
    b"\r\n"
    b"event: update\r"
    b'data: {"id": "2", "text": "caf\xc3\xa9"}\r'
    b"\r"
    b"data: no event name\n"
    b"\n"
    b"event: status.update\n"
    b"\n"
)


@pytest.mark.parametrize("chunk_size", [1, 3, 7, len(SSE_STREAM)])
def test_sse_decoder_handles_heartbeats_multiline_data_and_any_chunking(chunk_size):
    decoder = SseDecoder()
    events = []
    for start in range(0, len(SSE_STREAM), chunk_size):
        events.extend(decoder.feed(SSE_STREAM[start : start + chunk_size]))
    events.extend(decoder.feed(b"\n"))  # the lone CR above is resolved by what follows
    assert events == [
        SseEvent("update", '{"id": "1",\n "text": "two lines"}'),
        SseEvent("delete", "1"),
        SseEvent("update", '{"id": "2", "text": "café"}'),
        SseEvent("message", "no event name"),
    ]
    assert json.loads(events[0].data) == {"id": "1", "text": "two lines"}


def test_sse_line_longer_than_the_cap_is_refused_however_it_is_chunked():
    decoder = SseDecoder(max_line_bytes=4096)
    assert decoder.feed(b"event: update\ndata: " + b"x" * 4000) == []
    with pytest.raises(EgressRefused) as caught:
        for _ in range(10):
            decoder.feed(b"x" * 100)
    assert caught.value.reason is ConnectorRefusal.LINE_TOO_LONG
    # Many short data lines add up to one event: that is capped too.
    decoder = SseDecoder(max_line_bytes=4096)
    with pytest.raises(EgressRefused):
        decoder.feed(b"event: update\n" + b"data: xxxxxxxxxx\n" * 1000)


def test_sse_decoder_is_linear_in_what_it_is_fed():
    # The finding: 4 MiB without a newline cost 7.6 s of CPU in the old decoder,
    # which joined and re-searched the whole buffer for every chunk. Linear work
    # takes milliseconds; the bound is generous for a loaded machine.
    decoder = SseDecoder(max_line_bytes=8 * 1024 * 1024)
    chunk = b"y" * 4096
    started = time.process_time()
    for _ in range(1024):
        assert decoder.feed(chunk) == []
    decoder.feed(b"\r")  # a lone CR at the end of a chunk, rescanned from there only
    events = decoder.feed(b"\nevent: update\ndata: ok\n\n")
    assert time.process_time() - started < 1.0
    assert events == [SseEvent("update", "ok")]
