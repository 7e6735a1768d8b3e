-- +goose Up

-- Every attribute of a Channex property. Unset text attributes are empty
-- strings; coordinates are decimal strings kept exactly as given. Settings
-- and content are JSON objects written by the store (see jsonb.go);
-- existing properties get empty ones and stay active.
ALTER TABLE properties
    ADD COLUMN email         text    NOT NULL DEFAULT '',
    ADD COLUMN phone         text    NOT NULL DEFAULT '',
    ADD COLUMN zip_code      text    NOT NULL DEFAULT '',
    ADD COLUMN country       text    NOT NULL DEFAULT '',
    ADD COLUMN state         text    NOT NULL DEFAULT '',
    ADD COLUMN city          text    NOT NULL DEFAULT '',
    ADD COLUMN address       text    NOT NULL DEFAULT '',
    ADD COLUMN longitude     text    NOT NULL DEFAULT '',
    ADD COLUMN latitude      text    NOT NULL DEFAULT '',
    ADD COLUMN timezone      text    NOT NULL DEFAULT '',
    ADD COLUMN property_type text    NOT NULL DEFAULT '',
    ADD COLUMN is_active     boolean NOT NULL DEFAULT true,
    ADD COLUMN settings      jsonb   NOT NULL DEFAULT '{}'
        CONSTRAINT properties_settings_object CHECK (jsonb_typeof(settings) = 'object'),
    ADD COLUMN content       jsonb   NOT NULL DEFAULT '{}'
        CONSTRAINT properties_content_object CHECK (jsonb_typeof(content) = 'object');

-- The defaults only fill existing rows: the store always writes both.
ALTER TABLE properties
    ALTER COLUMN settings DROP DEFAULT,
    ALTER COLUMN content DROP DEFAULT;

-- Each access becomes a record of its own, with an id and a creation time.
-- Existing rows get a fresh id and their property's creation time.
ALTER TABLE property_users
    ADD COLUMN id         uuid,
    ADD COLUMN created_at timestamptz;

UPDATE property_users pu
SET id = gen_random_uuid(), created_at = p.created_at
FROM properties p
WHERE p.id = pu.property_id;

ALTER TABLE property_users
    ALTER COLUMN id SET NOT NULL,
    ALTER COLUMN created_at SET NOT NULL,
    ADD CONSTRAINT property_users_id_key UNIQUE (id);

-- +goose Down

ALTER TABLE property_users
    DROP CONSTRAINT property_users_id_key,
    DROP COLUMN created_at,
    DROP COLUMN id;

ALTER TABLE properties
    DROP COLUMN content,
    DROP COLUMN settings,
    DROP COLUMN is_active,
    DROP COLUMN property_type,
    DROP COLUMN timezone,
    DROP COLUMN latitude,
    DROP COLUMN longitude,
    DROP COLUMN address,
    DROP COLUMN city,
    DROP COLUMN state,
    DROP COLUMN zip_code,
    DROP COLUMN country,
    DROP COLUMN phone,
    DROP COLUMN email;
