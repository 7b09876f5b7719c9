-- Short exclusive holds on a named key (a Slack user group's member list), so read-modify-write
-- calls on one target never interleave across instances. A holder that dies leaves a lease that
-- simply runs out at expires_at (epoch milliseconds).
CREATE TABLE leases (
    key        TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
