"""Column types the tables and the migrations share.

The migrations import these, so each must stay as it is: changing one would
change what an old migration creates. A new type goes in a new name.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, DateTime, Integer

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
ItemId = BigInteger().with_variant(Integer(), "sqlite")

# A moment, stored with its time zone (UTC throughout).
Time = DateTime(timezone=True)
