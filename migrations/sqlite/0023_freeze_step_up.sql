-- Passkey step-up for the kill switch (issue 14): where the policy requires it, a freeze or an
-- unfreeze made in the admin web UI commits only after the signed-in admin confirms with a
-- passkey. Kept identical in shape to ../postgres/0023_freeze_step_up.sql.
CREATE TABLE freeze_step_ups (
    -- sha256 of the link's token: the table alone opens no link.
    token_hash  TEXT PRIMARY KEY,
    -- 'freeze' or 'unfreeze'.
    action      TEXT NOT NULL,
    -- The directory person (SSO) the link is for: only their session may use it.
    person      TEXT NOT NULL,
    -- The admin actor recorded on the freeze (the session's principal name).
    actor       TEXT NOT NULL,
    -- The freeze an unfreeze lifts; NULL for a freeze.
    freeze_id   TEXT,
    -- The scope a freeze sets (domain::FreezeScope), or the scope of the freeze lifted.
    scope_kind  TEXT NOT NULL,
    target      TEXT NOT NULL,
    -- What the admin typed: committed with the action once the passkey verifies.
    reason      TEXT NOT NULL,
    -- For a freeze: whether to revoke active grants in the scope as well (0 or 1).
    revoke      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    -- Set once, when a verified passkey assertion spends it.
    used_at     BIGINT
);
-- How a freeze, and its lifting, were confirmed (JSON, domain::Confirmation): the passkey's
-- credential id and verification result (never the raw assertion), or a local CLI override.
ALTER TABLE freezes ADD COLUMN confirmation TEXT;
ALTER TABLE freezes ADD COLUMN lift_confirmation TEXT;
