-- Alerts and their fan-out, channel health, webhook signing secrets, and
-- the columns the audit API and second factors need. Additive only: every
-- new column is nullable or has a default, so a running older version keeps
-- working while a newer one starts (see docs/deployment.md).

-- One notify call: what it asked, and the answer replayed for the same idempotency key.
CREATE TABLE alerts (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    -- Exactly one of team_id and customer_id is set; owner_id repeats it.
    team_id         BLOB REFERENCES teams(id) ON DELETE CASCADE,
    customer_id     BLOB REFERENCES customers(id) ON DELETE CASCADE,
    owner_id        BLOB NOT NULL,
    event           TEXT NOT NULL,
    urgency         TEXT NOT NULL,
    service_id      BLOB REFERENCES services(id) ON DELETE SET NULL,
    title           TEXT NOT NULL,
    message         TEXT NOT NULL,
    -- The caller's key and a digest of the request, kept 24 hours.
    idempotency_key TEXT,
    request_digest  TEXT,
    -- `queued` or `unreachable`, and the JSON answer given.
    status          TEXT NOT NULL,
    response        TEXT NOT NULL,
    created_by      BLOB,
    created_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX alerts_by_idempotency_key ON alerts (organization_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX alerts_by_owner ON alerts (owner_id, created_at, id);

-- Deliveries of an alert; skipped ones (muted, suppressed, …) are settled at
-- once with the reason; held ones wait for the end of quiet hours.
ALTER TABLE outbox ADD COLUMN alert_id BLOB REFERENCES alerts(id) ON DELETE SET NULL;
ALTER TABLE outbox ADD COLUMN skip_reason TEXT;
ALTER TABLE outbox ADD COLUMN held_until TEXT;
-- The message whose permanent failure this one stands in for (a fallback channel).
ALTER TABLE outbox ADD COLUMN fallback_of BLOB;
CREATE INDEX outbox_by_org ON outbox (organization_id, created_at, id);
CREATE INDEX outbox_by_alert ON outbox (alert_id);

-- A channel to try when a delivery through this one fails for good.
ALTER TABLE notification_channels ADD COLUMN fallback_channel_id BLOB REFERENCES notification_channels(id) ON DELETE SET NULL;
-- Webhooks: the Standard Webhooks signing secret, and the one it replaced,
-- still signed with until the overlap ends.
ALTER TABLE notification_channels ADD COLUMN signing_secret TEXT;
ALTER TABLE notification_channels ADD COLUMN previous_signing_secret TEXT;
ALTER TABLE notification_channels ADD COLUMN previous_secret_expires_at TEXT;
-- Health, apart from the owner's choices: the system turns a channel off
-- when its receiver is gone (410) or has failed every alert for too long.
ALTER TABLE notification_channels ADD COLUMN disabled_by_system_at TEXT;
ALTER TABLE notification_channels ADD COLUMN disabled_reason TEXT;
ALTER TABLE notification_channels ADD COLUMN failing_since TEXT;

-- Audit filters: by actor and by target.
CREATE INDEX audit_events_by_actor ON audit_events (organization_id, actor_id, created_at, id);
CREATE INDEX audit_events_by_target ON audit_events (target_id, created_at, id);

-- An optional TOTP second factor, and organizations that require one.
ALTER TABLE customers ADD COLUMN totp_secret TEXT;
ALTER TABLE customers ADD COLUMN totp_enabled_at TEXT;
ALTER TABLE organizations ADD COLUMN require_totp INTEGER NOT NULL DEFAULT 0;
CREATE TABLE recovery_codes (
    id          BLOB PRIMARY KEY,
    customer_id BLOB NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    code_hash   BLOB NOT NULL,
    used_at     TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX recovery_codes_by_customer ON recovery_codes (customer_id);
