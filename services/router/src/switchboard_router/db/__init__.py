"""The router's database: its tables (`tables`) and the column types they share with
the Alembic revisions (`types`), the engine and migrations (`engine`), and the
revisions themselves (`migrations/`).

The bottom layer: it imports nothing else of the router's, and every domain reads
and writes through it.
"""
