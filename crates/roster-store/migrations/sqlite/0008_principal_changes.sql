-- On PostgreSQL this migration adds triggers that announce changes to the
-- rows principals are read from, so every instance can clear its principal
-- cache. SQLite serves one process, which clears its own cache after each
-- change it makes; nothing to add. Kept so both backends number their
-- migrations alike.
SELECT 1;
