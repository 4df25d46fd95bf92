"""The fault queue both stand-in servers share: what a test lines up to make the next requests fail.

A fault waits for `count` more requests of its target (a platform, a notifier
channel) or of any request when it names none; the first queued that matches a
request is the one it meets. The control routes (`POST`, `GET`, `DELETE` of a
server's `faults` path) read and answer JSON in which the target goes by the
server's own word for it (`platform`, `channel`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from aiohttp import web

KindT = TypeVar("KindT", bound=StrEnum)
TargetT = TypeVar("TargetT", bound=StrEnum)


@dataclass
class Fault(Generic[KindT, TargetT]):
    """A fault waiting for `count` more requests (of `target`, or of any when None)."""

    kind: KindT
    target: TargetT | None = None
    seconds: float = 0.0
    count: int = 1


class FaultQueue(Generic[KindT, TargetT]):
    """The faults queued on one server, with the control routes that queue, list and clear them."""

    def __init__(self, kinds: type[KindT], targets: type[TargetT], *, target_key: str) -> None:
        self._kinds = kinds
        self._targets = targets
        self._target_key = target_key
        self.faults: list[Fault[KindT, TargetT]] = []

    def take(self, target: TargetT) -> Fault[KindT, TargetT] | None:
        """The fault a request of `target` meets (None when none waits), counted against it."""
        for fault in self.faults:
            if fault.target in (None, target):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _parse(self, body: Mapping[str, Any]) -> Fault[KindT, TargetT]:
        # In the order the fields are read: a body that is no object fails on `kind`.
        kind = self._kinds(str(body["kind"]))
        target = body.get(self._target_key)
        return Fault(
            kind=kind,
            target=self._targets(target) if target else None,
            seconds=float(body.get("seconds", 0.0)),
            count=int(body.get("count", 1)),
        )

    def _as_json(self, fault: Fault[KindT, TargetT]) -> dict[str, Any]:
        return {
            "kind": fault.kind,
            self._target_key: fault.target,
            "seconds": fault.seconds,
            "count": fault.count,
        }

    async def add(self, request: web.Request) -> web.Response:
        """Queue the fault the JSON body describes: 201 with it, 400 when the body is no fault."""
        try:
            fault = self._parse(await request.json())
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": f"bad fault: {exc!r}"}, status=400)
        self.faults.append(fault)
        return web.json_response(self._as_json(fault), status=201)

    async def list(self, _request: web.Request) -> web.Response:
        """The faults still queued, first to be met first."""
        return web.json_response({"faults": [self._as_json(f) for f in self.faults]})

    async def clear(self, _request: web.Request) -> web.Response:
        """Drop every queued fault."""
        self.faults.clear()
        return web.json_response({"faults": []})
