-- The files of an inbound message are attached after its import commits (they are stored
-- outside the database first). So that a crash or a failing store in between loses none, the
-- import marks them `owed` in its own transaction; attaching them marks them `attached` in
-- theirs, only while still owed; the pending-mail pass attaches what is owed from the raw
-- message. `refused`: over a cap, kept in the raw message only. NULL: no files (or imported
-- before this column).
ALTER TABLE mail_messages ADD COLUMN attachments TEXT CHECK (attachments IN ('owed', 'attached', 'refused'));
-- The pass looks for owed files only.
CREATE INDEX mail_messages_attachments_owed ON mail_messages (id) WHERE attachments = 'owed';

-- An attachment from mail names its message and MIME part: one attachment per part, however
-- often attaching is tried.
ALTER TABLE attachments ADD COLUMN mail_id TEXT REFERENCES mail_messages (id);
ALTER TABLE attachments ADD COLUMN mail_part INTEGER;
CREATE UNIQUE INDEX attachments_mail_part ON attachments (mail_id, mail_part);
