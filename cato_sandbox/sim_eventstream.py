"""AWS event-stream framing (application/vnd.amazon.eventstream), the binary format of
Bedrock `ConverseStream` and SageMaker `InvokeEndpointWithResponseStream` responses.

Each message: total length, headers length, CRC32 of those 8 bytes, headers, payload, CRC32 of
everything before. botocore's EventStream parser checks both CRCs, so unchanged boto3 code can
consume what the simulator writes.
"""
from __future__ import annotations

import json
import struct
import zlib
from typing import Any

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7  # header value type: UTF-8 string with a 2-byte length


def _headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack("!B", len(raw_name)) + raw_name
        out += struct.pack("!BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def message(headers: dict[str, str], payload: bytes) -> bytes:
    head = _headers(headers)
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack("!II", total, len(head))
    body = prelude + struct.pack("!I", zlib.crc32(prelude)) + head + payload
    return body + struct.pack("!I", zlib.crc32(body))


def event(event_type: str, payload: Any, content_type: str = "application/json") -> bytes:
    """An event; dict payloads are sent as JSON, bytes as they are."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return message({":event-type": event_type, ":content-type": content_type,
                    ":message-type": "event"}, raw)


def exception(exception_type: str, text: str) -> bytes:
    """A modeled error inside the stream (e.g. "modelStreamErrorException")."""
    return message({":exception-type": exception_type, ":content-type": "application/json",
                    ":message-type": "exception"}, json.dumps({"message": text}).encode())
