package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keygate/keygate/service/store"
)

// keyColumns are the columns keyRow reads, from api_keys aliased k. The
// scope comes sorted: uuid order is the byte order of the canonical text.
const keyColumns = `k.id, k.user_id, k.name, k.digest, k.all_properties,
	k.created_at, k.revoked_at, k.last_used_at,
	ARRAY(SELECT kp.property_id::text FROM api_key_properties kp
	      WHERE kp.api_key_id = k.id ORDER BY kp.property_id)`

// keyRow receives keyColumns. Every field is nullable so that it can also
// receive the missing side of an outer join; a key is there when id is.
type keyRow struct {
	id, userID, name               pgtype.Text
	digest                         []byte
	allProperties                  pgtype.Bool
	createdAt, revokedAt, lastUsed pgtype.Timestamptz
	scope                          []string
}

func (r *keyRow) dest() []any {
	return []any{&r.id, &r.userID, &r.name, &r.digest, &r.allProperties,
		&r.createdAt, &r.revokedAt, &r.lastUsed, &r.scope}
}

func (r *keyRow) key() store.APIKey {
	k := store.APIKey{
		ID:            r.id.String,
		UserID:        r.userID.String,
		Name:          r.name.String,
		Digest:        r.digest,
		AllProperties: r.allProperties.Bool,
		PropertyIDs:   r.scope,
		CreatedAt:     fromTS(r.createdAt),
		RevokedAt:     fromTS(r.revokedAt),
		LastUsedAt:    fromTS(r.lastUsed),
	}
	if k.PropertyIDs == nil {
		k.PropertyIDs = []string{}
	}
	return k
}

func scanKey(row pgx.Row) (store.APIKey, error) {
	var r keyRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.APIKey{}, err
	}
	return r.key(), nil
}

func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !store.ValidID(k.ID) {
		return invalidID(k.ID)
	}
	if !store.ValidID(k.UserID) {
		return store.ErrNotFound
	}
	// The scope is checked even for an all-properties key, which then
	// keeps none of it, as in the reference store.
	scope := slices.Clone(k.PropertyIDs)
	slices.Sort(scope)
	scope = slices.Compact(scope)
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Selecting the user first reports a missing user before a taken
		// digest or id; the foreign key still guards.
		tag, err := tx.Exec(ctx, `
			INSERT INTO api_keys (id, user_id, name, digest, all_properties, created_at, revoked_at, last_used_at)
			SELECT $1, u.id, $3, $4, $5, $6, $7, $8 FROM users u WHERE u.id = $2`,
			k.ID, k.UserID, k.Name, digest(k.Digest), k.AllProperties,
			ts(k.CreatedAt), nullTS(k.RevokedAt), nullTS(k.LastUsedAt))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		if len(scope) == 0 {
			return nil
		}
		for _, id := range scope {
			if !store.ValidID(id) {
				return store.ErrNotFound
			}
		}
		var n int64
		if k.AllProperties {
			err = tx.QueryRow(ctx, `SELECT count(*) FROM properties WHERE id = ANY($1::uuid[])`, scope).Scan(&n)
		} else {
			// Properties deleted concurrently fail the foreign key check.
			tag, err = tx.Exec(ctx, `
				INSERT INTO api_key_properties (api_key_id, property_id)
				SELECT $1, p.id FROM properties p WHERE p.id = ANY($2::uuid[])`, k.ID, scope)
			n = tag.RowsAffected()
		}
		if err != nil {
			return err
		}
		if n != int64(len(scope)) {
			return store.ErrNotFound
		}
		return nil
	})
}

func (s *Store) GetAPIKey(ctx context.Context, userID, id string) (k store.APIKey, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.APIKey{}, err
	}
	if !store.ValidID(userID) || !store.ValidID(id) {
		return store.APIKey{}, store.ErrNotFound
	}
	return scanKey(s.pool.QueryRow(ctx, `
		SELECT `+keyColumns+` FROM api_keys k WHERE k.id = $1 AND k.user_id = $2`, id, userID))
}

func (s *Store) ListAPIKeys(ctx context.Context, userID string, offset, limit int) (keys []store.APIKey, total int, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	keys = []store.APIKey{}
	if !store.ValidID(userID) {
		return keys, 0, nil
	}
	// One statement, hence one snapshot, for the total and the page; the
	// outer join yields the total even when the page is empty.
	rows, err := s.pool.Query(ctx, `
		SELECT n.total, `+keyColumns+`
		FROM (SELECT count(*) AS total FROM api_keys WHERE user_id = $1) n
		LEFT JOIN LATERAL (
			SELECT * FROM api_keys WHERE user_id = $1
			ORDER BY created_at DESC, id
			LIMIT $2 OFFSET $3
		) k ON true
		ORDER BY k.created_at DESC, k.id`,
		userID, pageLimit(limit), max(offset, 0))
	if err != nil {
		return nil, 0, err
	}
	var r keyRow
	_, err = pgx.ForEachRow(rows, append([]any{&total}, r.dest()...), func() error {
		if r.id.Valid {
			keys = append(keys, r.key())
		}
		r = keyRow{} // the next row must not share slices with this one
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return keys, total, nil
}

func (s *Store) RevokeAPIKey(ctx context.Context, userID, id string, at time.Time) (k store.APIKey, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.APIKey{}, err
	}
	if !store.ValidID(userID) || !store.ValidID(id) {
		return store.APIKey{}, store.ErrNotFound
	}
	// An autocommitted update: once it returns, every statement that
	// starts later sees the key revoked.
	return scanKey(s.pool.QueryRow(ctx, `
		UPDATE api_keys AS k SET revoked_at = coalesce(k.revoked_at, $3)
		WHERE k.id = $1 AND k.user_id = $2
		RETURNING `+keyColumns, id, userID, nullTS(at)))
}

func (s *Store) AuthenticateAPIKey(ctx context.Context, d []byte) (k store.APIKey, u store.User, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.APIKey{}, store.User{}, err
	}
	// One statement: a probe of the digest index, the user by primary key
	// and the scope by the primary key of api_key_properties.
	var r keyRow
	dest := append(r.dest(), &u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.SubscriptionActive, &u.CreatedAt)
	err = s.pool.QueryRow(ctx, `
		SELECT `+keyColumns+`, `+userColumns+`
		FROM api_keys k JOIN users u ON u.id = k.user_id
		WHERE k.digest = $1`, digest(d)).Scan(dest...)
	if err != nil {
		return store.APIKey{}, store.User{}, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return r.key(), u, nil
}

// RecordKeyUse moves last_used_at forward in one statement. Ids that are
// not canonical are left out here (a malformed uuid would fail the whole
// statement), unknown ones find no row, and zero times are no use.
//
// It sets last_used_at and nothing else: the change notification triggers
// of api_keys (migration 00003) then stay silent, as recording a use
// narrows no key.
//
// The sub-select locks the rows to change in id order before any is
// updated, so two calls covering the same keys cannot deadlock, and it
// skips rows whose last use is already as late; the outer condition is
// checked again on the row version the lock waited for.
func (s *Store) RecordKeyUse(ctx context.Context, uses map[string]time.Time) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	ids := make([]string, 0, len(uses))
	times := make([]time.Time, 0, len(uses))
	for id, t := range uses {
		if !store.ValidID(id) || t.IsZero() {
			continue
		}
		ids = append(ids, id)
		times = append(times, ts(t))
	}
	if len(ids) == 0 {
		return nil
	}
	_, err = s.pool.Exec(ctx, `
		UPDATE api_keys AS k SET last_used_at = l.at
		FROM (
			SELECT a.id, u.at
			FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
			JOIN api_keys a ON a.id = u.id
			WHERE a.last_used_at IS NULL OR a.last_used_at < u.at
			ORDER BY a.id
			FOR NO KEY UPDATE OF a
		) AS l
		WHERE k.id = l.id AND (k.last_used_at IS NULL OR k.last_used_at < l.at)`,
		ids, times)
	return err
}

// pageLimit is a LIMIT argument: NULL, meaning none, for limit 0.
func pageLimit(limit int) *int64 {
	if limit <= 0 {
		return nil
	}
	l := int64(limit)
	return &l
}

// invalidID is the error of a create whose own id is not one keygate
// issues (see store.ValidID).
func invalidID(id string) error {
	return fmt.Errorf("postgres: id %q is not a canonical UUID", id)
}
