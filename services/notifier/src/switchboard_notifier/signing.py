"""The webhook signature. Pure.

`X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` with the
timestamp sent in `X-Switchboard-Timestamp` (Unix seconds): a receiver that
checks the timestamp is recent refuses a replayed delivery.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Switchboard-Timestamp"
SIGNATURE_HEADER = "X-Switchboard-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """True when `header` is the signature of `body` at `timestamp` (compared in constant time)."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)
