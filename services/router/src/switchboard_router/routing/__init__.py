"""Where a classified mention goes and when it is due: the policy (`policy`,
`rules`), SLAs and escalation ladders (`sla`), assignment modes (`assignment`),
the checks their parsers share (`parsing`) — all pure — the policy in force,
reloaded when its file changes (`holder`), the shipped `routing.yaml`, and the
routes (`schemas`, `views`).

The pure modules import only each other and the common package (an
import-linter contract).
"""
