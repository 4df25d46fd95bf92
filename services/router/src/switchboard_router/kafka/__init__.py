"""The router's Kafka edges: classified mentions in (`consumer`) and the outbox
relay that publishes every step's events, `queued` included (`relay`; the
consumer also relays after each batch).

May import `db`, `items.steps`, `routing` and the common package; no views.
"""
