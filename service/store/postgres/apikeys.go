package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keygate/keygate/service/store"
)

// keyColumns are the columns keyRow reads, from api_keys aliased k. The
// scope comes sorted: uuid order is the byte order of the canonical text.
const keyColumns = `k.id, k.user_id, k.name, k.digest, k.all_properties,
	k.created_at, k.revoked_at, k.last_used_at,
	ARRAY(SELECT kp.property_id::text FROM api_key_properties kp
	      WHERE kp.api_key_id = k.id ORDER BY kp.property_id),
	host(k.last_used_ip), k.expires_at, k.read_only, k.allowed_ips::text[],
	k.rolled_from::text, k.rolled_to::text`

// keyRow receives keyColumns. Every field is nullable so that it can also
// receive the missing side of an outer join; a key is there when id is.
type keyRow struct {
	id, userID, name               pgtype.Text
	digest                         []byte
	allProperties                  pgtype.Bool
	createdAt, revokedAt, lastUsed pgtype.Timestamptz
	scope                          []string
	lastUsedIP                     pgtype.Text
	expiresAt                      pgtype.Timestamptz
	readOnly                       pgtype.Bool
	allowedIPs                     []string
	rolledFrom, rolledTo           pgtype.Text
}

func (r *keyRow) dest() []any {
	return []any{&r.id, &r.userID, &r.name, &r.digest, &r.allProperties,
		&r.createdAt, &r.revokedAt, &r.lastUsed, &r.scope,
		&r.lastUsedIP, &r.expiresAt, &r.readOnly, &r.allowedIPs, &r.rolledFrom, &r.rolledTo}
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
		ExpiresAt:     fromTS(r.expiresAt),
		ReadOnly:      r.readOnly.Bool,
		AllowedIPs:    make([]netip.Prefix, 0, len(r.allowedIPs)),
		RolledFrom:    r.rolledFrom.String,
		RolledTo:      r.rolledTo.String,
	}
	if k.PropertyIDs == nil {
		k.PropertyIDs = []string{}
	}
	// PostgreSQL wrote both, so both parse.
	k.LastUsedIP, _ = netip.ParseAddr(r.lastUsedIP.String)
	for _, p := range r.allowedIPs {
		if p, err := netip.ParsePrefix(p); err == nil {
			k.AllowedIPs = append(k.AllowedIPs, p)
		}
	}
	return k
}

// cidrs are a key's networks as PostgreSQL cidr values: masked, in order.
func cidrs(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Masked().String()
	}
	return out
}

// inet is an address for an inet column, NULL when unknown.
func inet(a netip.Addr) *string {
	if !a.IsValid() {
		return nil
	}
	s := a.String()
	return &s
}

// nullID is an id for a uuid column, NULL when empty.
func nullID(id string) *string {
	if id == "" {
		return nil
	}
	return &id
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
			INSERT INTO api_keys (id, user_id, name, digest, all_properties, created_at, revoked_at, last_used_at,
				last_used_ip, expires_at, read_only, allowed_ips, rolled_from, rolled_to)
			SELECT $1, u.id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM users u WHERE u.id = $2`,
			k.ID, k.UserID, k.Name, digest(k.Digest), k.AllProperties,
			ts(k.CreatedAt), nullTS(k.RevokedAt), nullTS(k.LastUsedAt),
			inet(k.LastUsedIP), nullTS(k.ExpiresAt), k.ReadOnly, cidrs(k.AllowedIPs), nullID(k.RolledFrom), nullID(k.RolledTo))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		if err := writeScope(ctx, tx, k.ID, k.AllProperties, scope); err != nil {
			return err
		}
		return recordEvent(ctx, tx)
	})
}

// writeScope stores the chosen scope of a key that has none yet. Every
// id must name an existing property, even for an all-properties key,
// which then keeps none of them (as in the reference store).
func writeScope(ctx context.Context, tx pgx.Tx, keyID string, allProperties bool, scope []string) error {
	if len(scope) == 0 {
		return nil
	}
	for _, id := range scope {
		if !store.ValidID(id) {
			return store.ErrNotFound
		}
	}
	var n int64
	var err error
	if allProperties {
		err = tx.QueryRow(ctx, `SELECT count(*) FROM properties WHERE id = ANY($1::uuid[])`, scope).Scan(&n)
	} else {
		// Properties deleted concurrently fail the foreign key check.
		var tag pgconn.CommandTag
		tag, err = tx.Exec(ctx, `
			INSERT INTO api_key_properties (api_key_id, property_id)
			SELECT $1, p.id FROM properties p WHERE p.id = ANY($2::uuid[])`, keyID, scope)
		n = tag.RowsAffected()
	}
	if err != nil {
		return err
	}
	if n != int64(len(scope)) {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) UpdateAPIKey(ctx context.Context, k store.APIKey, now time.Time) (out store.APIKey, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.APIKey{}, err
	}
	if !store.ValidID(k.UserID) || !store.ValidID(k.ID) {
		return store.APIKey{}, store.ErrNotFound
	}
	scope := slices.Clone(k.PropertyIDs)
	slices.Sort(scope)
	scope = slices.Compact(scope)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// The row lock serializes the check with a concurrent revocation.
		var revoked, expires pgtype.Timestamptz
		err := tx.QueryRow(ctx, `SELECT revoked_at, expires_at FROM api_keys WHERE id = $1 AND user_id = $2 FOR UPDATE`,
			k.ID, k.UserID).Scan(&revoked, &expires)
		if err != nil {
			return err
		}
		if !(store.APIKey{RevokedAt: fromTS(revoked), ExpiresAt: fromTS(expires)}).Active(now) {
			return store.ErrKeyInactive
		}
		if _, err := tx.Exec(ctx, `
			UPDATE api_keys SET name = $2, all_properties = $3, read_only = $4, allowed_ips = $5, expires_at = $6
			WHERE id = $1`,
			k.ID, k.Name, k.AllProperties, k.ReadOnly, cidrs(k.AllowedIPs), nullTS(k.ExpiresAt)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM api_key_properties WHERE api_key_id = $1`, k.ID); err != nil {
			return err
		}
		if err := writeScope(ctx, tx, k.ID, k.AllProperties, scope); err != nil {
			return err
		}
		if err := recordEvent(ctx, tx); err != nil {
			return err
		}
		out, err = scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys k WHERE k.id = $1`, k.ID))
		return err
	})
	return out, err
}

func (s *Store) RollAPIKey(ctx context.Context, userID, id string, next store.APIKey, expiresAt, now time.Time) (out store.APIKey, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.APIKey{}, err
	}
	if !store.ValidID(userID) || !store.ValidID(id) {
		return store.APIKey{}, store.ErrNotFound
	}
	if !store.ValidID(next.ID) {
		return store.APIKey{}, invalidID(next.ID)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys k WHERE k.id = $1 AND k.user_id = $2 FOR UPDATE`,
			id, userID))
		if err != nil {
			return err
		}
		if !old.Active(now) || old.RolledTo != "" {
			return store.ErrKeyInactive
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO api_keys (id, user_id, name, digest, all_properties, created_at,
				expires_at, read_only, allowed_ips, rolled_from)
			SELECT $2, user_id, name, $3, all_properties, $4, expires_at, read_only, allowed_ips, id
			FROM api_keys WHERE id = $1`,
			id, next.ID, digest(next.Digest), ts(next.CreatedAt)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO api_key_properties (api_key_id, property_id)
			SELECT $2, property_id FROM api_key_properties WHERE api_key_id = $1`, id, next.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE api_keys SET rolled_to = $2, expires_at = least(expires_at, $3)
			WHERE id = $1`, id, next.ID, ts(expiresAt)); err != nil {
			return err
		}
		if err := recordEvent(ctx, tx); err != nil {
			return err
		}
		out, err = scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys k WHERE k.id = $1`, next.ID))
		return err
	})
	return out, err
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
	// Committed before it returns: every statement that starts later sees
	// the key revoked. Only the first revocation is an event.
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var revoked pgtype.Timestamptz
		err := tx.QueryRow(ctx, `SELECT revoked_at FROM api_keys WHERE id = $1 AND user_id = $2 FOR UPDATE`,
			id, userID).Scan(&revoked)
		if err != nil {
			return err
		}
		if !revoked.Valid {
			if err := recordEvent(ctx, tx); err != nil {
				return err
			}
		}
		k, err = scanKey(tx.QueryRow(ctx, `
			UPDATE api_keys AS k SET revoked_at = coalesce(k.revoked_at, $2)
			WHERE k.id = $1
			RETURNING `+keyColumns, id, nullTS(at)))
		return err
	})
	if err != nil {
		return store.APIKey{}, err
	}
	return k, nil
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
// It sets last_used_at and last_used_ip and nothing else: the change
// notification trigger of api_keys (migration 00005) leaves exactly these
// two columns silent, as recording a use narrows no key.
//
// The sub-select locks the rows to change in id order before any is
// updated, so two calls covering the same keys cannot deadlock, and it
// skips rows whose last use is already as late; the outer condition is
// checked again on the row version the lock waited for.
func (s *Store) RecordKeyUse(ctx context.Context, uses map[string]store.KeyUse) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	ids := make([]string, 0, len(uses))
	times := make([]time.Time, 0, len(uses))
	ips := make([]*string, 0, len(uses))
	for id, use := range uses {
		if !store.ValidID(id) || use.At.IsZero() {
			continue
		}
		ids = append(ids, id)
		times = append(times, ts(use.At))
		ips = append(ips, inet(use.IP))
	}
	if len(ids) == 0 {
		return nil
	}
	_, err = s.pool.Exec(ctx, `
		UPDATE api_keys AS k SET last_used_at = l.at, last_used_ip = l.ip
		FROM (
			SELECT a.id, u.at, u.ip
			FROM unnest($1::uuid[], $2::timestamptz[], $3::inet[]) AS u(id, at, ip)
			JOIN api_keys a ON a.id = u.id
			WHERE a.last_used_at IS NULL OR a.last_used_at < u.at
			ORDER BY a.id
			FOR NO KEY UPDATE OF a
		) AS l
		WHERE k.id = l.id AND (k.last_used_at IS NULL OR k.last_used_at < l.at)`,
		ids, times, ips)
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
