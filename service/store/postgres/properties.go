package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keygate/keygate/service/store"
)

// propertyColumns are the columns propertyRow reads, from properties
// aliased p.
const propertyColumns = `p.id, p.title, p.currency, p.email, p.phone, p.zip_code,
	p.country, p.state, p.city, p.address, p.longitude, p.latitude, p.timezone,
	p.property_type, p.logo_url, p.website, p.facilities, p.settings, p.content,
	p.is_active, p.created_at, p.updated_at`

// propertyRow receives propertyColumns; nullable like keyRow.
type propertyRow struct {
	id, title, currency, email, phone, zipCode  pgtype.Text
	country, state, city, address               pgtype.Text
	longitude, latitude, timezone, propertyType pgtype.Text
	logoURL, website                            pgtype.Text
	facilities                                  []string
	settings, content                           []byte
	isActive                                    pgtype.Bool
	createdAt, updatedAt                        pgtype.Timestamptz
}

func (r *propertyRow) dest() []any {
	return []any{&r.id, &r.title, &r.currency, &r.email, &r.phone, &r.zipCode,
		&r.country, &r.state, &r.city, &r.address, &r.longitude, &r.latitude, &r.timezone,
		&r.propertyType, &r.logoURL, &r.website, &r.facilities, &r.settings, &r.content,
		&r.isActive, &r.createdAt, &r.updatedAt}
}

func (r *propertyRow) property() (store.Property, error) {
	settings, err := decodeSettings(r.settings)
	if err != nil {
		return store.Property{}, err
	}
	content, err := decodeContent(r.content)
	if err != nil {
		return store.Property{}, err
	}
	facilities := r.facilities
	if facilities == nil {
		facilities = []string{}
	}
	return store.Property{
		ID:           r.id.String,
		Title:        r.title.String,
		Currency:     r.currency.String,
		Email:        r.email.String,
		Phone:        r.phone.String,
		ZipCode:      r.zipCode.String,
		Country:      r.country.String,
		State:        r.state.String,
		City:         r.city.String,
		Address:      r.address.String,
		Longitude:    r.longitude.String,
		Latitude:     r.latitude.String,
		Timezone:     r.timezone.String,
		PropertyType: r.propertyType.String,
		LogoURL:      r.logoURL.String,
		Website:      r.website.String,
		Facilities:   facilities,
		Settings:     settings,
		Content:      content,
		IsActive:     r.isActive.Bool,
		CreatedAt:    fromTS(r.createdAt),
		UpdatedAt:    fromTS(r.updatedAt),
	}, nil
}

func scanProperty(row pgx.Row) (store.Property, error) {
	var r propertyRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.Property{}, err
	}
	return r.property()
}

// propertyArgs are the query arguments of the attributes UpdateProperty
// writes, in the order of propertyColumns from title to content.
func propertyArgs(p store.Property) ([]any, error) {
	settings, err := encodeSettings(p.Settings)
	if err != nil {
		return nil, err
	}
	content, err := encodeContent(p.Content)
	if err != nil {
		return nil, err
	}
	facilities := p.Facilities
	if facilities == nil {
		facilities = []string{}
	}
	return []any{p.Title, p.Currency, p.Email, p.Phone, p.ZipCode,
		p.Country, p.State, p.City, p.Address, p.Longitude, p.Latitude, p.Timezone,
		p.PropertyType, p.LogoURL, p.Website, facilities, settings, content}, nil
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
	if p.GroupID != "" && !store.ValidID(p.GroupID) {
		return store.ErrNotFound
	}
	attrs, err := propertyArgs(p)
	if err != nil {
		return err
	}
	args := append(append([]any{p.ID}, attrs...), p.IsActive, ts(p.CreatedAt), ts(p.UpdatedAt), ownerID)
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Selecting the owner first reports a missing owner before a taken
		// id, as the reference store does.
		tag, err := tx.Exec(ctx, `
			INSERT INTO properties (id, title, currency, email, phone, zip_code,
				country, state, city, address, longitude, latitude, timezone,
				property_type, logo_url, website, facilities, settings, content,
				is_active, created_at, updated_at)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
				$14, $15, $16, $17::uuid[], $18::jsonb, $19::jsonb, $20, $21, $22
			WHERE EXISTS (SELECT FROM users WHERE id = $23)`, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO property_users (id, property_id, user_id, role, created_at)
			VALUES ($1, $2, $3, 'owner', $4)`,
			store.NewID(), p.ID, ownerID, ts(p.CreatedAt))
		if err != nil {
			return err
		}
		if err := linkBaseGroup(ctx, tx, p.ID, p.GroupID, ownerID); err != nil {
			return err
		}
		return recordEvent(ctx, tx)
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

// propertyOrder returns the ORDER BY list of a property list, on columns of
// the given alias: by the key, reversed when desc, then always by id
// ascending. Titles order byte-wise (COLLATE "C"), as Go compares strings.
func propertyOrder(by store.PropertyOrder, desc bool, alias string) (string, error) {
	var key string
	switch by {
	case "", store.OrderByTitle:
		key = alias + `.title COLLATE "C"`
	case store.OrderByCreatedAt:
		key = alias + `.created_at`
	default:
		return "", fmt.Errorf("postgres: unknown property order %q", by)
	}
	if desc {
		key += " DESC"
	}
	return key + ", " + alias + ".id", nil
}

// validIDs returns the ids of list that can name a record, or nil for a
// nil list: NULL, no filter. The others match nothing, as in the
// reference store.
func validIDs(list []string) []string {
	if list == nil {
		return nil
	}
	ids := []string{}
	for _, id := range list {
		if store.ValidID(id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func (s *Store) ListProperties(ctx context.Context, q store.PropertyQuery) (props []store.Property, total int, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	inner, err := propertyOrder(q.OrderBy, q.Desc, "s")
	if err != nil {
		return nil, 0, err
	}
	outer, _ := propertyOrder(q.OrderBy, q.Desc, "p")
	props = []store.Property{}
	if !store.ValidID(q.UserID) {
		return props, 0, nil
	}
	var scope []string // NULL: no key scope
	if q.OnlyIDs {
		scope = validIDs(q.IDs)
		if scope == nil {
			scope = []string{}
		}
	}
	// The access, then the key scope, then the filters; the title filter
	// is a plain substring test, so the input is never a pattern. One
	// statement, hence one snapshot, for the total and the page.
	rows, err := s.pool.Query(ctx, `
		WITH selected AS (
			SELECT p.* FROM properties p
			JOIN property_access a ON a.property_id = p.id AND a.user_id = $1
			WHERE ($2::uuid[] IS NULL OR p.id = ANY($2::uuid[]))
			  AND ($3::uuid[] IS NULL OR p.id = ANY($3::uuid[]))
			  AND ($4::text = '' OR strpos(lower(p.title), lower($4::text)) > 0)
			  AND ($5::boolean IS NULL OR p.is_active = $5::boolean)
		)
		SELECT n.total, `+propertyColumns+`
		FROM (SELECT count(*) AS total FROM selected) n
		LEFT JOIN LATERAL (
			SELECT * FROM selected s
			ORDER BY `+inner+`
			LIMIT $6 OFFSET $7
		) p ON true
		ORDER BY `+outer,
		q.UserID, scope, validIDs(q.FilterIDs), q.TitleContains, q.IsActive,
		pageLimit(q.Limit), max(q.Offset, 0))
	if err != nil {
		return nil, 0, err
	}
	var r propertyRow
	_, err = pgx.ForEachRow(rows, append([]any{&total}, r.dest()...), func() error {
		if r.id.Valid {
			p, err := r.property()
			if err != nil {
				return err
			}
			props = append(props, p)
		}
		r = propertyRow{} // the next row must not share slices with this one
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return props, total, nil
}

func (s *Store) UpdateProperty(ctx context.Context, id string, apply func(*store.Property) error) (p store.Property, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.Property{}, err
	}
	if !store.ValidID(id) {
		return store.Property{}, store.ErrNotFound
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// The row lock serializes updates of one property: each applies
		// its change to what the previous one wrote.
		old, err := scanProperty(tx.QueryRow(ctx, `SELECT `+propertyColumns+` FROM properties p WHERE p.id = $1 FOR NO KEY UPDATE`, id))
		if err != nil {
			return err
		}
		p = old
		if err := apply(&p); err != nil {
			return callerError{err}
		}
		attrs, err := propertyArgs(p)
		if err != nil {
			return err
		}
		// Every attribute but id, is_active and created_at.
		args := append(append([]any{id}, attrs...), ts(p.UpdatedAt))
		p, err = scanProperty(tx.QueryRow(ctx, `
			UPDATE properties AS p SET
				title = $2, currency = $3, email = $4, phone = $5, zip_code = $6,
				country = $7, state = $8, city = $9, address = $10, longitude = $11,
				latitude = $12, timezone = $13, property_type = $14, logo_url = $15,
				website = $16, facilities = $17::uuid[], settings = $18::jsonb,
				content = $19::jsonb, updated_at = $20
			WHERE p.id = $1
			RETURNING `+propertyColumns, args...))
		if err != nil {
			return err
		}
		return recordEvent(ctx, tx) // after apply, which may have filled in its changes
	})
	if err != nil {
		return store.Property{}, err
	}
	return p, nil
}

func (s *Store) DeleteProperty(ctx context.Context, id string) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !store.ValidID(id) {
		return store.ErrNotFound
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// The event first, while the owners it goes to still own it.
		if err := recordEvent(ctx, tx); err != nil {
			return err
		}
		// The foreign keys cascade: the property's access rows and its place
		// in every key's scope go in the same statement.
		tag, err := tx.Exec(ctx, `DELETE FROM properties WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}
