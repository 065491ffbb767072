"""The PostgreSQL schema: versioned migrations, and bringing a database up to date.

``MIGRATIONS[n]`` upgrades a schema at version ``n`` to ``n + 1``; the
version is the one row of ``orderbot_schema``.  :func:`migrate` applies what
is missing in one transaction, under an advisory lock, so two instances (or
``bot.py db migrate`` beside a starting ``serve``) never both migrate.

What :meth:`storage.postgres.PostgresStore.open` does with a schema:
missing altogether (a new database) — created, as SQLite creates a new
file; older than this build — refused, naming ``bot.py db migrate``, since
other instances may still run the old code against it and an upgrade is a
deliberate step; newer — refused.

Every key column is ``COLLATE "C"``: ordering by ids and names is by code
point, as in SQLite and Python, whatever the database's locale.  Ids are
``GENERATED ALWAYS AS IDENTITY`` with the default ``CACHE 1``: each value
is taken from the shared sequence when the row is inserted, so ids taken
one after another — a conversation's commits, serialised by its lock
(:mod:`storage.postgres_commit`) — ascend, across connections and processes.
"""

from __future__ import annotations

from typing import Final

from storage.console_sessions import CONSOLE_SESSIONS_INDEX, CONSOLE_SESSIONS_TABLE
from storage.errors import StorageError
from storage.postgres_connect import Connection

# Keys of the advisory locks the store takes (the conversation locks hash text instead).
MIGRATION_LOCK: Final = 0x6F72646572626F74  # "orderbot"

KEY: Final = 'text COLLATE "C" NOT NULL'
CONVERSATION: Final = f"restaurant_id {KEY}, customer_id {KEY}"
TIME: Final = "double precision NOT NULL"

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        f"""CREATE TABLE sessions ({CONVERSATION}, snapshot bytea NOT NULL, updated_at {TIME},
            PRIMARY KEY (restaurant_id, customer_id))""",
        f"""CREATE TABLE orders (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, reference {KEY},
            {CONVERSATION}, status text NOT NULL, order_type text NOT NULL,
            branch_id text, address text, payment_method text NOT NULL,
            currency text NOT NULL, total_minor bigint NOT NULL,
            delivery_fee_minor bigint NOT NULL, lines text NOT NULL, created_at {TIME},
            updated_at double precision,
            CONSTRAINT orders_reference_unique UNIQUE (restaurant_id, reference))""",
        "CREATE INDEX orders_by_customer ON orders (restaurant_id, customer_id, created_at)",
        "CREATE INDEX orders_by_time ON orders (restaurant_id, created_at)",
        "CREATE INDEX orders_by_status ON orders (restaurant_id, status, created_at)",
        f"""CREATE TABLE order_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, restaurant_id {KEY},
            reference {KEY}, from_status text, to_status text NOT NULL, actor text NOT NULL,
            at {TIME}, reason text)""",
        "CREATE INDEX order_events_by_order ON order_events (restaurant_id, reference, id)",
        f"""CREATE TABLE drafts (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, {CONVERSATION},
            reason text NOT NULL, cart text NOT NULL, created_at {TIME})""",
        "CREATE INDEX drafts_by_customer ON drafts (restaurant_id, customer_id)",
        f"""CREATE TABLE quarantine (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, {CONVERSATION},
            snapshot bytea NOT NULL, reason text NOT NULL, created_at {TIME})""",
        "CREATE INDEX quarantine_by_customer ON quarantine (restaurant_id, customer_id)",
        # seq is the acceptance order (pending_inbound, pruning walks it).
        f"""CREATE TABLE inbox (
            message_id {KEY} PRIMARY KEY,
            seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE, {CONVERSATION},
            phone_number_id text NOT NULL, wa_id text, user_id text, sent_at bigint NOT NULL,
            received_at {TIME}, payload bytea NOT NULL, processed_at double precision)""",
        "CREATE INDEX inbox_pending ON inbox (seq) WHERE processed_at IS NULL",
        # The commit marks with UPDATE … WHERE processed_at IS NULL and checks the
        # row count; this catches any other writer (G4).
        """CREATE FUNCTION inbox_processed_once() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'inbox message % already processed', OLD.message_id
                    USING ERRCODE = 'OBPRC';
            END $$""",
        """CREATE TRIGGER inbox_processed_once BEFORE UPDATE OF processed_at ON inbox
            FOR EACH ROW WHEN (OLD.processed_at IS NOT NULL)
            EXECUTE FUNCTION inbox_processed_once()""",
        f"""CREATE TABLE outbox (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, {CONVERSATION},
            phone_number_id text NOT NULL, body text NOT NULL, kind text NOT NULL,
            state text NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
            attempts integer NOT NULL, not_before {TIME}, wamid text, error text,
            created_at {TIME}, finished_at double precision)""",
        "CREATE INDEX outbox_by_customer ON outbox (restaurant_id, customer_id, id)",
        """CREATE INDEX outbox_pending ON outbox (restaurant_id, customer_id, id)
            WHERE state = 'pending'""",
        f"CREATE TABLE identities (user_id {KEY} PRIMARY KEY, wa_id text NOT NULL)",
        f"""CREATE TABLE message_status (wamid {KEY} PRIMARY KEY, status text NOT NULL,
            rank integer NOT NULL, updated_at {TIME})""",
        f"""CREATE TABLE messages (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, {CONVERSATION},
            direction text NOT NULL, kind text NOT NULL, text text NOT NULL,
            author text NOT NULL, at {TIME}, wamid text, outbox_id bigint)""",
        "CREATE INDEX messages_by_conversation ON messages (restaurant_id, customer_id, id)",
        f"""CREATE TABLE conversations (
            {CONVERSATION}, name text, bot_paused boolean NOT NULL,
            handoff_requested boolean NOT NULL, last_message_at {TIME},
            last_inbound_at double precision, unread integer NOT NULL,
            phone_number_id text, wa_id text, user_id text, away_epoch integer NOT NULL,
            PRIMARY KEY (restaurant_id, customer_id))""",
        """CREATE INDEX conversations_by_activity
            ON conversations (restaurant_id, last_message_at, customer_id)""",
        f"""CREATE TABLE restaurant_controls (
            restaurant_id {KEY} PRIMARY KEY, bot_enabled boolean NOT NULL,
            off_epoch integer NOT NULL, updated_at {TIME})""",
        f"""CREATE TABLE sold_out (restaurant_id {KEY}, item_id {KEY},
            PRIMARY KEY (restaurant_id, item_id))""",
        f"""CREATE TABLE staff (restaurant_id {KEY}, name {KEY},
            token_hash {KEY} CONSTRAINT staff_token_unique UNIQUE, created_at {TIME},
            PRIMARY KEY (restaurant_id, name))""",
    ),
    (
        # Version 2, several instances on one database (storage.postgres_claims): a
        # row per conversation with inbox messages, locked by the process claiming
        # its pending messages; and finding a customer's oldest pending one.
        f"""CREATE TABLE claims ({CONVERSATION}, PRIMARY KEY (restaurant_id, customer_id))""",
        """INSERT INTO claims (restaurant_id, customer_id)
            SELECT DISTINCT restaurant_id, customer_id FROM inbox""",
        """CREATE INDEX inbox_pending_by_customer ON inbox (restaurant_id, customer_id, seq)
            WHERE processed_at IS NULL""",
    ),
    (
        # Version 3, the staff side shared by every instance: the console's
        # sign-in sessions (any instance serves any request), and the live
        # events, numbered in commit order (storage.postgres_events).
        CONSOLE_SESSIONS_TABLE.format(key=KEY, time=TIME),
        CONSOLE_SESSIONS_INDEX,
        f"""CREATE TABLE staff_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, restaurant_id {KEY},
            kind text NOT NULL, data text NOT NULL, created_at {TIME})""",
    ),
)
LATEST: Final = len(MIGRATIONS)

MIGRATE_HINT: Final = "run `python bot.py db migrate --db URL` (with ORDERBOT_DATABASE_URL)"


async def schema_version(connection: Connection) -> int | None:
    """The schema's version, or ``None`` where the search path holds no orderbot schema."""
    exists = await connection.fetchval("SELECT to_regclass('orderbot_schema') IS NOT NULL")
    if not exists:
        return None
    version = await connection.fetchval("SELECT version FROM orderbot_schema")
    return int(version or 0)


async def migrate(connection: Connection, schema: str | None, *,
                  only_if_missing: bool = False) -> tuple[int | None, int]:
    """Bring the schema up to :data:`LATEST`; ``(version before, version after)``.

    ``only_if_missing``: create a missing schema but leave an existing one
    as it is (what ``open`` does; it then checks the version).  Raises
    :class:`~storage.errors.StorageError` for a schema newer than this build.
    """
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        if schema is not None and not await connection.fetchval(
                "SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            # Only when missing: CREATE needs a privilege on the database that a
            # user of an existing schema may not have.
            await connection.execute(f"CREATE SCHEMA {schema}")
        before = await schema_version(connection)
        if before is not None and (only_if_missing or before == LATEST):
            return before, before
        if before is not None and before > LATEST:
            raise StorageError(f"schema version {before} is newer than this build knows "
                               f"({LATEST})")
        if before is None:
            await connection.execute("CREATE TABLE orderbot_schema (version integer NOT NULL)")
            await connection.execute("INSERT INTO orderbot_schema VALUES (0)")
        for script in MIGRATIONS[before or 0:]:
            for statement in script:
                await connection.execute(statement)
        await connection.execute("UPDATE orderbot_schema SET version = $1", LATEST)
        return before, LATEST


def check_version(version: int | None, where: str) -> None:
    """Refuse a schema ``open`` cannot use as it is (see the module docstring)."""
    if version is None or version == LATEST:
        return
    if version > LATEST:
        raise StorageError(f"{where}: schema version {version} is newer than this build "
                           f"knows ({LATEST})")
    raise StorageError(f"{where}: schema version {version} is older than this build's "
                       f"({LATEST}); {MIGRATE_HINT}")
