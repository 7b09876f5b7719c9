-- People who opened Warden's Home tab (Slack App Home) at least once: only their homes are
-- republished when something on them changes. One row per platform account, naming the
-- directory person it was mapped to when last opened.
-- Kept identical in shape to the other backend's 0017_home_viewers.sql.
CREATE TABLE home_viewers (
    platform  TEXT NOT NULL,
    workspace TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    person    TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    PRIMARY KEY (platform, workspace, user_id)
);
CREATE INDEX home_viewers_by_person ON home_viewers (person);
