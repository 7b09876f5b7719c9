-- Warden schema. Times are milliseconds since the Unix epoch (BIGINT); ids are TEXT.
-- Kept identical in shape to ../sqlite/0001_init.sql so one set of queries serves both.

CREATE TABLE requests (
    id                 TEXT PRIMARY KEY,
    platform           TEXT NOT NULL,
    workspace          TEXT NOT NULL,
    channel            TEXT NOT NULL,
    thread             TEXT,
    scope_kind         TEXT NOT NULL,
    requester_id       TEXT NOT NULL,
    requester_account  TEXT NOT NULL,
    state              TEXT NOT NULL,
    action             TEXT NOT NULL DEFAULT 'request',
    resource           TEXT,
    role               TEXT,
    duration_secs      BIGINT,
    justification      TEXT,
    ticket             TEXT,
    intent_json        TEXT,
    decision_json      TEXT,
    decision_id        TEXT,
    approval_plan_json TEXT,
    current_step       BIGINT NOT NULL DEFAULT 0,
    break_glass        BIGINT NOT NULL DEFAULT 0,
    review_open        BIGINT NOT NULL DEFAULT 0,
    clarify_turns      BIGINT NOT NULL DEFAULT 0,
    parent_id          TEXT,
    extensions         BIGINT NOT NULL DEFAULT 0,
    expires_at         BIGINT,
    deadline_at        BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    log_seq            BIGINT NOT NULL DEFAULT 0,
    log_head           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX requests_by_thread ON requests (platform, workspace, channel, thread);
CREATE INDEX requests_by_requester ON requests (requester_id, created_at);
CREATE INDEX requests_by_state ON requests (state, created_at);
CREATE INDEX requests_by_created ON requests (created_at, id);
CREATE INDEX requests_by_resource ON requests (resource, created_at);

-- Append-only, hash-chained evidence of every step of one request.
CREATE TABLE context_log (
    request_id     TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    at             BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    actor          TEXT NOT NULL,
    payload        TEXT,
    payload_digest TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL,
    PRIMARY KEY (request_id, seq)
);

CREATE TABLE approvals (
    request_id       TEXT NOT NULL,
    step             BIGINT NOT NULL,
    approver_id      TEXT NOT NULL,
    approver_account TEXT NOT NULL,
    decision         TEXT NOT NULL,
    reason           TEXT,
    at               BIGINT NOT NULL,
    PRIMARY KEY (request_id, approver_id)
);

CREATE TABLE grants (
    request_id    TEXT PRIMARY KEY,
    backend       TEXT NOT NULL,
    resource      TEXT NOT NULL,
    role          TEXT NOT NULL,
    person_id     TEXT NOT NULL,
    account       TEXT NOT NULL,
    granted_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    revoke_reason TEXT,
    status        TEXT NOT NULL
);
CREATE INDEX grants_by_status ON grants (status, expires_at);

-- DB-backed timers and retries. The id is the de-duplication key (e.g. 'expire:AR-…').
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    request_id   TEXT,
    run_at       BIGINT NOT NULL,
    priority     BIGINT NOT NULL DEFAULT 0,
    status       TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    locked_by    TEXT,
    locked_until BIGINT,
    last_error   TEXT,
    payload      TEXT
);
CREATE INDEX jobs_due ON jobs (status, run_at);

-- Inbound deliveries already handled (Slack event_id, Discord interaction id).
CREATE TABLE processed_events (
    id          TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
);

-- Every card posted for a request, so every copy can be updated.
CREATE TABLE cards (
    request_id TEXT NOT NULL,
    platform   TEXT NOT NULL,
    channel    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (platform, channel, message_id)
);
CREATE INDEX cards_by_request ON cards (request_id);
