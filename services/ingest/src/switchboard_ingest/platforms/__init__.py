"""What platform webhooks say, turned into canonical mentions: signatures, handshakes, mapping.

This package owns the platforms' wire formats: how X and Meta sign a delivery,
how their handshakes are answered (`signatures`), and how a tweet (`x`) or a
Meta change (`meta`) becomes a `MentionIn` (`posts`). It is pure (no HTTP, no
Kafka, no metrics) so every shape can be tested on its own; `webhooks.py` does
the doors and the writing, and imports only what this module re-exports.

Each platform is first read into a `PlatformPost` (what the platform said, in
neutral names) and `to_mention` is the one place a post becomes a canonical
mention, so platform extras that now travel in `metadata` can move to
dedicated fields of `MentionIn` by changing that function alone.
"""

from switchboard_ingest.platforms.meta import facebook_change, instagram_change, map_meta_payload
from switchboard_ingest.platforms.posts import (
    Mapped,
    MappingError,
    PlatformPost,
    Unmappable,
    parse_unix_or_iso,
    to_mention,
)
from switchboard_ingest.platforms.signatures import (
    META_SIGNATURE_HEADER,
    X_CRC_TOKEN,
    X_CRC_TOKEN_MAX_CHARS,
    X_SIGNATURE_HEADER,
    is_x_crc_token,
    meta_signature,
    same_secret,
    x_crc_response_token,
    x_signature,
)
from switchboard_ingest.platforms.x import map_x_payload, parse_x_time, x_post

__all__ = [
    "META_SIGNATURE_HEADER",
    "X_CRC_TOKEN",
    "X_CRC_TOKEN_MAX_CHARS",
    "X_SIGNATURE_HEADER",
    "Mapped",
    "MappingError",
    "PlatformPost",
    "Unmappable",
    "facebook_change",
    "instagram_change",
    "is_x_crc_token",
    "map_meta_payload",
    "map_x_payload",
    "meta_signature",
    "parse_unix_or_iso",
    "parse_x_time",
    "same_secret",
    "to_mention",
    "x_crc_response_token",
    "x_post",
    "x_signature",
]
