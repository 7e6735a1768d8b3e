-- +goose Up

-- Channex keeps logo_url and website at the top level of a property, and
-- a list of facility ids; they move out of content. allow_availability_
-- autoupdate_on_confirmation is always true in Channex and is no longer
-- kept.
ALTER TABLE properties
    ADD COLUMN logo_url   text   NOT NULL DEFAULT '',
    ADD COLUMN website    text   NOT NULL DEFAULT '',
    ADD COLUMN facilities uuid[] NOT NULL DEFAULT '{}';

UPDATE properties SET
    logo_url = coalesce(content->>'logo_url', ''),
    website  = coalesce(content->>'website', ''),
    content  = content - 'logo_url' - 'website',
    settings = settings - 'allow_availability_autoupdate_on_confirmation';

-- A property user is a record of its own (id), and may be a pending
-- invitation: no user yet, only the email invited. The access takes
-- effect when an account with that email is created.
ALTER TABLE property_users
    DROP CONSTRAINT property_users_pkey,
    ADD PRIMARY KEY (id),
    DROP CONSTRAINT property_users_id_key,
    ALTER COLUMN user_id DROP NOT NULL,
    ADD COLUMN invite_email text,
    ADD COLUMN overrides jsonb
        CONSTRAINT property_users_overrides_object CHECK (jsonb_typeof(overrides) = 'object'),
    ADD CONSTRAINT property_users_user_or_invite
        CHECK ((user_id IS NULL) <> (invite_email IS NULL));

CREATE UNIQUE INDEX property_users_property_user_key ON property_users (property_id, user_id);
CREATE UNIQUE INDEX property_users_property_invite_key ON property_users (property_id, lower(invite_email));
CREATE INDEX property_users_invite_email_idx ON property_users (lower(invite_email)) WHERE invite_email IS NOT NULL;

-- Pending invitations have no user to announce.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION keygate_notify_property_users() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('keygate_changes', d.user_id::text)
        FROM (SELECT DISTINCT user_id FROM new_rows WHERE user_id IS NOT NULL) AS d;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('keygate_changes', d.user_id::text)
        FROM (SELECT DISTINCT user_id FROM old_rows WHERE user_id IS NOT NULL) AS d;
    ELSE
        PERFORM pg_notify('keygate_changes', d.user_id::text)
        FROM (SELECT o.user_id FROM old_rows o LEFT JOIN new_rows n ON n.id = o.id
              WHERE n.id IS NULL
                 OR (o.property_id, o.user_id, o.role) IS DISTINCT FROM (n.property_id, n.user_id, n.role)
              UNION
              SELECT n.user_id FROM new_rows n LEFT JOIN old_rows o ON o.id = n.id
              WHERE o.id IS NULL
                 OR (o.property_id, o.user_id, o.role) IS DISTINCT FROM (n.property_id, n.user_id, n.role)) AS d
        WHERE d.user_id IS NOT NULL;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION keygate_notify_property_users() RETURNS trigger
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

DELETE FROM property_users WHERE user_id IS NULL;
DROP INDEX property_users_invite_email_idx;
DROP INDEX property_users_property_invite_key;
DROP INDEX property_users_property_user_key;
ALTER TABLE property_users
    DROP CONSTRAINT property_users_user_or_invite,
    DROP COLUMN overrides,
    DROP COLUMN invite_email,
    ALTER COLUMN user_id SET NOT NULL,
    DROP CONSTRAINT property_users_pkey,
    ADD CONSTRAINT property_users_id_key UNIQUE (id),
    ADD PRIMARY KEY (property_id, user_id);

UPDATE properties SET
    content  = content || jsonb_build_object('logo_url', logo_url, 'website', website),
    settings = settings || '{"allow_availability_autoupdate_on_confirmation": true}';

ALTER TABLE properties
    DROP COLUMN facilities,
    DROP COLUMN website,
    DROP COLUMN logo_url;
