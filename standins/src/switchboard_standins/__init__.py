"""Local stand-ins of the platforms Switchboard talks to, for tests and `make run`.

No service imports this package (an import-linter contract says so): it only
ever runs as its own process (`python -m switchboard_standins`) or inside a test.
"""
