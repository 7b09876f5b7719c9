-- Admin sessions held server-side (issue 11 #19), so signing out, or removing or rotating the
-- token a session was opened with, ends it at once on every instance.
-- Kept identical in shape to ../sqlite/0007_admin_sessions.sql.
CREATE TABLE admin_sessions (
    -- sha256 of the session id in the cookie: the table alone opens no session.
    sid_hash   TEXT PRIMARY KEY,
    token_name TEXT NOT NULL,
    -- The token's stored hash when the session began: a rotated token no longer matches.
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT,
    end_reason TEXT
);
CREATE INDEX admin_sessions_by_expiry ON admin_sessions (expires_at);
