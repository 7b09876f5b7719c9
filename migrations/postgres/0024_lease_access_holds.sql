-- Who holds a shared access on a target (one person's membership of one group, one role):
-- every active Warden grant that put the person there or found them there. The access is
-- removed only by the last holder to end, and only if Warden put it there (`owns`), so a grant
-- ending early never cuts another active grant of the same access short. `releasing`: the
-- holder's revoke has decided to end the access and is making the call; a new grant waits for
-- it rather than joining an access that is going away.
CREATE TABLE access_holds (
    access_key  TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    owns        BIGINT NOT NULL,
    releasing   BIGINT NOT NULL DEFAULT 0,
    taken_from  TEXT,
    joined_at   BIGINT NOT NULL,
    PRIMARY KEY (access_key, request_id)
);
CREATE INDEX access_holds_by_request ON access_holds (request_id);
