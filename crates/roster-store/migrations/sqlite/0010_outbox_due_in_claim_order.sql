-- The worker claims due messages in (next_attempt_at, id) order with a LIMIT: with the id in
-- the index the claim reads that many entries and stops, instead of gathering and sorting every
-- due message, which made each claim slower as a backlog grew.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at, id);
