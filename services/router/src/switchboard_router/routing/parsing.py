"""What the policy's parsers (`rules`, `sla`, `policy`, `replies.policy`) check alike: a
section that is a mapping, a named entry and the fields a section knows. Each parser passes its own error class, so a
message still says which part of the policy it is about."""

from __future__ import annotations

from typing import Any


def named_entry(where: str, raw: Any, error: type[ValueError]) -> str:
    """The name of a list entry that must be a mapping with a non-empty `name`."""
    if not isinstance(raw, dict):
        raise error(f"{where}: a mapping is required")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise error(f"{where}.name: a non-empty string is required")
    return name


def refuse_unknown(where: str, raw: dict[str, Any], known: Any, error: type[ValueError]) -> None:
    """Refuse fields the section does not know (a typo would otherwise be ignored)."""
    unknown = set(raw) - set(known)
    if unknown:
        raise error(f"{where}: unknown fields {sorted(unknown)}")


def mapping_or_empty(
    where: str, raw: Any, required: str, error: type[ValueError]
) -> dict[Any, Any]:
    """A section that maps ids to entries: absent is empty, anything but a mapping is refused
    (`{where}: {required}`)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise error(f"{where}: {required}")
    return raw
