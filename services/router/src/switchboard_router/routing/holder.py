"""The routing policy in force, reloaded when its file changes.

`PolicyHolder.current()` is what the consumer, the clock and the API ask; the
clock calls `maybe_reload()` every tick. A changed file (new bytes: `switchboard_shared.reload`)
is parsed and validated whole; a bad one is logged with the rule and field
the validator named, and the previous policy stays in force. The policy
shipped inside the package (no path configured) never changes.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from switchboard_router import metrics
from switchboard_router.routing.policy import Policy
from switchboard_router.routing.rules import PolicyError
from switchboard_shared.logs import fields
from switchboard_shared.reload import FileWatch, ReloadOutcome

log = logging.getLogger(__name__)


class PolicyHolder:
    """The current policy and where it came from."""

    def __init__(self, policy: Policy, path: Path | None = None) -> None:
        self._policy = policy
        self.path = path
        self._watch = FileWatch([path])
        self._lock = threading.Lock()
        metrics.POLICY_VERSION.info({"version": policy.version})

    @classmethod
    def load(cls, path: Path | None) -> PolicyHolder:
        """Load the policy at `path` (or the shipped one); a bad file fails start-up."""
        return cls(Policy.load(path), path)

    def current(self) -> Policy:
        """The policy in force."""
        return self._policy

    def maybe_reload(self) -> bool:
        """Reload if the file changed; True when a new policy took effect."""
        if self.path is None:
            return False
        with self._lock:
            if not self._watch.changed():
                return False
            try:
                policy = Policy.load(self.path)
            except (PolicyError, OSError, UnicodeDecodeError) as exc:
                metrics.POLICY_RELOADS.labels(ReloadOutcome.REFUSED).inc()
                log.error(
                    "routing policy file refused; the previous policy stays in force",
                    extra=fields(path=str(self.path), error=str(exc), version=self._policy.version),
                )
                return False
            self._policy = policy
            metrics.POLICY_RELOADS.labels(ReloadOutcome.SWAPPED).inc()
            metrics.initialise(policy)
            metrics.POLICY_VERSION.info({"version": policy.version})
            log.info(
                "routing policy reloaded", extra=fields(path=str(self.path), version=policy.version)
            )
            return True
