-- When a session last proved its owner's password or second factor: at login,
-- and again through POST /v1/auth/reauthenticate. Sensitive actions (deleting
-- the account, changing the login email, creating API keys, offering the
-- organization's ownership) need it to be recent. Sessions from before this
-- migration have none, so they must confirm once before such an action.
-- Only adds a nullable column, so a running older version is unaffected.
ALTER TABLE access_tokens ADD COLUMN confirmed_at TEXT;
