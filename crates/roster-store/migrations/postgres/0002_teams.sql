-- Teams, members, invitations, ownership transfers and status-page domains.
-- Additive only (new tables, new columns with defaults), so instances on the
-- previous version keep working during a rolling upgrade.

-- PingBack's availability: live, away or offline; set by the person.
ALTER TABLE customers ADD COLUMN availability TEXT NOT NULL DEFAULT 'offline';
-- When the person was invited (NULL for those who signed up or were created by an operator).
ALTER TABLE customers ADD COLUMN invited_at TIMESTAMPTZ;

CREATE TABLE invitations (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    team_id          UUID NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    channel_type     TEXT NOT NULL,
    channel_value    TEXT NOT NULL,
    role             TEXT NOT NULL,
    inviter_id       UUID REFERENCES customers(id) ON DELETE SET NULL,
    sender_full_name TEXT NOT NULL,
    token_hash       BYTEA NOT NULL UNIQUE,
    status           TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    reminded_at      TIMESTAMPTZ,
    expires_at       TIMESTAMPTZ NOT NULL,
    responded_at     TIMESTAMPTZ
);
-- One live invitation per address and team; a new one replaces it.
CREATE UNIQUE INDEX invitations_one_pending ON invitations (team_id, channel_value) WHERE status = 'pending';
CREATE INDEX invitations_by_team ON invitations (team_id, created_at, id);

-- At most one open offer of ownership per organization.
CREATE TABLE ownership_transfers (
    organization_id  UUID PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    from_customer_id UUID NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    to_customer_id   UUID NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE team_domains (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    hostname        TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX team_domains_by_org ON team_domains (organization_id, created_at, id);
