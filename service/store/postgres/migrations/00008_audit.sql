-- +goose Up

-- The audit trail (CONTRACT §8). Events outlive what they describe, so no
-- column references another table. readers are the users who may list an
-- event: the ones it is about, and the owners of its property at the time
-- of the change (filled in by the store inside the change's transaction).
CREATE TABLE audit_events (
    id            uuid PRIMARY KEY,
    action        text        NOT NULL,
    occurred_at   timestamptz NOT NULL,
    actor_user_id uuid,
    credential    text        NOT NULL DEFAULT '',
    api_key_id    uuid,
    ip            inet,
    user_agent    text        NOT NULL DEFAULT '',
    request_id    text        NOT NULL DEFAULT '',
    target_type   text        NOT NULL,
    target_id     text        NOT NULL,
    changes       jsonb,
    count         integer     NOT NULL DEFAULT 1,
    property_id   uuid,
    readers       uuid[]      NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_readers_idx ON audit_events USING gin (readers);
-- Purging takes the oldest first; failed sign-ins look up the latest of
-- one account.
CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at);
CREATE INDEX audit_events_failed_sign_in_idx ON audit_events (target_id, occurred_at)
    WHERE action = 'sign_in.failed';

-- Sessions get an id by which the audit trail names them (never the digest).
ALTER TABLE sessions ADD COLUMN id uuid UNIQUE;

-- +goose Down
ALTER TABLE sessions DROP COLUMN id;
DROP TABLE audit_events;
