"""Who is calling: roles, bearer tokens and what each role may see and do.

Tokens are random 32-byte strings shown once; only their sha256 is stored,
so the database alone gives no usable token. A plain hash (not a slow KDF)
is right here: the tokens are high-entropy, not passwords. Issued tokens
expire (`SWITCHBOARD_ROUTER_TOKEN_LIFETIME_SECONDS`, or shorter on request);
the bootstrap token does not, but a new one revokes the old.

Visibility is by queue membership. An officer (or supervisor) reads and acts
on items of queues they belong to; a watch-queue member may read an item
copied there but not act on it; `service` (dashboards, notifiers) reads every
queue and acts on none; `admin` does everything. Anything a caller may not
read is answered as if it did not exist (404), so ids do not leak.
Supervisors act on the items of their units' (member) queues on behalf of
others: release or resolve someone else's claim, assign to a colleague.

Pure: no database, no HTTP.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

TOKEN_PREFIX = "sbr_"


class Role(StrEnum):
    """What a caller is."""

    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    SERVICE = "service"


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).hexdigest()


def new_token() -> str:
    """A fresh bearer token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_id(prefix: str) -> str:
    """A short random id such as `off_3f9c...`."""
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller, the token they came with and the queues they belong to."""

    officer_id: str
    name: str
    role: Role
    queues: frozenset[str]
    # Which of the officer's tokens: what the access audit traces a use back to.
    token_id: str | None = None

    @property
    def sees_everything(self) -> bool:
        """Admins and services read every queue."""
        return self.role in (Role.ADMIN, Role.SERVICE)

    @property
    def is_supervisor(self) -> bool:
        """Supervisors and admins act on others' claims."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    def can_read(self, queue_id: str, watch_queues: frozenset[str] = frozenset()) -> bool:
        """May read an item of `queue_id` (copied to `watch_queues`)."""
        return self.sees_everything or queue_id in self.queues or bool(watch_queues & self.queues)

    def can_act(self, queue_id: str) -> bool:
        """May work on an item of `queue_id`."""
        if self.role is Role.ADMIN:
            return True
        return self.role is not Role.SERVICE and queue_id in self.queues
