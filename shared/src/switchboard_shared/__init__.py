"""Switchboard's common package: what every service agrees on.

Event schemas (`events`), topic declarations (`topics`), settings (`settings`),
thin Kafka helpers (`kafka`), logging and metrics plumbing. It imports neither
faust nor FastAPI, so any service (or tool) can depend on it.
"""
