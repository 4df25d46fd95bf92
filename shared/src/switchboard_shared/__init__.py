"""Switchboard's common package: what every service agrees on.

Event schemas (`events`), mention ids (`identity`), dead-letter construction
(`deadletters`), topic declarations (`topics`), settings (`settings`), thin
Kafka helpers (`kafka`), the retry loop of a record of sends (`outbox`),
metric families every service counts alike (`metric_families`), background loops
started once and cancelled until they end (`background`), the district map
(`districts`), logging and metrics plumbing. It imports neither faust nor FastAPI, so any service (or
tool) can depend on it; FastAPI plumbing lives beside it in `switchboard_web`.
"""
