-- An index behind every foreign key that lacked one. Deleting a row makes
-- the database look for the rows that reference it; without an index that
-- is a scan of the whole referencing table, per deleted row. Measured: with
-- 220,000 channels, deleting one channel scanned them all for fallbacks
-- (7 create+delete pairs/s against 250 at 1,000 customers).
-- Only adds indexes, so a running older version is unaffected (rolling upgrades).
CREATE INDEX notification_channels_by_fallback ON notification_channels (fallback_channel_id);
CREATE INDEX notification_channels_by_customer ON notification_channels (customer_id);
CREATE INDEX notification_channels_by_team ON notification_channels (team_id);
CREATE INDEX alerts_by_team ON alerts (team_id);
CREATE INDEX alerts_by_customer ON alerts (customer_id);
CREATE INDEX alerts_by_service ON alerts (service_id);
CREATE INDEX invitations_by_inviter ON invitations (inviter_id);
CREATE INDEX invitations_by_org ON invitations (organization_id);
CREATE INDEX ownership_transfers_by_from ON ownership_transfers (from_customer_id);
CREATE INDEX ownership_transfers_by_to ON ownership_transfers (to_customer_id);
CREATE INDEX api_keys_by_org ON api_keys (organization_id);
