"""Switchboard router: puts classified mentions into officer queues and serves them.

One folder per domain, each with the same file names (`service`, `schemas`,
`views`): `items/`, `queues/`, `people/`, `audit/`, `routing/`; below them
`db/` (tables, engine, migrations); at the edges `kafka/` (consumer, relay),
`console/`, `health.py` and `scheduler.py`; `bootstrap.py` wires it all into
the app. Views import services, services import `db`; no module but
`bootstrap` imports a domain's views (import-linter contracts).
"""
