-- One approver's card for several items of a bundle (issue 15): the card itself is a row of
-- `cards` (under its first item, kind 'bundle_approval'); these rows name every item it lists
-- and the approval step it asks about, so a change to any item refreshes it and a click on
-- "Approve all" acts only on what the card showed.
CREATE TABLE card_items (
    platform   TEXT NOT NULL,
    channel    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    step       INTEGER NOT NULL,
    position   INTEGER NOT NULL,
    PRIMARY KEY (platform, channel, message_id, request_id)
);
CREATE INDEX card_items_by_request ON card_items (request_id);
