-- Notification channels of customers and teams, their verification codes,
-- quiet hours, and the link from an outbox message to its channel.
-- Additive only.

CREATE TABLE notification_channels (
    id                 BLOB PRIMARY KEY,
    organization_id    BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    -- Exactly one of customer_id and team_id is set; owner_id repeats it, so
    -- priorities and values are unique per owner with one index each.
    customer_id        BLOB REFERENCES customers(id) ON DELETE CASCADE,
    team_id            BLOB REFERENCES teams(id) ON DELETE CASCADE,
    owner_id           BLOB NOT NULL,
    type               TEXT NOT NULL,
    value              TEXT NOT NULL,
    -- A new value waiting for its code; alerts keep going to `value` meanwhile.
    pending_value      TEXT,
    priority           INTEGER NOT NULL,
    enabled            INTEGER NOT NULL,
    verified_at        TEXT,
    -- 'false', 'true' or an RFC 3339 time after which the channel unmutes.
    mute               TEXT NOT NULL,
    suppress_up        INTEGER NOT NULL,
    suppress_down      INTEGER NOT NULL,
    suppress_first     INTEGER NOT NULL,
    suppress_diagnostic INTEGER NOT NULL,
    suppress_all       INTEGER NOT NULL,
    bypass_quiet_hours INTEGER NOT NULL,
    -- Webhooks only: method, headers, body template and query parameters.
    webhook_config     TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (owner_id, priority),
    UNIQUE (owner_id, type, value)
);
CREATE INDEX notification_channels_by_org ON notification_channels (organization_id);

CREATE TABLE channel_codes (
    channel_id BLOB PRIMARY KEY REFERENCES notification_channels(id) ON DELETE CASCADE,
    target     TEXT NOT NULL,
    code_hash  BLOB NOT NULL,
    attempts   INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- A customer's time zone and quiet-hour windows (roster_core::channel::QuietHours as JSON).
ALTER TABLE customers ADD COLUMN quiet_hours TEXT;

-- Which channel a message goes through, and whether it is a test, so the
-- channel's owner can read its deliveries. A deleted channel keeps its history.
ALTER TABLE outbox ADD COLUMN channel_id BLOB REFERENCES notification_channels(id) ON DELETE SET NULL;
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'account';
CREATE INDEX outbox_by_channel ON outbox (channel_id, created_at, id);
