"""Queues and their members: settings that override the policy's (`service`) and
the routes (`schemas`, `views`).

May import `db`, `routing`, `people.service`/`people.deps`, `audit.service` and the
common package; never another domain's views.
"""
