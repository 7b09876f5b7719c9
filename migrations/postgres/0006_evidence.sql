-- Evidence that cannot be quietly edited (issue 11 #16, #17, #20).
-- Kept identical in shape to ../sqlite/0006_evidence.sql.

-- How each entry's hash was made: 'sha256' (unkeyed, every entry before this migration) or
-- 'hmac-sha256' (keyed with evidence.chain_key, which is never stored in the database).
ALTER TABLE context_log ADD COLUMN scheme TEXT NOT NULL DEFAULT 'sha256';

-- Every retention pass that purged payloads: a purged payload is valid only under one of these.
-- `mac` is HMAC-SHA256 over the record with the chain key (NULL when no key is configured).
CREATE TABLE retention_purges (
    id              TEXT PRIMARY KEY,
    at              BIGINT NOT NULL,
    cutoff          BIGINT NOT NULL,
    days            BIGINT NOT NULL,
    export_required BIGINT NOT NULL,
    entries         BIGINT NOT NULL,
    mac             TEXT
);
CREATE INDEX retention_purges_by_cutoff ON retention_purges (cutoff);

-- De-duplication records are pruned by age.
CREATE INDEX processed_events_by_received ON processed_events (received_at);
