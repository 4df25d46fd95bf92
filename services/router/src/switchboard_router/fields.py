"""The field types every domain's request and response models share.

Request bodies (`Body`) refuse unknown fields, and every free-text field is bounded
and refuses control characters (PostgreSQL cannot store NUL; nobody needs
the others), so a malformed body is a 422 naming the field, never a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

QUEUE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
OFFICER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
NO_CONTROLS = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
MAX_ITEM_ID = 2**63 - 1


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_aware)]
QueueId = Annotated[str, StringConstraints(pattern=QUEUE_ID_PATTERN)]
OfficerId = Annotated[str, StringConstraints(pattern=OFFICER_ID_PATTERN)]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=256, pattern=NO_CONTROLS),
]
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=4000, pattern=NO_CONTROLS),
]
Topic = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")
