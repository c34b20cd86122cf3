-- People's sign-in for the console: logins, one-time set-password links, sessions, and the
-- sign-in audit. Secrets (session cookies, link tokens) are stored only as SHA-256 hashes,
-- passwords only as argon2id PHC strings.

CREATE TABLE logins (
    id            TEXT COLLATE "C" PRIMARY KEY,
    staff_id      TEXT NOT NULL UNIQUE REFERENCES staff (id),
    -- Normalised (trimmed, lower case) by the domain before it gets here.
    email         TEXT NOT NULL UNIQUE,
    -- A partner technician's login signs in as role `partner` for this partner.
    partner_id    TEXT COLLATE "C" REFERENCES partners (id),
    -- NULL until the person follows a set-password link.
    password_hash TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);

CREATE TABLE set_password_links (
    id          TEXT COLLATE "C" PRIMARY KEY,
    login_id    TEXT COLLATE "C" NOT NULL REFERENCES logins (id),
    secret_hash TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    -- Set when followed, or when a newer link for the same login replaced it.
    used_at     BIGINT
);
CREATE INDEX set_password_links_login ON set_password_links (login_id);

CREATE TABLE sessions (
    id           TEXT COLLATE "C" PRIMARY KEY,
    login_id     TEXT COLLATE "C" NOT NULL REFERENCES logins (id),
    secret_hash  TEXT NOT NULL UNIQUE,
    remote_addr  TEXT,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
-- Sign-out everywhere and an admin's revoke: a login's live sessions.
CREATE INDEX sessions_login ON sessions (login_id);

-- Append-only. Throttling counts recent failures per email and per address from here.
CREATE TABLE login_audit (
    id          TEXT COLLATE "C" PRIMARY KEY,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    email       TEXT,
    login_id    TEXT COLLATE "C",
    remote_addr TEXT,
    actor       TEXT,
    detail      TEXT
);
CREATE INDEX login_audit_email ON login_audit (email, kind, at);
CREATE INDEX login_audit_address ON login_audit (remote_addr, kind, at);
CREATE INDEX login_audit_login ON login_audit (login_id, id);
