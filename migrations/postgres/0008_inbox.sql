-- The durable inbox: every inbound event Warden acknowledged, written before the acknowledgement
-- and deleted once the engine has handled it, so a crash after the ack loses nothing. A
-- redelivery of a stored event is not stored twice (the platform's delivery id is the key).
CREATE TABLE inbox (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    locked_by    TEXT,
    locked_until BIGINT
);
CREATE INDEX inbox_by_age ON inbox (received_at);
