-- Credentials a grant made for an agent's request, sealed (ChaCha20-Poly1305 under
-- agents.credential_key, the request id as associated data) until the agent's first status read
-- takes them; deleted then, and at revoke or expiry. Never a password in clear.
-- Kept identical in shape to ../sqlite/0013_agent_credentials.sql.
CREATE TABLE agent_credentials (
    request_id TEXT PRIMARY KEY,
    sealed     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
