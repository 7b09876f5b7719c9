-- Extension requests are found by the request they extend (an expiry due looks for one).
CREATE INDEX IF NOT EXISTS requests_parent ON requests (parent_id) WHERE parent_id IS NOT NULL;
