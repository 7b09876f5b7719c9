-- The kill switch (issue 12): freezes that stop new grants in a scope on every instance.
-- Read at each decision point (intake, approval, grant job), so a freeze set on one instance
-- holds on all of them at once. A freeze is never deleted: lifting it is recorded on its row.
-- Kept identical in shape to ../sqlite/0010_freezes.sql.
CREATE TABLE freezes (
    id          TEXT PRIMARY KEY,
    -- agent | all_agents | resource | everything (domain::FreezeScope).
    scope_kind  TEXT NOT NULL,
    -- The agent or resource id; '' for all_agents and everything.
    target      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    lifted_at   BIGINT,
    lifted_by   TEXT,
    lift_reason TEXT
);
-- One active freeze per scope: freezing a frozen scope again finds the existing one.
CREATE UNIQUE INDEX freezes_one_active_per_scope ON freezes (scope_kind, target) WHERE lifted_at IS NULL;
CREATE INDEX freezes_by_created ON freezes (created_at);
