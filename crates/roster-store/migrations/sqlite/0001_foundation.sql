-- Roster's foundation: organizations, teams, customers, credentials, codes,
-- the outbox with its attempts, the audit log and rate-limit counters.
-- Every time is written by the service (UTC, microseconds); no DEFAULT now().

CREATE TABLE organizations (
    id              BLOB PRIMARY KEY,
    name            TEXT NOT NULL,
    slug            TEXT NOT NULL UNIQUE,
    plan            TEXT NOT NULL,
    trial_ends_at   TEXT,
    logo_url        TEXT,
    active          INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE teams (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    name_key        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (organization_id, name_key)
);
CREATE INDEX teams_by_org ON teams (organization_id, created_at, id);

CREATE TABLE customers (
    id                BLOB PRIMARY KEY,
    organization_id   BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email             TEXT NOT NULL UNIQUE,
    email_verified_at TEXT,
    password_hash     TEXT,
    name              TEXT NOT NULL,
    surname           TEXT NOT NULL,
    role              TEXT NOT NULL,
    status            TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    last_login_at     TEXT
);
CREATE INDEX customers_by_org ON customers (organization_id, created_at, id);
CREATE INDEX customers_by_org_role ON customers (organization_id, role);

CREATE TABLE memberships (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    team_id         BLOB NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    customer_id     BLOB NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (team_id, customer_id)
);
CREATE INDEX memberships_by_customer ON memberships (customer_id, created_at, id);
CREATE INDEX memberships_by_org ON memberships (organization_id, created_at, id);

CREATE TABLE services (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    team_id         BLOB NOT NULL REFERENCES teams(id),
    name            TEXT NOT NULL,
    resource_count  INTEGER NOT NULL,
    heartbeat_count INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX services_by_org ON services (organization_id, created_at, id);
CREATE INDEX services_by_team ON services (team_id, created_at, id);

CREATE TABLE access_tokens (
    id          BLOB PRIMARY KEY,
    customer_id BLOB NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    token_hash  BLOB NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX access_tokens_by_customer ON access_tokens (customer_id);

CREATE TABLE api_keys (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    customer_id     BLOB NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    hint            TEXT NOT NULL,
    secret_hash     BLOB NOT NULL UNIQUE,
    scopes          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT,
    revoked_at      TEXT
);
CREATE INDEX api_keys_by_customer ON api_keys (customer_id, created_at, id);

CREATE TABLE verification_codes (
    id          BLOB PRIMARY KEY,
    customer_id BLOB NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    target      TEXT NOT NULL,
    code_hash   BLOB NOT NULL,
    attempts    INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    UNIQUE (customer_id, purpose)
);

CREATE TABLE outbox (
    id               BLOB PRIMARY KEY,
    organization_id  BLOB REFERENCES organizations(id) ON DELETE CASCADE,
    customer_id      BLOB REFERENCES customers(id) ON DELETE CASCADE,
    transport        TEXT NOT NULL,
    template         TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    data             TEXT NOT NULL,
    secret           TEXT,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  TEXT NOT NULL,
    lease_token      BLOB,
    lease_expires_at TEXT,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    settled_at       TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_customer ON outbox (customer_id);

CREATE TABLE delivery_attempts (
    id           BLOB PRIMARY KEY,
    message_id   BLOB NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    duration_ms  INTEGER NOT NULL,
    outcome      TEXT NOT NULL,
    status_code  INTEGER,
    error_class  TEXT,
    error_detail TEXT
);
CREATE INDEX delivery_attempts_by_message ON delivery_attempts (message_id, attempt);

-- Append-only; no foreign keys, so records outlive what they describe.
CREATE TABLE audit_events (
    id              BLOB PRIMARY KEY,
    organization_id BLOB,
    actor_id        BLOB,
    action          TEXT NOT NULL,
    target_type     TEXT NOT NULL,
    target_id       BLOB,
    data            TEXT NOT NULL,
    request_id      TEXT,
    ip              TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX audit_events_by_org ON audit_events (organization_id, created_at, id);

CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_start TEXT NOT NULL,
    hits         INTEGER NOT NULL
);
