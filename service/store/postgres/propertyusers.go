package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keygate/keygate/service/store"
)

// propertyUserColumns are the columns propertyUserRow reads, from
// property_users aliased pu joined with users aliased u.
const propertyUserColumns = `pu.id, pu.property_id, pu.user_id, u.email, pu.role, pu.created_at`

// propertyUserRow receives propertyUserColumns; nullable like keyRow.
type propertyUserRow struct {
	id, propertyID, userID, email, role pgtype.Text
	createdAt                           pgtype.Timestamptz
}

func (r *propertyUserRow) dest() []any {
	return []any{&r.id, &r.propertyID, &r.userID, &r.email, &r.role, &r.createdAt}
}

func (r *propertyUserRow) propertyUser() store.PropertyUser {
	return store.PropertyUser{
		ID:         r.id.String,
		PropertyID: r.propertyID.String,
		UserID:     r.userID.String,
		UserEmail:  r.email.String,
		Role:       store.Role(r.role.String),
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
		SELECT role FROM property_users WHERE property_id = $1 AND user_id = $2`,
		propertyID, userID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return store.Role(role), err
}

func (s *Store) AddPropertyUser(ctx context.Context, pu store.PropertyUser) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validRole(pu.Role); err != nil {
		return err
	}
	if !store.ValidID(pu.PropertyID) || !store.ValidID(pu.UserID) {
		return store.ErrNotFound
	}
	if !store.ValidID(pu.ID) {
		return invalidID(pu.ID)
	}
	// Selecting the property and the user first reports a missing one
	// before a taken id or an existing access; the foreign keys still
	// guard against a concurrent delete.
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO property_users (id, property_id, user_id, role, created_at)
		SELECT $1, p.id, u.id, $4, $5 FROM properties p, users u
		WHERE p.id = $2 AND u.id = $3`,
		pu.ID, pu.PropertyID, pu.UserID, string(pu.Role), ts(pu.CreatedAt))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) GetPropertyUser(ctx context.Context, id string) (_ store.PropertyUser, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.PropertyUser{}, err
	}
	if !store.ValidID(id) {
		return store.PropertyUser{}, store.ErrNotFound
	}
	return scanPropertyUser(s.pool.QueryRow(ctx, `
		SELECT `+propertyUserColumns+`
		FROM property_users pu JOIN users u ON u.id = pu.user_id
		WHERE pu.id = $1`, id))
}

func (s *Store) ListPropertyUsers(ctx context.Context, propertyID string) (list []store.PropertyUser, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !store.ValidID(propertyID) {
		return nil, store.ErrNotFound
	}
	// The outer join tells a missing property (no row) from one without
	// users (a row of NULLs), in one snapshot.
	rows, err := s.pool.Query(ctx, `
		SELECT `+propertyUserColumns+`
		FROM properties p
		LEFT JOIN (property_users pu JOIN users u ON u.id = pu.user_id) ON pu.property_id = p.id
		WHERE p.id = $1
		ORDER BY pu.created_at, pu.id`, propertyID)
	if err != nil {
		return nil, err
	}
	found := false
	list = []store.PropertyUser{}
	var r propertyUserRow
	_, err = pgx.ForEachRow(rows, r.dest(), func() error {
		found = true
		if r.id.Valid {
			list = append(list, r.propertyUser())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, store.ErrNotFound
	}
	return list, nil
}

// lockPropertyUser starts a change of a property's access: it locks the
// property row of the record id, then reads the record's role and the
// number of owners the property has. Every change that may take away an
// owner goes through it, so such changes to one property are serialized
// and each counts the owners the previous one left.
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
	err = tx.QueryRow(ctx, `
		SELECT pu.role, (SELECT count(*) FROM property_users o
		                 WHERE o.property_id = pu.property_id AND o.role = 'owner')
		FROM property_users pu WHERE pu.id = $1`, id).Scan(&r, &owners)
	if err != nil {
		return "", 0, err
	}
	return store.Role(r), owners, nil
}

func (s *Store) SetPropertyUserRole(ctx context.Context, id string, role store.Role) (pu store.PropertyUser, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.PropertyUser{}, err
	}
	if err := validRole(role); err != nil {
		return store.PropertyUser{}, err
	}
	if !store.ValidID(id) {
		return store.PropertyUser{}, store.ErrNotFound
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		current, owners, err := lockPropertyUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if current != role {
			if current == store.RoleOwner && owners <= 1 {
				return store.ErrLastOwner
			}
			if _, err := tx.Exec(ctx, `UPDATE property_users SET role = $2 WHERE id = $1`, id, string(role)); err != nil {
				return err
			}
		}
		pu, err = scanPropertyUser(tx.QueryRow(ctx, `
			SELECT `+propertyUserColumns+`
			FROM property_users pu JOIN users u ON u.id = pu.user_id
			WHERE pu.id = $1`, id))
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
		_, err = tx.Exec(ctx, `DELETE FROM property_users WHERE id = $1`, id)
		return err
	})
}
