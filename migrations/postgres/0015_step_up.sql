-- Step-up links (issue 14, part 3): an Approve click (or a break-glass activation) that the
-- policy requires confirmed with a passkey sends its person a private link. Kept identical in
-- shape to ../sqlite/0015_step_up.sql.
CREATE TABLE step_up_links (
    -- sha256 of the link's token: the table alone opens no link.
    token_hash  TEXT PRIMARY KEY,
    request_id  TEXT NOT NULL,
    -- 'approve' or 'break_glass'.
    purpose     TEXT NOT NULL,
    -- The directory person the link is for: only their SSO session may use it.
    person      TEXT NOT NULL,
    -- The verified platform account that clicked (JSON), recorded with the approval.
    account     TEXT NOT NULL,
    -- The approval step the click was for; a link for a step already passed counts nothing.
    step        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    -- Set once, when a verified passkey assertion spends it.
    used_at     BIGINT
);
CREATE INDEX step_up_links_by_request ON step_up_links (request_id);
