-- +goose Up

-- Groups (Channex's): every property is in at least one group, and a
-- member of a group reaches every property in it with the member's role.
-- Every user has a default group (default_of), made with the account.
CREATE TABLE groups (
    id         uuid        PRIMARY KEY,
    title      text        NOT NULL,
    default_of uuid        UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL
);

-- Members of groups, and pending invitations by email, as property_users.
CREATE TABLE group_users (
    id           uuid        PRIMARY KEY,
    group_id     uuid        NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id      uuid        REFERENCES users (id) ON DELETE CASCADE,
    invite_email text,
    role         text        NOT NULL CHECK (role IN ('owner', 'user')),
    overrides    jsonb       CONSTRAINT group_users_overrides_object CHECK (jsonb_typeof(overrides) = 'object'),
    created_at   timestamptz NOT NULL,
    CONSTRAINT group_users_user_or_invite CHECK ((user_id IS NULL) <> (invite_email IS NULL))
);

CREATE UNIQUE INDEX group_users_group_user_key ON group_users (group_id, user_id);
CREATE UNIQUE INDEX group_users_group_invite_key ON group_users (group_id, lower(invite_email));
CREATE INDEX group_users_user_id_idx ON group_users (user_id);
CREATE INDEX group_users_invite_email_idx ON group_users (lower(invite_email)) WHERE invite_email IS NOT NULL;

CREATE TABLE group_properties (
    group_id    uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    property_id uuid NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, property_id)
);

CREATE INDEX group_properties_property_id_idx ON group_properties (property_id);

-- The one access function: a user's role on a property is the stronger of
-- their property-user role and their roles in the groups that hold it.
-- PropertyRole and ListProperties read it and nothing else.
CREATE VIEW property_access AS
    SELECT a.property_id, a.user_id,
           CASE WHEN bool_or(a.role = 'owner') THEN 'owner' ELSE 'user' END AS role
    FROM (
        SELECT property_id, user_id, role FROM property_users WHERE user_id IS NOT NULL
        UNION ALL
        SELECT gp.property_id, gu.user_id, gu.role
        FROM group_properties gp JOIN group_users gu ON gu.group_id = gp.group_id
        WHERE gu.user_id IS NOT NULL
    ) a
    GROUP BY a.property_id, a.user_id;

-- Every existing user gets a default group holding the properties they own.
INSERT INTO groups (id, title, default_of, created_at)
SELECT gen_random_uuid(), 'Default', u.id, u.created_at FROM users u;

INSERT INTO group_users (id, group_id, user_id, role, created_at)
SELECT gen_random_uuid(), g.id, g.default_of, 'owner', g.created_at FROM groups g;

INSERT INTO group_properties (group_id, property_id)
SELECT DISTINCT ON (pu.property_id) g.id, pu.property_id
FROM property_users pu JOIN groups g ON g.default_of = pu.user_id
WHERE pu.role = 'owner'
ORDER BY pu.property_id, pu.created_at, pu.id;

-- Changes announced on keygate_changes, as in 00003, with the affected
-- user's id as payload:
--   group_users       any insertion, deletion or change of an active
--                     member's group or role (pending invitations have
--                     no user to announce);
--   group_properties  any insertion or deletion: every active member of
--                     the group, whose reach grew or shrank.
-- Deleting a group deletes its members in one cascaded statement, which
-- announces them. A TRUNCATE announces everyone (an empty payload).
-- +goose StatementBegin
CREATE FUNCTION keygate_notify_group_users() RETURNS trigger
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
                 OR (o.group_id, o.user_id, o.role) IS DISTINCT FROM (n.group_id, n.user_id, n.role)
              UNION
              SELECT n.user_id FROM new_rows n LEFT JOIN old_rows o ON o.id = n.id
              WHERE o.id IS NULL
                 OR (o.group_id, o.user_id, o.role) IS DISTINCT FROM (n.group_id, n.user_id, n.role)) AS d
        WHERE d.user_id IS NOT NULL;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER group_users_notify_insert
    AFTER INSERT ON group_users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_group_users();

CREATE TRIGGER group_users_notify_delete
    AFTER DELETE ON group_users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_group_users();

CREATE TRIGGER group_users_notify_update
    AFTER UPDATE ON group_users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_group_users();

-- +goose StatementBegin
CREATE FUNCTION keygate_notify_group_properties() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('keygate_changes', d.user_id::text)
        FROM (SELECT DISTINCT gu.user_id FROM new_rows r JOIN group_users gu ON gu.group_id = r.group_id
              WHERE gu.user_id IS NOT NULL) AS d;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('keygate_changes', d.user_id::text)
        FROM (SELECT DISTINCT gu.user_id FROM old_rows r JOIN group_users gu ON gu.group_id = r.group_id
              WHERE gu.user_id IS NOT NULL) AS d;
    ELSE
        PERFORM pg_notify('keygate_changes', d.user_id::text)
        FROM (SELECT gu.user_id FROM old_rows r JOIN group_users gu ON gu.group_id = r.group_id
              WHERE gu.user_id IS NOT NULL
              UNION
              SELECT gu.user_id FROM new_rows r JOIN group_users gu ON gu.group_id = r.group_id
              WHERE gu.user_id IS NOT NULL) AS d;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER group_properties_notify_insert
    AFTER INSERT ON group_properties
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_group_properties();

CREATE TRIGGER group_properties_notify_delete
    AFTER DELETE ON group_properties
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_group_properties();

CREATE TRIGGER group_properties_notify_update
    AFTER UPDATE ON group_properties
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION keygate_notify_group_properties();

CREATE TRIGGER groups_notify_truncate
    AFTER TRUNCATE ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION keygate_notify_everyone();
CREATE TRIGGER group_users_notify_truncate
    AFTER TRUNCATE ON group_users
    FOR EACH STATEMENT EXECUTE FUNCTION keygate_notify_everyone();
CREATE TRIGGER group_properties_notify_truncate
    AFTER TRUNCATE ON group_properties
    FOR EACH STATEMENT EXECUTE FUNCTION keygate_notify_everyone();

-- +goose Down

DROP VIEW property_access;
DROP TABLE group_properties;
DROP TABLE group_users;
DROP TABLE groups;
DROP FUNCTION keygate_notify_group_properties();
DROP FUNCTION keygate_notify_group_users();
