-- Reverts paykit schema 0003 for PostgreSQL: the outbox's foreign key to
-- its event again.
ALTER TABLE paykit_outbox
    ADD CONSTRAINT paykit_outbox_event_fkey FOREIGN KEY (event_id) REFERENCES paykit_events (id);
