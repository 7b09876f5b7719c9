-- Single sign-on (issue 14): sign-ins begun at the OpenID provider and not yet finished, and
-- admin sessions opened by SSO rather than by a token.
-- Kept identical in shape to ../postgres/0012_sso.sql.
CREATE TABLE sso_logins (
    -- sha256 of the `state` sent to the provider: the table alone finishes no sign-in.
    state_hash   TEXT PRIMARY KEY,
    -- sha256 of the random value in the browser's `warden_sso` cookie: the callback must come
    -- back to the browser that began the sign-in (login CSRF).
    binding_hash TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    -- The PKCE code verifier, sent once with the code to the token endpoint.
    verifier     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    -- Set once when the callback takes it: a state is good for one callback.
    used_at      BIGINT
);
CREATE INDEX sso_logins_by_expiry ON sso_logins (expires_at);

-- An SSO session: the provider's subject, the directory person it maps to and the role the
-- groups claim gave at sign-in. NULL for token sessions.
ALTER TABLE admin_sessions ADD COLUMN sso_subject TEXT;
ALTER TABLE admin_sessions ADD COLUMN sso_person TEXT;
ALTER TABLE admin_sessions ADD COLUMN sso_role TEXT;
-- The provider's session id (`sid`), so its back-channel logout ends exactly that session.
ALTER TABLE admin_sessions ADD COLUMN sso_sid TEXT;
CREATE INDEX admin_sessions_by_sso_subject ON admin_sessions (sso_subject);
CREATE INDEX admin_sessions_by_sso_sid ON admin_sessions (sso_sid);
