-- Roster's foundation: organizations, teams, customers, credentials, codes,
-- the outbox with its attempts, the audit log and rate-limit counters.
-- Every time is written by the service (UTC, microseconds); no DEFAULT now().

CREATE TABLE organizations (
    id              UUID PRIMARY KEY,
    name            TEXT NOT NULL,
    slug            TEXT NOT NULL UNIQUE,
    plan            TEXT NOT NULL,
    trial_ends_at   TIMESTAMPTZ,
    logo_url        TEXT,
    active          BOOLEAN NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE teams (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    name_key        TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, name_key)
);
CREATE INDEX teams_by_org ON teams (organization_id, created_at, id);

CREATE TABLE customers (
    id                UUID PRIMARY KEY,
    organization_id   UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email             TEXT NOT NULL UNIQUE,
    email_verified_at TIMESTAMPTZ,
    password_hash     TEXT,
    name              TEXT NOT NULL,
    surname           TEXT NOT NULL,
    role              TEXT NOT NULL,
    status            TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    last_login_at     TIMESTAMPTZ
);
CREATE INDEX customers_by_org ON customers (organization_id, created_at, id);
CREATE INDEX customers_by_org_role ON customers (organization_id, role);

CREATE TABLE memberships (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    team_id         UUID NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    customer_id     UUID NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (team_id, customer_id)
);
CREATE INDEX memberships_by_customer ON memberships (customer_id, created_at, id);
CREATE INDEX memberships_by_org ON memberships (organization_id, created_at, id);

CREATE TABLE services (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    team_id         UUID NOT NULL REFERENCES teams(id),
    name            TEXT NOT NULL,
    resource_count  BIGINT NOT NULL,
    heartbeat_count BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX services_by_org ON services (organization_id, created_at, id);
CREATE INDEX services_by_team ON services (team_id, created_at, id);

CREATE TABLE access_tokens (
    id          UUID PRIMARY KEY,
    customer_id UUID NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    token_hash  BYTEA NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX access_tokens_by_customer ON access_tokens (customer_id);

CREATE TABLE api_keys (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    customer_id     UUID NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    hint            TEXT NOT NULL,
    secret_hash     BYTEA NOT NULL UNIQUE,
    scopes          TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ
);
CREATE INDEX api_keys_by_customer ON api_keys (customer_id, created_at, id);

CREATE TABLE verification_codes (
    id          UUID PRIMARY KEY,
    customer_id UUID NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    target      TEXT NOT NULL,
    code_hash   BYTEA NOT NULL,
    attempts    BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (customer_id, purpose)
);

CREATE TABLE outbox (
    id               UUID PRIMARY KEY,
    organization_id  UUID REFERENCES organizations(id) ON DELETE CASCADE,
    customer_id      UUID REFERENCES customers(id) ON DELETE CASCADE,
    transport        TEXT NOT NULL,
    template         TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    data             JSONB NOT NULL,
    secret           TEXT,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    lease_token      UUID,
    lease_expires_at TIMESTAMPTZ,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    settled_at       TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_customer ON outbox (customer_id);

CREATE TABLE delivery_attempts (
    id           UUID PRIMARY KEY,
    message_id   UUID NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    attempt      BIGINT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    duration_ms  BIGINT NOT NULL,
    outcome      TEXT NOT NULL,
    status_code  BIGINT,
    error_class  TEXT,
    error_detail TEXT
);
CREATE INDEX delivery_attempts_by_message ON delivery_attempts (message_id, attempt);

-- Append-only; no foreign keys, so records outlive what they describe.
CREATE TABLE audit_events (
    id              UUID PRIMARY KEY,
    organization_id UUID,
    actor_id        UUID,
    action          TEXT NOT NULL,
    target_type     TEXT NOT NULL,
    target_id       UUID,
    data            JSONB NOT NULL,
    request_id      TEXT,
    ip              TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_events_by_org ON audit_events (organization_id, created_at, id);

CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_start TIMESTAMPTZ NOT NULL,
    hits         BIGINT NOT NULL
);
