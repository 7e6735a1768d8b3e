-- +goose Up

-- Only digests and hashes of secrets are ever stored: SHA-256 digests of
-- session tokens and API key secrets, argon2id hashes of passwords.

CREATE TABLE users (
    id                  uuid        PRIMARY KEY,
    email               text        NOT NULL,
    name                text        NOT NULL,
    password_hash       text        NOT NULL,
    subscription_active boolean     NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL
);

-- Emails are unique regardless of letter case.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE sessions (
    digest     bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE api_keys (
    id             uuid        PRIMARY KEY,
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           text        NOT NULL,
    digest         bytea       NOT NULL,
    all_properties boolean     NOT NULL,
    created_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    last_used_at   timestamptz,
    -- Authentication finds a key by digest with a single probe of this index.
    CONSTRAINT api_keys_digest_key UNIQUE (digest)
);

-- Serves a user's key list, newest first, ties by id.
CREATE INDEX api_keys_user_created_idx ON api_keys (user_id, created_at DESC, id);

CREATE TABLE properties (
    id         uuid        PRIMARY KEY,
    title      text        NOT NULL,
    currency   text        NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Who can access which property.
CREATE TABLE property_users (
    property_id uuid NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'user')),
    PRIMARY KEY (property_id, user_id)
);

CREATE INDEX property_users_user_id_idx ON property_users (user_id);

-- The chosen scope of API keys that do not cover all properties. A deleted
-- property leaves every scope.
CREATE TABLE api_key_properties (
    api_key_id  uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    property_id uuid NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    PRIMARY KEY (api_key_id, property_id)
);

CREATE INDEX api_key_properties_property_id_idx ON api_key_properties (property_id);

-- +goose Down

DROP TABLE api_key_properties;
DROP TABLE property_users;
DROP TABLE properties;
DROP TABLE api_keys;
DROP TABLE sessions;
DROP TABLE users;
