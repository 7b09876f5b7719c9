-- Several resources in one ask (issue 15): each item is a request of its own, linked by the id of
-- the bundle's first request (its lead, whose bundle_id is its own id). NULL for a one-item ask.
ALTER TABLE requests ADD COLUMN bundle_id TEXT;
CREATE INDEX requests_bundle ON requests (bundle_id) WHERE bundle_id IS NOT NULL;
