-- The status line every card of a request shows, written with the change that set it, so a card
-- posted while the request moved on is brought up to date from here.
ALTER TABLE requests ADD COLUMN card_status TEXT;
