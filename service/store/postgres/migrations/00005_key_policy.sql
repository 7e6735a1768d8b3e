-- +goose Up

-- Key policy: an expiry, read-only access, the client networks a key works
-- from, the address of its last use, and the links between a rolled key
-- and its successor. Existing keys keep working as before: no expiry,
-- read-write, from anywhere.
ALTER TABLE api_keys
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN read_only    boolean NOT NULL DEFAULT false,
    ADD COLUMN allowed_ips  cidr[]  NOT NULL DEFAULT '{}',
    ADD COLUMN last_used_ip inet,
    ADD COLUMN rolled_from  uuid REFERENCES api_keys (id) ON DELETE SET NULL,
    ADD COLUMN rolled_to    uuid REFERENCES api_keys (id) ON DELETE SET NULL;

-- The change notification of api_keys (migration 00003) named the columns
-- that announce a change, so a new column was silent unless someone
-- remembered to add it: a replica would trust a stale policy until its
-- cache entry expired. It now names the columns that do NOT announce
-- (recording a use narrows no key), and every other column announces, the
-- new ones and any added later included. The Go test
-- TestAPIKeyColumnsClassified holds the same classification and fails
-- for a column it does not know.
DROP TRIGGER api_keys_notify_update ON api_keys;

CREATE TRIGGER api_keys_notify_update
    AFTER UPDATE ON api_keys
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - ARRAY['last_used_at', 'last_used_ip'])
          IS DISTINCT FROM
          (to_jsonb(NEW) - ARRAY['last_used_at', 'last_used_ip']))
    EXECUTE FUNCTION keygate_notify_api_key_update();

-- +goose Down

DROP TRIGGER api_keys_notify_update ON api_keys;

CREATE TRIGGER api_keys_notify_update
    AFTER UPDATE OF revoked_at, all_properties, user_id, digest, id ON api_keys
    FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
       OR OLD.all_properties IS DISTINCT FROM NEW.all_properties
       OR OLD.user_id IS DISTINCT FROM NEW.user_id
       OR OLD.digest IS DISTINCT FROM NEW.digest
       OR OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION keygate_notify_api_key_update();

ALTER TABLE api_keys
    DROP COLUMN rolled_to,
    DROP COLUMN rolled_from,
    DROP COLUMN last_used_ip,
    DROP COLUMN allowed_ips,
    DROP COLUMN read_only,
    DROP COLUMN expires_at;
