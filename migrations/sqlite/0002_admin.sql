-- Admin review: list indexes that match the keyset order (created_at DESC, id DESC) under each
-- filter, an index for retention and export by time, and the SIEM export cursor.
-- Kept identical in shape to ../postgres/0002_admin.sql.

CREATE INDEX requests_by_requester_page ON requests (requester_id, created_at, id);
CREATE INDEX requests_by_state_page ON requests (state, created_at, id);
CREATE INDEX requests_by_resource_page ON requests (resource, created_at, id);
CREATE INDEX requests_by_platform_page ON requests (platform, created_at, id);
CREATE INDEX requests_break_glass_page ON requests (created_at, id) WHERE break_glass = 1;

CREATE INDEX context_log_by_at ON context_log (at);

-- How far each request's chain has been shipped to the SIEM webhook (its last delivered seq).
-- A request appears in `requests_unexported` only while it has entries not yet delivered.
ALTER TABLE requests ADD COLUMN exported_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX requests_unexported ON requests (created_at, id) WHERE log_seq > exported_seq;
