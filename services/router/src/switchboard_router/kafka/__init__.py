"""The router's Kafka edges: classified mentions in (`consumer`) and the outbox
relay that publishes every later step's events (`relay`).

May import `db`, `items.steps`, `routing` and the common package; no views.
"""
