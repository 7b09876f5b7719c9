-- Passkeys (issue 14, part 2): WebAuthn credentials registered per directory person, and the
-- ceremonies begun but not yet finished. Kept identical in shape to ../postgres/0014_passkeys.sql.
-- Binary values are base64url text so one query text serves both backends.

-- One WebAuthn user handle per person: random, so it says nothing about who the person is.
CREATE TABLE passkey_users (
    person      TEXT PRIMARY KEY,
    user_handle TEXT NOT NULL UNIQUE
);

CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,
    person        TEXT NOT NULL,
    -- The authenticator's public key and extensions (webauthn_rp StaticState, encoded).
    static_state  TEXT NOT NULL,
    -- Signature counter and flags (webauthn_rp DynamicState, encoded); updated on each use.
    dynamic_state TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_by_person ON passkeys (person);

-- A registration begun on the self-service page: at most one open per person, taken once by
-- its finish (a second finish, or one after expiry, finds nothing).
CREATE TABLE passkey_ceremonies (
    person      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    -- The encoded server state (challenge, options, expiry); never sent to the browser.
    state       TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (person, kind)
);
