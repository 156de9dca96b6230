-- paykit schema 0003 for PostgreSQL: the outbox's foreign key to its event
-- is dropped.
--
-- Every outbox message is inserted by the statement that inserts its event,
-- selected from that insert's RETURNING, and events are never updated or
-- deleted, so the key could never fail. Checking it cost each message a
-- lookup of its event and a row lock on it (a WAL record and a page
-- dirtied again): 8-13% of PostgreSQL checkout throughput once payment
-- writes are batched. SQLite keeps the key: dropping it there means
-- rebuilding the table, and SQLite writes one statement at a time anyway.

ALTER TABLE paykit_outbox DROP CONSTRAINT paykit_outbox_event_fkey;
