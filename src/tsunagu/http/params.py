"""Bounds of the integer query parameters every API shares."""

from __future__ import annotations

# The largest offset (start, page position) a list or search accepts. SQLite and PostgreSQL
# hold 64-bit integers (2**63 - 1), but a product limit well below that keeps `offset + limit`
# and `page * per_page` from overflowing any engine, and even fits a 32-bit signed integer. It
# is still far beyond the largest table (about 5.5 million corporations), so no real page is
# cut off; a larger value is a 422, never a database error.
MAX_OFFSET = 1_000_000_000
