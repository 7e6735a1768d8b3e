-- +goose Up

-- Every change that can alter what a user's API keys may do is announced
-- on the channel keygate_changes, by triggers, so that whatever makes the
-- change (the store or SQL typed by hand) announces it, in the transaction
-- that makes it: listeners hear of it once it commits, and never of a
-- change rolled back. The payload is the affected user's id as text.
-- PostgreSQL delivers identical payloads of one transaction once.
--
-- Announced:
--   api_keys            a change of revoked_at, all_properties, user_id,
--                       digest or id; a deletion. Not a new key, and not
--                       last_used_at (recording a use is silent).
--   users               a change of subscription_active, email, name or
--                       id; a deletion.
--   api_key_properties  any insertion, deletion or change: the key's scope
--                       (an insertion too, so that a cached scope never
--                       stays narrower than the stored one).
--   property_users      any insertion, deletion or change of a user's
--                       access to a property (an insertion too, for the
--                       same reason).
-- A TRUNCATE of any of these tables sends an empty payload: every user may
-- be affected. So does a manual NOTIFY keygate_changes.

-- +goose StatementBegin
CREATE FUNCTION keygate_notify_api_key_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('keygate_changes', OLD.user_id::text);
    IF NEW.user_id IS DISTINCT FROM OLD.user_id THEN
        PERFORM pg_notify('keygate_changes', NEW.user_id::text);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION keygate_notify_api_keys_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('keygate_changes', d.user_id::text)
    FROM (SELECT DISTINCT user_id FROM old_rows) AS d;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Only the listed columns in the SET list fire the trigger, and only a
-- real change of one of them notifies: revoking a revoked key does not.
CREATE TRIGGER api_keys_notify_update
    AFTER UPDATE OF revoked_at, all_properties, user_id, digest, id ON api_keys
    FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
       OR OLD.all_properties IS DISTINCT FROM NEW.all_properties
       OR OLD.user_id IS DISTINCT FROM NEW.user_id
       OR OLD.digest IS DISTINCT FROM NEW.digest
       OR OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION keygate_notify_api_key_update();

-- Statement level, so that a user deleted with many keys costs one query.
CREATE TRIGGER api_keys_notify_delete
    AFTER DELETE ON api_keys
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_api_keys_deleted();

-- +goose StatementBegin
CREATE FUNCTION keygate_notify_user_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('keygate_changes', OLD.id::text);
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        PERFORM pg_notify('keygate_changes', NEW.id::text);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION keygate_notify_users_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('keygate_changes', d.id::text)
    FROM (SELECT DISTINCT id FROM old_rows) AS d;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER users_notify_update
    AFTER UPDATE OF subscription_active, email, name, id ON users
    FOR EACH ROW
    WHEN (OLD.subscription_active IS DISTINCT FROM NEW.subscription_active
       OR OLD.email IS DISTINCT FROM NEW.email
       OR OLD.name IS DISTINCT FROM NEW.name
       OR OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION keygate_notify_user_update();

CREATE TRIGGER users_notify_delete
    AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_users_deleted();

-- The users of the keys whose scope changed. A scope row deleted together
-- with its key (a cascade) finds no key any more; the key's own deletion
-- has announced its user. Triggers with transition tables serve one event
-- each, hence three triggers on one function, which only reads the
-- transition tables its event has.
-- +goose StatementBegin
CREATE FUNCTION keygate_notify_api_key_properties() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('keygate_changes', d.user_id::text)
        FROM (SELECT DISTINCT k.user_id FROM new_rows r JOIN api_keys k ON k.id = r.api_key_id) AS d;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('keygate_changes', d.user_id::text)
        FROM (SELECT DISTINCT k.user_id FROM old_rows r JOIN api_keys k ON k.id = r.api_key_id) AS d;
    ELSE
        PERFORM pg_notify('keygate_changes', d.user_id::text)
        FROM (SELECT k.user_id FROM old_rows r JOIN api_keys k ON k.id = r.api_key_id
              UNION
              SELECT k.user_id FROM new_rows r JOIN api_keys k ON k.id = r.api_key_id) AS d;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER api_key_properties_notify_insert
    AFTER INSERT ON api_key_properties
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_api_key_properties();

CREATE TRIGGER api_key_properties_notify_delete
    AFTER DELETE ON api_key_properties
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_api_key_properties();

CREATE TRIGGER api_key_properties_notify_update
    AFTER UPDATE ON api_key_properties
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_api_key_properties();

-- The users whose access changed. Deleting a property deletes its access
-- rows in one cascaded statement: one query announces them all. An update
-- announces the users of the rows whose property, user or role changed,
-- before and after.
-- +goose StatementBegin
CREATE FUNCTION keygate_notify_property_users() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('keygate_changes', d.user_id::text)
        FROM (SELECT DISTINCT user_id FROM new_rows) AS d;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('keygate_changes', d.user_id::text)
        FROM (SELECT DISTINCT user_id FROM old_rows) AS d;
    ELSE
        PERFORM pg_notify('keygate_changes', d.user_id::text)
        FROM (SELECT o.user_id FROM old_rows o LEFT JOIN new_rows n ON n.id = o.id
              WHERE n.id IS NULL
                 OR (o.property_id, o.user_id, o.role) IS DISTINCT FROM (n.property_id, n.user_id, n.role)
              UNION
              SELECT n.user_id FROM new_rows n LEFT JOIN old_rows o ON o.id = n.id
              WHERE o.id IS NULL
                 OR (o.property_id, o.user_id, o.role) IS DISTINCT FROM (n.property_id, n.user_id, n.role)) AS d;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER property_users_notify_insert
    AFTER INSERT ON property_users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_property_users();

CREATE TRIGGER property_users_notify_delete
    AFTER DELETE ON property_users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_property_users();

CREATE TRIGGER property_users_notify_update
    AFTER UPDATE ON property_users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_property_users();

-- A TRUNCATE says nothing of the rows it removed: everyone may be
-- affected, which the empty payload says.
-- +goose StatementBegin
CREATE FUNCTION keygate_notify_everyone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('keygate_changes', '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER users_notify_truncate
    AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION keygate_notify_everyone();
CREATE TRIGGER api_keys_notify_truncate
    AFTER TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION keygate_notify_everyone();
CREATE TRIGGER api_key_properties_notify_truncate
    AFTER TRUNCATE ON api_key_properties
    FOR EACH STATEMENT EXECUTE FUNCTION keygate_notify_everyone();
CREATE TRIGGER property_users_notify_truncate
    AFTER TRUNCATE ON property_users
    FOR EACH STATEMENT EXECUTE FUNCTION keygate_notify_everyone();

-- +goose Down

DROP TRIGGER property_users_notify_truncate ON property_users;
DROP TRIGGER api_key_properties_notify_truncate ON api_key_properties;
DROP TRIGGER api_keys_notify_truncate ON api_keys;
DROP TRIGGER users_notify_truncate ON users;
DROP FUNCTION keygate_notify_everyone();

DROP TRIGGER property_users_notify_update ON property_users;
DROP TRIGGER property_users_notify_delete ON property_users;
DROP TRIGGER property_users_notify_insert ON property_users;
DROP FUNCTION keygate_notify_property_users();

DROP TRIGGER api_key_properties_notify_update ON api_key_properties;
DROP TRIGGER api_key_properties_notify_delete ON api_key_properties;
DROP TRIGGER api_key_properties_notify_insert ON api_key_properties;
DROP FUNCTION keygate_notify_api_key_properties();

DROP TRIGGER users_notify_delete ON users;
DROP TRIGGER users_notify_update ON users;
DROP FUNCTION keygate_notify_users_deleted();
DROP FUNCTION keygate_notify_user_update();

DROP TRIGGER api_keys_notify_delete ON api_keys;
DROP TRIGGER api_keys_notify_update ON api_keys;
DROP FUNCTION keygate_notify_api_keys_deleted();
DROP FUNCTION keygate_notify_api_key_update();
