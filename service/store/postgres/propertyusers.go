package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keygate/keygate/service/store"
)

// propertyUserColumns are the columns propertyUserRow reads, from
// property_users aliased pu left-joined with users aliased u (no user
// while an invitation is pending).
const propertyUserColumns = `pu.id, pu.property_id, pu.user_id, coalesce(u.email, pu.invite_email),
	u.name, pu.role, pu.overrides, pu.created_at`

// propertyUserFrom is the FROM clause propertyUserColumns read.
const propertyUserFrom = `property_users pu LEFT JOIN users u ON u.id = pu.user_id`

// propertyUserRow receives propertyUserColumns; nullable like keyRow.
type propertyUserRow struct {
	id, propertyID, userID, email, name, role pgtype.Text
	overrides                                 []byte
	createdAt                                 pgtype.Timestamptz
}

func (r *propertyUserRow) dest() []any {
	return []any{&r.id, &r.propertyID, &r.userID, &r.email, &r.name, &r.role, &r.overrides, &r.createdAt}
}

func (r *propertyUserRow) propertyUser() store.PropertyUser {
	return store.PropertyUser{
		ID:         r.id.String,
		PropertyID: r.propertyID.String,
		UserID:     r.userID.String,
		UserEmail:  r.email.String,
		UserName:   r.name.String,
		Role:       store.Role(r.role.String),
		Overrides:  r.overrides,
		CreatedAt:  fromTS(r.createdAt),
	}
}

func scanPropertyUser(row pgx.Row) (store.PropertyUser, error) {
	var r propertyUserRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.PropertyUser{}, err
	}
	return r.propertyUser(), nil
}

func getPropertyUser(ctx context.Context, q pgx.Tx, id string) (store.PropertyUser, error) {
	return scanPropertyUser(q.QueryRow(ctx, `SELECT `+propertyUserColumns+` FROM `+propertyUserFrom+` WHERE pu.id = $1`, id))
}

// overridesArg is the jsonb argument of overrides: NULL when there are none.
func overridesArg(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// validRole refuses roles the store does not know before the check
// constraint of property_users does.
func validRole(r store.Role) error {
	if r != store.RoleOwner && r != store.RoleUser {
		return fmt.Errorf("postgres: unknown role %q", r)
	}
	return nil
}

func (s *Store) PropertyRole(ctx context.Context, userID, propertyID string) (_ store.Role, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if !store.ValidID(userID) || !store.ValidID(propertyID) {
		return "", nil
	}
	var role string
	err = s.pool.QueryRow(ctx, `
		SELECT role FROM property_access WHERE property_id = $1 AND user_id = $2`,
		propertyID, userID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return store.Role(role), err
}

func (s *Store) AddPropertyUser(ctx context.Context, pu store.PropertyUser) (out store.PropertyUser, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.PropertyUser{}, err
	}
	if err := validRole(pu.Role); err != nil {
		return store.PropertyUser{}, err
	}
	if !store.ValidID(pu.PropertyID) || (pu.UserID != "" && !store.ValidID(pu.UserID)) || (pu.UserID == "" && pu.UserEmail == "") {
		return store.PropertyUser{}, store.ErrNotFound
	}
	if !store.ValidID(pu.ID) {
		return store.PropertyUser{}, invalidID(pu.ID)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// Selecting the property and the user first reports a missing one
		// before a taken id or an existing access; the foreign keys still
		// guard against a concurrent delete. Without a user id, the account
		// with the email, if any, or else a pending invitation.
		var tag pgconn.CommandTag
		var err error
		if pu.UserID != "" {
			tag, err = tx.Exec(ctx, `
				INSERT INTO property_users (id, property_id, user_id, role, overrides, created_at)
				SELECT $1, p.id, u.id, $4, $5::jsonb, $6 FROM properties p, users u
				WHERE p.id = $2 AND u.id = $3`,
				pu.ID, pu.PropertyID, pu.UserID, string(pu.Role), overridesArg(pu.Overrides), ts(pu.CreatedAt))
		} else {
			tag, err = tx.Exec(ctx, `
				INSERT INTO property_users (id, property_id, user_id, invite_email, role, overrides, created_at)
				SELECT $1, p.id, u.id, CASE WHEN u.id IS NULL THEN $3 END, $4, $5::jsonb, $6
				FROM properties p LEFT JOIN users u ON lower(u.email) = lower($3)
				WHERE p.id = $2`,
				pu.ID, pu.PropertyID, pu.UserEmail, string(pu.Role), overridesArg(pu.Overrides), ts(pu.CreatedAt))
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		if err := recordEvent(ctx, tx); err != nil {
			return err
		}
		out, err = getPropertyUser(ctx, tx, pu.ID)
		return err
	})
	if err != nil {
		return store.PropertyUser{}, err
	}
	return out, nil
}

func (s *Store) GetPropertyUser(ctx context.Context, id string) (_ store.PropertyUser, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.PropertyUser{}, err
	}
	if !store.ValidID(id) {
		return store.PropertyUser{}, store.ErrNotFound
	}
	return scanPropertyUser(s.pool.QueryRow(ctx, `SELECT `+propertyUserColumns+` FROM `+propertyUserFrom+` WHERE pu.id = $1`, id))
}

func (s *Store) ListPropertyUsers(ctx context.Context, propertyID string, offset, limit int) (list []store.PropertyUser, total int, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if !store.ValidID(propertyID) {
		return nil, 0, store.ErrNotFound
	}
	// The outer join tells a missing property (no row) from a page without
	// records (a row of NULLs), in one snapshot with the total.
	rows, err := s.pool.Query(ctx, `
		SELECT (SELECT count(*) FROM property_users WHERE property_id = p.id), `+propertyUserColumns+`
		FROM properties p
		LEFT JOIN LATERAL (
			SELECT * FROM property_users o WHERE o.property_id = p.id
			ORDER BY o.created_at, o.id LIMIT $2 OFFSET $3
		) pu ON true
		LEFT JOIN users u ON u.id = pu.user_id
		WHERE p.id = $1
		ORDER BY pu.created_at, pu.id`, propertyID, pageLimit(limit), max(offset, 0))
	if err != nil {
		return nil, 0, err
	}
	found := false
	list = []store.PropertyUser{}
	var r propertyUserRow
	_, err = pgx.ForEachRow(rows, append([]any{&total}, r.dest()...), func() error {
		found = true
		if r.id.Valid {
			list = append(list, r.propertyUser())
		}
		r = propertyUserRow{} // the next row must not share slices with this one
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if !found {
		return nil, 0, store.ErrNotFound
	}
	return list, total, nil
}

// lockPropertyUser starts a change of a property's access: it locks the
// property row of the record id, then reads the record's role and the
// number of owners the property has. Every change that may take away an
// owner goes through it, so such changes to one property are serialized
// and each counts the owners the previous one left.
// A pending invitation is never a property's last owner.
func lockPropertyUser(ctx context.Context, tx pgx.Tx, id string) (role store.Role, owners int, err error) {
	// A record never moves to another property, so the property found
	// before the lock is still the record's after it.
	var locked string
	err = tx.QueryRow(ctx, `
		SELECT id FROM properties
		WHERE id = (SELECT property_id FROM property_users WHERE id = $1)
		FOR NO KEY UPDATE`, id).Scan(&locked)
	if err != nil {
		return "", 0, err // no rows: the record or its property is gone
	}
	// Read once the lock is held: the record may have changed or gone
	// while this transaction waited.
	var r string
	var pending bool
	err = tx.QueryRow(ctx, `
		SELECT pu.role, pu.user_id IS NULL,
		       (SELECT count(*) FROM property_users o
		        WHERE o.property_id = pu.property_id AND o.role = 'owner' AND o.user_id IS NOT NULL)
		FROM property_users pu WHERE pu.id = $1`, id).Scan(&r, &pending, &owners)
	if err != nil {
		return "", 0, err
	}
	if pending {
		owners++ // removing or demoting it takes no owner away
	}
	return store.Role(r), owners, nil
}

func (s *Store) UpdatePropertyUser(ctx context.Context, id string, role store.Role, overrides []byte) (pu store.PropertyUser, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.PropertyUser{}, err
	}
	if role != "" {
		if err := validRole(role); err != nil {
			return store.PropertyUser{}, err
		}
	}
	if !store.ValidID(id) {
		return store.PropertyUser{}, store.ErrNotFound
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		current, owners, err := lockPropertyUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if role != "" && current != role && current == store.RoleOwner && owners <= 1 {
			return store.ErrLastOwner
		}
		if _, err := tx.Exec(ctx, `
			UPDATE property_users SET role = coalesce($2, role), overrides = coalesce($3::jsonb, overrides)
			WHERE id = $1`, id, pgtype.Text{String: string(role), Valid: role != ""}, overridesArg(overrides)); err != nil {
			return err
		}
		if err := recordEvent(ctx, tx); err != nil {
			return err
		}
		pu, err = getPropertyUser(ctx, tx, id)
		return err
	})
	if err != nil {
		return store.PropertyUser{}, err
	}
	return pu, nil
}

func (s *Store) RemovePropertyUser(ctx context.Context, id string) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !store.ValidID(id) {
		return store.ErrNotFound
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		current, owners, err := lockPropertyUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if current == store.RoleOwner && owners <= 1 {
			return store.ErrLastOwner
		}
		// The event first, while an owner who leaves still owns it.
		if err := recordEvent(ctx, tx); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM property_users WHERE id = $1`, id)
		return err
	})
}
