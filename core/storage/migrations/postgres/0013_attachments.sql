-- Files attached to tickets and comments. The bytes live outside the database (a directory or
-- an S3 bucket), content-addressed by SHA-256: `attachment_blobs` has one row per distinct
-- stored content, and every attachment row points at one. An upload locks its blob row and
-- makes sure the bytes are stored before its rows commit; a delete that leaves a blob without
-- live attachments removes the bytes and the row under that same lock, so the two never race.

CREATE TABLE attachment_blobs (
    sha256    TEXT COLLATE "C" PRIMARY KEY,
    size      BIGINT NOT NULL,
    stored_at BIGINT NOT NULL
);

CREATE TABLE attachments (
    id           TEXT COLLATE "C" PRIMARY KEY,
    ticket_id    TEXT COLLATE "C" NOT NULL REFERENCES tickets (id),
    -- The comment it belongs to (that event's seq), if any.
    comment_seq  BIGINT,
    file_name    TEXT NOT NULL,
    -- Sniffed from the bytes on arrival.
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL CHECK (size > 0),
    sha256       TEXT COLLATE "C" NOT NULL,
    -- public, or internal when its comment is internal (partners never see it).
    visibility   TEXT NOT NULL CHECK (visibility IN ('public', 'internal')),
    -- JSON of the actor who added it, as on events.
    added_by     TEXT NOT NULL,
    added_at     BIGINT NOT NULL,
    deleted_at   BIGINT,
    FOREIGN KEY (ticket_id, comment_seq) REFERENCES ticket_events (ticket_id, seq)
);
-- A ticket's attachments in id (upload) order.
CREATE INDEX attachments_ticket_id ON attachments (ticket_id, id);
-- The live attachments that still hold a blob, asked when one is deleted.
CREATE INDEX attachments_live_sha256 ON attachments (sha256) WHERE deleted_at IS NULL;
