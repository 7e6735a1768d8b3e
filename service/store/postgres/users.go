package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keygate/keygate/service/store"
)

// userColumns are the columns scanUser reads, from users aliased u.
const userColumns = `u.id, u.email, u.name, u.password_hash, u.subscription_active, u.created_at`

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.SubscriptionActive, &u.CreatedAt)
	u.CreatedAt = u.CreatedAt.UTC()
	return u, err
}

func (s *Store) CreateUser(ctx context.Context, u store.User) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !store.ValidID(u.ID) {
		return invalidID(u.ID)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO users (id, email, name, password_hash, subscription_active, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			u.ID, u.Email, u.Name, u.PasswordHash, u.SubscriptionActive, ts(u.CreatedAt))
		if err != nil {
			return err
		}
		// Invitations of this email take effect.
		_, err = tx.Exec(ctx, `
			UPDATE property_users SET user_id = $1, invite_email = NULL
			WHERE user_id IS NULL AND lower(invite_email) = lower($2)`, u.ID, u.Email)
		if err != nil {
			return err
		}
		if err := createDefaultGroup(ctx, tx, u); err != nil {
			return err
		}
		return recordEvent(ctx, tx)
	})
}

func (s *Store) GetUser(ctx context.Context, id string) (u store.User, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.User{}, err
	}
	if !store.ValidID(id) {
		return store.User{}, store.ErrNotFound
	}
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id))
}

func (s *Store) GetUserByEmail(ctx context.Context, email string) (u store.User, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.User{}, err
	}
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE lower(u.email) = lower($1)`, email))
}

func (s *Store) SetSubscription(ctx context.Context, userID string, active bool) (u store.User, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.User{}, err
	}
	if !store.ValidID(userID) {
		return store.User{}, store.ErrNotFound
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		u, err = scanUser(tx.QueryRow(ctx, `
			UPDATE users AS u SET subscription_active = $2 WHERE u.id = $1
			RETURNING `+userColumns, userID, active))
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx)
	})
	if err != nil {
		return store.User{}, err
	}
	return u, nil
}

func (s *Store) CreateSession(ctx context.Context, sess store.Session) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !store.ValidID(sess.UserID) {
		return store.ErrNotFound
	}
	if sess.ID != "" && !store.ValidID(sess.ID) {
		return invalidID(sess.ID)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Selecting the user first reports a missing user before a taken
		// digest, as the reference store does; the foreign key still guards.
		tag, err := tx.Exec(ctx, `
			INSERT INTO sessions (digest, user_id, created_at, expires_at, id)
			SELECT $1, u.id, $3, $4, $5 FROM users u WHERE u.id = $2`,
			digest(sess.Digest), sess.UserID, ts(sess.CreatedAt), ts(sess.ExpiresAt), nullID(sess.ID))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return recordEvent(ctx, tx)
	})
}

func (s *Store) GetSession(ctx context.Context, d []byte) (sess store.Session, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.Session{}, err
	}
	err = s.pool.QueryRow(ctx, `
		SELECT coalesce(id::text, ''), digest, user_id, created_at, expires_at FROM sessions WHERE digest = $1`,
		digest(d)).Scan(&sess.ID, &sess.Digest, &sess.UserID, &sess.CreatedAt, &sess.ExpiresAt)
	if err != nil {
		return store.Session{}, err
	}
	sess.CreatedAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC()
	return sess, nil
}

func (s *Store) DeleteSession(ctx context.Context, d []byte) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE digest = $1`, digest(d))
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return recordEvent(ctx, tx)
	})
}

// ts normalises a time the way the reference store does: truncated to
// store.Precision (rather than rounded, as PostgreSQL would) and in UTC.
func ts(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(store.Precision).UTC()
}

// nullTS is the value of a nullable timestamp: NULL for the zero time.
func nullTS(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: ts(t), Valid: true}
}

// fromTS is the time of a nullable timestamp, in UTC; zero for NULL.
func fromTS(v pgtype.Timestamptz) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return v.Time.UTC()
}

// digest is a digest as a query argument: never NULL, since the reference
// store does not tell a nil digest from an empty one.
func digest(d []byte) []byte {
	if d == nil {
		return []byte{}
	}
	return d
}
