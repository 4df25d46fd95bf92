"""How X and Meta sign a delivery and how their handshakes are answered."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

X_SIGNATURE_HEADER = "x-twitter-webhooks-signature"
META_SIGNATURE_HEADER = "x-hub-signature-256"


def _hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def x_signature(consumer_secret: str, body: bytes) -> str:
    """The `x-twitter-webhooks-signature` X sends with `body`: sha256=<base64 HMAC>."""
    return "sha256=" + base64.b64encode(_hmac_sha256(consumer_secret, body)).decode()


# X's challenge-response check signs the CRC token with the very HMAC that
# signs deliveries (X fixes both formulas), so an endpoint that signed any
# string would sign any body: an attacker would ask for a tweet's signature
# and post the tweet. The CRC endpoint answers only tokens of this shape (X's
# are opaque random strings, base64-like, tens of characters), and the
# delivery endpoint refuses any body of this shape: no '{', '"', ':' or space,
# so no JSON object, and no body the CRC endpoint signs, is ever accepted.
X_CRC_TOKEN_MAX_CHARS = 255
X_CRC_TOKEN = re.compile(rf"[A-Za-z0-9_\-=+/]{{1,{X_CRC_TOKEN_MAX_CHARS}}}")


def is_x_crc_token(text: str | bytes) -> bool:
    """True when `text` has the shape of an X CRC token (what the CRC endpoint signs)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            return False
    return X_CRC_TOKEN.fullmatch(text) is not None


def x_crc_response_token(consumer_secret: str, crc_token: str) -> str:
    """The `response_token` that answers X's challenge-response check of `crc_token`.

    Refuses (ValueError) a token that is not shaped like X's: see `X_CRC_TOKEN`.
    """
    if not is_x_crc_token(crc_token):
        raise ValueError("not an X CRC token")
    return x_signature(consumer_secret, crc_token.encode())


def meta_signature(app_secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` Meta sends with `body`: sha256=<hex HMAC>."""
    return "sha256=" + _hmac_sha256(app_secret, body).hex()


def same_secret(expected: str, presented: str | None) -> bool:
    """Whether `presented` equals `expected`, in time that does not depend on where they differ."""
    if presented is None:
        return False
    # compare_digest refuses non-ASCII str; bytes take whatever a client sent.
    return hmac.compare_digest(expected.encode(), presented.encode())
