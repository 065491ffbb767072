"""The staff console's sign-in sessions as stored: one row per signed-in browser."""

from __future__ import annotations

from typing import Final

# The console sessions' table, the same in SQLite and PostgreSQL but for the
# types: ``seen_at`` is the last request (Unix seconds), ``restaurant_id`` the
# restaurant the session is looking at (an admin's changes), ``principal_*``
# who signed in (``principal_restaurant_id`` NULL for the admin), ``token_hash``
# the staff token's hash (NULL for the admin), ``flash`` one message for the
# next page.
CONSOLE_SESSIONS_TABLE: Final = """CREATE TABLE console_sessions (
    id_hash {key} PRIMARY KEY, principal_name {key}, principal_restaurant_id text,
    token_hash text, restaurant_id text, flash text, created_at {time}, seen_at {time})"""
CONSOLE_SESSIONS_INDEX: Final = (
    "CREATE INDEX console_sessions_by_seen ON console_sessions (seen_at)"
)
