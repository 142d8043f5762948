-- Sign-ups waiting for the code emailed to their address. Nothing exists
-- for an address until its code comes back; then the organization, its
-- first team and the owner are created and the row goes. Additive only (a
-- new table), so a running older version keeps working during an upgrade.

CREATE TABLE pending_signups (
    id                UUID PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE,
    -- NULL when the address had an account when the sign-up was asked for:
    -- the row then only makes wrong codes for that address answer as they do
    -- for a free one, and can never create anything.
    password_hash     TEXT,
    name              TEXT NOT NULL,
    surname           TEXT NOT NULL,
    organization_name TEXT NOT NULL,
    -- Keyed hash of the code, bound to its purpose and the address.
    code_hash         BYTEA NOT NULL,
    attempts          BIGINT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX pending_signups_by_expiry ON pending_signups (expires_at);

-- A sign-up's code emails belong to no customer until the code comes back;
-- then they are handed to the new account (found by address), so deleting it
-- takes them along.
CREATE INDEX outbox_ownerless_by_recipient ON outbox (recipient) WHERE customer_id IS NULL;
