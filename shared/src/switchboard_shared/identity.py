"""Mention ids: deterministic, so that the same post is the same mention in every service
and every ingest replica, and an agency's own submissions can never collide with another's."""

from __future__ import annotations

import functools
import hashlib
import uuid

# One namespace for deterministic mention ids: the same (source, source id)
# always yields the same mention id, whichever ingest replica sees it first.
MENTION_ID_NAMESPACE = uuid.UUID("6f1c0b7e-5d0a-4c57-9d1e-2b7f3a9c8e41")


@functools.lru_cache(maxsize=1024)
def _submitter_namespace(namespace: str) -> bytes:
    # A UUID namespace of its own per submitter: its ids can never equal
    # another submitter's, nor an unscoped id, whatever characters it holds.
    return uuid.uuid5(MENTION_ID_NAMESPACE, f"submitter:{namespace}").bytes


def mention_id_for(source: str, source_id: str, *, namespace: str | None = None) -> str:
    """The stable mention id of (source, source id): uuid5 in MENTION_ID_NAMESPACE.

    With `namespace` (the agency of the API key that submitted it), the uuid5
    is in that submitter's own namespace instead; see `Source.submitter_scoped`.
    Spelled out (RFC 9562, section 5.5) because `uuid.uuid5` builds two UUID
    objects on the way and this runs for every mention in every service.
    """
    prefix = MENTION_ID_NAMESPACE.bytes if namespace is None else _submitter_namespace(namespace)
    digest = bytearray(
        hashlib.sha1(prefix + f"{source}:{source_id}".encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
