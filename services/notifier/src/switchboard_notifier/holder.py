"""The notification policy in force, reloaded when its file changes.

A changed file (new bytes) is parsed and checked whole; a refused one is
logged with the field it names, counted, and the previous policy stays. The
shipped policy (no path configured) never changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from switchboard_notifier import metrics
from switchboard_notifier.policy import Policy, PolicyError, load
from switchboard_shared.logs import fields
from switchboard_shared.reload import FileWatch, ReloadOutcome

log = logging.getLogger(__name__)


class PolicyHolder:
    """The current policy and the file it came from."""

    def __init__(
        self,
        policy: Policy,
        path: Path | None = None,
        *,
        accept: Callable[[Policy], None] = lambda _policy: None,
    ) -> None:
        accept(policy)
        self._accept = accept
        self._policy = policy
        self.path = path
        self._watch = FileWatch([path])

    @classmethod
    def load(
        cls, path: Path | None, *, accept: Callable[[Policy], None] = lambda _policy: None
    ) -> PolicyHolder:
        """Load the policy at `path` (or the shipped one); a bad file fails start-up, and so
        does one `accept` refuses (raising PolicyError: a secret its channels need is unset)."""
        return cls(load(path), path, accept=accept)

    def current(self) -> Policy:
        """The policy in force."""
        return self._policy

    def maybe_reload(self) -> bool:
        """Reload if the file changed; True when a new policy took effect."""
        if self.path is None or not self._watch.changed():
            return False
        try:
            policy = load(self.path)
            self._accept(policy)
        except (PolicyError, UnicodeDecodeError) as exc:
            metrics.POLICY_RELOADS.labels(ReloadOutcome.REFUSED).inc()
            log.error(
                "notification policy refused; the previous policy stays in force",
                extra=fields(path=str(self.path), error=str(exc), version=self._policy.version),
            )
            return False
        self._policy = policy
        metrics.POLICY_RELOADS.labels(ReloadOutcome.SWAPPED).inc()
        log.info(
            "notification policy reloaded",
            extra=fields(path=str(self.path), version=policy.version),
        )
        return True
