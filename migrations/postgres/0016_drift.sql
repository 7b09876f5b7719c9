-- Drift reconciliation (issue 13, item 4): what a target shows against Warden's active grants.
-- Drift belongs to no request, so findings and what was done about them are kept here.
-- Kept identical in shape to ../sqlite/0016_drift.sql.
CREATE TABLE drift_findings (
    id           TEXT PRIMARY KEY,
    resource     TEXT NOT NULL,
    backend      TEXT NOT NULL,
    -- 'unmanaged' (present, no active grant) or 'missing' (active grant, absent)
    kind         TEXT NOT NULL,
    -- the account on the target, as the backend names holders
    holder       TEXT NOT NULL,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    -- set by the first run that no longer sees it; a later sighting is a new finding
    resolved_at  BIGINT,
    -- reported | deferred | revoking | revoked | revoke_failed
    action       TEXT NOT NULL,
    detail       TEXT,
    -- who is removing it, until when (revoke mode): taken by compare-and-set, so one worker acts
    locked_by    TEXT,
    locked_until BIGINT
);
-- One open finding per (resource, kind, holder).
CREATE UNIQUE INDEX drift_open ON drift_findings (resource, kind, holder) WHERE resolved_at IS NULL;
CREATE INDEX drift_recent ON drift_findings (last_seen);
