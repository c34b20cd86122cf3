-- The outbox row is written in the transaction of the ticket change that causes it, so every
-- index it touches is more work at that commit. Two served nothing on the write path: the
-- unique index on `message_id` (no query reads mail by it, and the mail's own id inside each
-- Message-ID already makes it unique) and the listing's `(state, id)` index (the newest-first
-- listing walks the primary key and finds sent and pending mail at once; failed mail, the rare
-- one, gets a partial index).
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_message_id_key;
DROP INDEX mail_outbox_state;
CREATE INDEX mail_outbox_failed ON mail_outbox (id) WHERE state = 'failed';
