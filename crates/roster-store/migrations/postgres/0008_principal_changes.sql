-- Every API instance caches who each session and API key belongs to, and
-- clears that cache when told a principal may have changed. These triggers
-- tell every listening instance, on commit, whenever a row a principal is read
-- from changes in a way that matters: a session ended or reconfirmed, a key
-- revoked or deleted, a person's role, status, organization or second factor
-- changed, an organization's second-factor rule changed, or anything deleted.
-- New rows need no notice: nothing about them was cached. Statement-level, so
-- a bulk change sends one notice, and PostgreSQL folds equal notices sent in
-- one transaction into one. A DELETE that removed nothing (the periodic purge
-- of expired sessions, most of the time) sends none.
CREATE FUNCTION roster_principals_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('roster_principals', '');
    RETURN NULL;
END;
$$;

CREATE FUNCTION roster_principals_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM gone) THEN
        PERFORM pg_notify('roster_principals', '');
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER access_tokens_principals_changed
    AFTER UPDATE ON access_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION roster_principals_changed();
CREATE TRIGGER access_tokens_principals_deleted
    AFTER DELETE ON access_tokens REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION roster_principals_deleted();

CREATE TRIGGER api_keys_principals_changed
    AFTER UPDATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION roster_principals_changed();
CREATE TRIGGER api_keys_principals_deleted
    AFTER DELETE ON api_keys REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION roster_principals_deleted();

CREATE TRIGGER customers_principals_changed
    AFTER UPDATE OF role, status, organization_id, totp_enabled_at ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION roster_principals_changed();
CREATE TRIGGER customers_principals_deleted
    AFTER DELETE ON customers REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION roster_principals_deleted();

CREATE TRIGGER organizations_principals_changed
    AFTER UPDATE OF require_totp ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION roster_principals_changed();
CREATE TRIGGER organizations_principals_deleted
    AFTER DELETE ON organizations REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION roster_principals_deleted();
