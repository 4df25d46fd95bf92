"""The router's database: its tables (`tables`), the engine and migrations (`engine`),
and the Alembic revisions (`migrations/`).

The bottom layer: it imports nothing else of the router's, and every domain reads
and writes through it.
"""
