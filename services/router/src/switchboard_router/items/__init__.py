"""Items, the router's main room: an item's states (`status`), the step machinery
with its audit rows and outbox events, `queued` included (`steps`), the officers'
steps and reads (`service`), the scheduler's timed steps (`timers`), the change
stream (`stream`), and the routes (`schemas`, `views`).

May import `db`, `routing`, `people.security`/`people.deps`, `audit.service`,
`queues.service` and the common package; never another domain's views.
"""
