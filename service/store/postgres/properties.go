package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keygate/keygate/service/store"
)

// propertyColumns are the columns propertyRow reads, from properties
// aliased p.
const propertyColumns = `p.id, p.title, p.currency, p.created_at, p.updated_at`

// propertyRow receives propertyColumns; nullable like keyRow.
type propertyRow struct {
	id, title, currency  pgtype.Text
	createdAt, updatedAt pgtype.Timestamptz
}

func (r *propertyRow) dest() []any {
	return []any{&r.id, &r.title, &r.currency, &r.createdAt, &r.updatedAt}
}

func (r *propertyRow) property() store.Property {
	return store.Property{
		ID:        r.id.String,
		Title:     r.title.String,
		Currency:  r.currency.String,
		CreatedAt: fromTS(r.createdAt),
		UpdatedAt: fromTS(r.updatedAt),
	}
}

func scanProperty(row pgx.Row) (store.Property, error) {
	var r propertyRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.Property{}, err
	}
	return r.property(), nil
}

func (s *Store) CreateProperty(ctx context.Context, p store.Property, ownerID string) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !store.ValidID(ownerID) {
		return store.ErrNotFound
	}
	if !store.ValidID(p.ID) {
		return invalidID(p.ID)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Selecting the owner first reports a missing owner before a taken
		// id, as the reference store does.
		tag, err := tx.Exec(ctx, `
			INSERT INTO properties (id, title, currency, created_at, updated_at)
			SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT FROM users WHERE id = $6)`,
			p.ID, p.Title, p.Currency, ts(p.CreatedAt), ts(p.UpdatedAt), ownerID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO property_users (property_id, user_id, role) VALUES ($1, $2, 'owner')`,
			p.ID, ownerID)
		return err
	})
}

func (s *Store) GetProperty(ctx context.Context, id string) (p store.Property, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.Property{}, err
	}
	if !store.ValidID(id) {
		return store.Property{}, store.ErrNotFound
	}
	return scanProperty(s.pool.QueryRow(ctx, `SELECT `+propertyColumns+` FROM properties p WHERE p.id = $1`, id))
}

func (s *Store) ListProperties(ctx context.Context, q store.PropertyQuery) (props []store.Property, total int, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	props = []store.Property{}
	if !store.ValidID(q.UserID) {
		return props, 0, nil
	}
	// NULL for no id filter; otherwise the ids that can name a property
	// (the others match nothing, as in the reference store).
	var ids []string
	if q.OnlyIDs {
		ids = []string{}
		for _, id := range q.IDs {
			if store.ValidID(id) {
				ids = append(ids, id)
			}
		}
	}
	// Titles order byte-wise (COLLATE "C"), as Go compares strings. One
	// statement, hence one snapshot, for the total and the page.
	rows, err := s.pool.Query(ctx, `
		WITH selected AS (
			SELECT p.* FROM properties p
			JOIN property_users pu ON pu.property_id = p.id AND pu.user_id = $1
			WHERE $2::uuid[] IS NULL OR p.id = ANY($2::uuid[])
		)
		SELECT n.total, `+propertyColumns+`
		FROM (SELECT count(*) AS total FROM selected) n
		LEFT JOIN LATERAL (
			SELECT * FROM selected
			ORDER BY title COLLATE "C", id
			LIMIT $3 OFFSET $4
		) p ON true
		ORDER BY p.title COLLATE "C", p.id`,
		q.UserID, ids, pageLimit(q.Limit), max(q.Offset, 0))
	if err != nil {
		return nil, 0, err
	}
	var r propertyRow
	_, err = pgx.ForEachRow(rows, append([]any{&total}, r.dest()...), func() error {
		if r.id.Valid {
			props = append(props, r.property())
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return props, total, nil
}

func (s *Store) UpdateProperty(ctx context.Context, p store.Property) (_ store.Property, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.Property{}, err
	}
	if !store.ValidID(p.ID) {
		return store.Property{}, store.ErrNotFound
	}
	return scanProperty(s.pool.QueryRow(ctx, `
		UPDATE properties AS p SET title = $2, currency = $3, updated_at = $4
		WHERE p.id = $1
		RETURNING `+propertyColumns, p.ID, p.Title, p.Currency, ts(p.UpdatedAt)))
}

func (s *Store) DeleteProperty(ctx context.Context, id string) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !store.ValidID(id) {
		return store.ErrNotFound
	}
	// The foreign keys cascade: the property's access rows and its place
	// in every key's scope go in the same statement.
	tag, err := s.pool.Exec(ctx, `DELETE FROM properties WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) HasPropertyAccess(ctx context.Context, userID, propertyID string) (ok bool, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if !store.ValidID(userID) || !store.ValidID(propertyID) {
		return false, nil
	}
	err = s.pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT FROM property_users WHERE property_id = $1 AND user_id = $2)`,
		propertyID, userID).Scan(&ok)
	return ok, err
}
