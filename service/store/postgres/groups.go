package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keygate/keygate/service/store"
)

const groupColumns = `g.id, g.title, g.default_of, g.created_at`

func scanGroup(row pgx.Row) (store.Group, error) {
	var g store.Group
	var defaultOf pgtype.Text
	if err := row.Scan(&g.ID, &g.Title, &defaultOf, &g.CreatedAt); err != nil {
		return store.Group{}, err
	}
	g.DefaultOf, g.CreatedAt = defaultOf.String, g.CreatedAt.UTC()
	return g, nil
}

// insertGroup stores a group with ownerID as its owner.
func insertGroup(ctx context.Context, tx pgx.Tx, g store.Group, ownerID string) error {
	defaultOf := pgtype.Text{String: g.DefaultOf, Valid: g.DefaultOf != ""}
	tag, err := tx.Exec(ctx, `
		INSERT INTO groups (id, title, default_of, created_at)
		SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT FROM users WHERE id = $5)`,
		g.ID, g.Title, defaultOf, ts(g.CreatedAt), ownerID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO group_users (id, group_id, user_id, role, created_at)
		VALUES ($1, $2, $3, 'owner', $4)`, store.NewID(), g.ID, ownerID, ts(g.CreatedAt))
	return err
}

// createDefaultGroup gives a new user their default group, and turns the
// pending group invitations of their email into memberships.
func createDefaultGroup(ctx context.Context, tx pgx.Tx, u store.User) error {
	g := store.Group{ID: store.NewID(), Title: store.DefaultGroupTitle, DefaultOf: u.ID, CreatedAt: u.CreatedAt}
	if err := insertGroup(ctx, tx, g, u.ID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		UPDATE group_users SET user_id = $1, invite_email = NULL
		WHERE user_id IS NULL AND lower(invite_email) = lower($2)`, u.ID, u.Email)
	return err
}

// linkBaseGroup puts a new property in groupID, which ownerID must own
// (else ErrNotFound), or, for "", in ownerID's default group if they have
// one.
func linkBaseGroup(ctx context.Context, tx pgx.Tx, propertyID, groupID, ownerID string) error {
	if groupID == "" {
		_, err := tx.Exec(ctx, `
			INSERT INTO group_properties (group_id, property_id)
			SELECT id, $1 FROM groups WHERE default_of = $2`, propertyID, ownerID)
		return err
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO group_properties (group_id, property_id)
		SELECT group_id, $1 FROM group_users
		WHERE group_id = $2 AND user_id = $3 AND role = 'owner'`, propertyID, groupID, ownerID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) CreateGroup(ctx context.Context, g store.Group, ownerID string) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !store.ValidID(ownerID) {
		return store.ErrNotFound
	}
	if !store.ValidID(g.ID) {
		return invalidID(g.ID)
	}
	g.DefaultOf = "" // default groups come with accounts only
	return s.inTx(ctx, func(tx pgx.Tx) error { return insertGroup(ctx, tx, g, ownerID) })
}

func (s *Store) GetGroup(ctx context.Context, id string) (_ store.Group, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.Group{}, err
	}
	if !store.ValidID(id) {
		return store.Group{}, store.ErrNotFound
	}
	return scanGroup(s.pool.QueryRow(ctx, `SELECT `+groupColumns+` FROM groups g WHERE g.id = $1`, id))
}

func (s *Store) ListGroups(ctx context.Context, userID string, offset, limit int) (list []store.Group, total int, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	list = []store.Group{}
	if !store.ValidID(userID) {
		return list, 0, nil
	}
	rows, err := s.pool.Query(ctx, `
		WITH selected AS (
			SELECT g.* FROM groups g
			JOIN group_users gu ON gu.group_id = g.id AND gu.user_id = $1
		)
		SELECT n.total, `+groupColumns+`
		FROM (SELECT count(*) AS total FROM selected) n
		LEFT JOIN LATERAL (
			SELECT * FROM selected s ORDER BY s.title COLLATE "C", s.id LIMIT $2 OFFSET $3
		) g ON true
		ORDER BY g.title COLLATE "C", g.id`, userID, pageLimit(limit), max(offset, 0))
	if err != nil {
		return nil, 0, err
	}
	var id, title, defaultOf pgtype.Text
	var createdAt pgtype.Timestamptz
	_, err = pgx.ForEachRow(rows, []any{&total, &id, &title, &defaultOf, &createdAt}, func() error {
		if id.Valid {
			list = append(list, store.Group{ID: id.String, Title: title.String, DefaultOf: defaultOf.String, CreatedAt: fromTS(createdAt)})
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return list, total, nil
}

func (s *Store) UpdateGroup(ctx context.Context, id, title string) (_ store.Group, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.Group{}, err
	}
	if !store.ValidID(id) {
		return store.Group{}, store.ErrNotFound
	}
	return scanGroup(s.pool.QueryRow(ctx, `UPDATE groups AS g SET title = $2 WHERE g.id = $1 RETURNING `+groupColumns, id, title))
}

func (s *Store) DeleteGroup(ctx context.Context, id string) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !store.ValidID(id) {
		return store.ErrNotFound
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// The row lock waits for links in flight (their foreign key check
		// shares it); properties are counted once it is held.
		var isDefault bool
		if err := tx.QueryRow(ctx, `SELECT default_of IS NOT NULL FROM groups WHERE id = $1 FOR UPDATE`, id).Scan(&isDefault); err != nil {
			return err
		}
		if isDefault {
			return store.ErrDefaultGroup
		}
		var linked bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM group_properties WHERE group_id = $1)`, id).Scan(&linked); err != nil {
			return err
		}
		if linked {
			return store.ErrGroupNotEmpty
		}
		_, err := tx.Exec(ctx, `DELETE FROM groups WHERE id = $1`, id)
		return err
	})
}

func (s *Store) GroupRole(ctx context.Context, userID, groupID string) (_ store.Role, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if !store.ValidID(userID) || !store.ValidID(groupID) {
		return "", nil
	}
	var role string
	err = s.pool.QueryRow(ctx, `SELECT role FROM group_users WHERE group_id = $1 AND user_id = $2`, groupID, userID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return store.Role(role), err
}

func (s *Store) GroupProperties(ctx context.Context, groupID string) (refs []store.Ref, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !store.ValidID(groupID) {
		return nil, store.ErrNotFound
	}
	rows, err := s.pool.Query(ctx, `
		SELECT p.id, p.title FROM groups g
		LEFT JOIN group_properties gp ON gp.group_id = g.id
		LEFT JOIN properties p ON p.id = gp.property_id
		WHERE g.id = $1
		ORDER BY p.title COLLATE "C", p.id`, groupID)
	if err != nil {
		return nil, err
	}
	found := false
	refs = []store.Ref{}
	var id, title pgtype.Text
	_, err = pgx.ForEachRow(rows, []any{&id, &title}, func() error {
		found = true
		if id.Valid {
			refs = append(refs, store.Ref{ID: id.String, Title: title.String})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, store.ErrNotFound
	}
	return refs, nil
}

func (s *Store) PropertyGroups(ctx context.Context, propertyIDs []string) (out map[string][]store.Ref, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out = map[string][]store.Ref{}
	ids := validIDs(propertyIDs)
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT p.id, g.id, g.title FROM properties p
		LEFT JOIN group_properties gp ON gp.property_id = p.id
		LEFT JOIN groups g ON g.id = gp.group_id
		WHERE p.id = ANY($1::uuid[])
		ORDER BY p.id, g.title COLLATE "C", g.id`, ids)
	if err != nil {
		return nil, err
	}
	var pid, gid, title pgtype.Text
	_, err = pgx.ForEachRow(rows, []any{&pid, &gid, &title}, func() error {
		if out[pid.String] == nil {
			out[pid.String] = []store.Ref{}
		}
		if gid.Valid {
			out[pid.String] = append(out[pid.String], store.Ref{ID: gid.String, Title: title.String})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) LinkProperty(ctx context.Context, groupID, propertyID string) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !store.ValidID(groupID) || !store.ValidID(propertyID) {
		return store.ErrNotFound
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Selecting both first reports a missing one before an existing
		// link; the foreign keys still guard against a concurrent delete.
		tag, err := tx.Exec(ctx, `
			INSERT INTO group_properties (group_id, property_id)
			SELECT g.id, p.id FROM groups g, properties p WHERE g.id = $1 AND p.id = $2`, groupID, propertyID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

func (s *Store) UnlinkProperty(ctx context.Context, groupID, propertyID string) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !store.ValidID(groupID) || !store.ValidID(propertyID) {
		return store.ErrNotFound
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// The property's row lock serializes unlinks of one property, so
		// each counts the groups the previous one left.
		var locked string
		if err := tx.QueryRow(ctx, `SELECT id FROM properties WHERE id = $1 FOR NO KEY UPDATE`, propertyID).Scan(&locked); err != nil {
			return err
		}
		var linked bool
		var groups int
		err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT FROM group_properties WHERE group_id = $1 AND property_id = $2),
			       (SELECT count(*) FROM group_properties WHERE property_id = $2)`, groupID, propertyID).Scan(&linked, &groups)
		if err != nil {
			return err
		}
		if !linked {
			return store.ErrNotFound
		}
		if groups <= 1 {
			return store.ErrLastGroup
		}
		_, err = tx.Exec(ctx, `DELETE FROM group_properties WHERE group_id = $1 AND property_id = $2`, groupID, propertyID)
		return err
	})
}

// groupUserColumns are the columns groupUserRow reads, from group_users
// aliased gu left-joined with users aliased u.
const groupUserColumns = `gu.id, gu.group_id, gu.user_id, coalesce(u.email, gu.invite_email),
	u.name, gu.role, gu.overrides, gu.created_at`

const groupUserFrom = `group_users gu LEFT JOIN users u ON u.id = gu.user_id`

type groupUserRow struct {
	id, groupID, userID, email, name, role pgtype.Text
	overrides                              []byte
	createdAt                              pgtype.Timestamptz
}

func (r *groupUserRow) dest() []any {
	return []any{&r.id, &r.groupID, &r.userID, &r.email, &r.name, &r.role, &r.overrides, &r.createdAt}
}

func (r *groupUserRow) groupUser() store.GroupUser {
	return store.GroupUser{
		ID:        r.id.String,
		GroupID:   r.groupID.String,
		UserID:    r.userID.String,
		UserEmail: r.email.String,
		UserName:  r.name.String,
		Role:      store.Role(r.role.String),
		Overrides: r.overrides,
		CreatedAt: fromTS(r.createdAt),
	}
}

func scanGroupUser(row pgx.Row) (store.GroupUser, error) {
	var r groupUserRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.GroupUser{}, err
	}
	return r.groupUser(), nil
}

func (s *Store) AddGroupUser(ctx context.Context, gu store.GroupUser) (out store.GroupUser, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.GroupUser{}, err
	}
	if err := validRole(gu.Role); err != nil {
		return store.GroupUser{}, err
	}
	if !store.ValidID(gu.GroupID) || (gu.UserID != "" && !store.ValidID(gu.UserID)) || (gu.UserID == "" && gu.UserEmail == "") {
		return store.GroupUser{}, store.ErrNotFound
	}
	if !store.ValidID(gu.ID) {
		return store.GroupUser{}, invalidID(gu.ID)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var tag pgconn.CommandTag
		var err error
		if gu.UserID != "" {
			tag, err = tx.Exec(ctx, `
				INSERT INTO group_users (id, group_id, user_id, role, overrides, created_at)
				SELECT $1, g.id, u.id, $4, $5::jsonb, $6 FROM groups g, users u
				WHERE g.id = $2 AND u.id = $3`,
				gu.ID, gu.GroupID, gu.UserID, string(gu.Role), overridesArg(gu.Overrides), ts(gu.CreatedAt))
		} else {
			tag, err = tx.Exec(ctx, `
				INSERT INTO group_users (id, group_id, user_id, invite_email, role, overrides, created_at)
				SELECT $1, g.id, u.id, CASE WHEN u.id IS NULL THEN $3 END, $4, $5::jsonb, $6
				FROM groups g LEFT JOIN users u ON lower(u.email) = lower($3)
				WHERE g.id = $2`,
				gu.ID, gu.GroupID, gu.UserEmail, string(gu.Role), overridesArg(gu.Overrides), ts(gu.CreatedAt))
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		out, err = scanGroupUser(tx.QueryRow(ctx, `SELECT `+groupUserColumns+` FROM `+groupUserFrom+` WHERE gu.id = $1`, gu.ID))
		return err
	})
	if err != nil {
		return store.GroupUser{}, err
	}
	return out, nil
}

func (s *Store) GetGroupUser(ctx context.Context, id string) (_ store.GroupUser, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.GroupUser{}, err
	}
	if !store.ValidID(id) {
		return store.GroupUser{}, store.ErrNotFound
	}
	return scanGroupUser(s.pool.QueryRow(ctx, `SELECT `+groupUserColumns+` FROM `+groupUserFrom+` WHERE gu.id = $1`, id))
}

func (s *Store) ListGroupUsers(ctx context.Context, groupID string, offset, limit int) (list []store.GroupUser, total int, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if !store.ValidID(groupID) {
		return nil, 0, store.ErrNotFound
	}
	rows, err := s.pool.Query(ctx, `
		SELECT (SELECT count(*) FROM group_users WHERE group_id = g.id), `+groupUserColumns+`
		FROM groups g
		LEFT JOIN LATERAL (
			SELECT * FROM group_users o WHERE o.group_id = g.id
			ORDER BY o.created_at, o.id LIMIT $2 OFFSET $3
		) gu ON true
		LEFT JOIN users u ON u.id = gu.user_id
		WHERE g.id = $1
		ORDER BY gu.created_at, gu.id`, groupID, pageLimit(limit), max(offset, 0))
	if err != nil {
		return nil, 0, err
	}
	found := false
	list = []store.GroupUser{}
	var r groupUserRow
	_, err = pgx.ForEachRow(rows, append([]any{&total}, r.dest()...), func() error {
		found = true
		if r.id.Valid {
			list = append(list, r.groupUser())
		}
		r = groupUserRow{}
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

// lockGroupUser locks the group of record id and reads the record's role
// and the group's number of active owners, so that changes that may take
// an owner away from one group are serialized (see lockPropertyUser).
func lockGroupUser(ctx context.Context, tx pgx.Tx, id string) (role store.Role, owners int, err error) {
	var locked string
	err = tx.QueryRow(ctx, `
		SELECT id FROM groups
		WHERE id = (SELECT group_id FROM group_users WHERE id = $1)
		FOR NO KEY UPDATE`, id).Scan(&locked)
	if err != nil {
		return "", 0, err
	}
	var r string
	var pending bool
	err = tx.QueryRow(ctx, `
		SELECT gu.role, gu.user_id IS NULL,
		       (SELECT count(*) FROM group_users o
		        WHERE o.group_id = gu.group_id AND o.role = 'owner' AND o.user_id IS NOT NULL)
		FROM group_users gu WHERE gu.id = $1`, id).Scan(&r, &pending, &owners)
	if err != nil {
		return "", 0, err
	}
	if pending {
		owners++ // a pending invitation is never the last owner
	}
	return store.Role(r), owners, nil
}

func (s *Store) UpdateGroupUser(ctx context.Context, id string, role store.Role, overrides []byte) (gu store.GroupUser, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return store.GroupUser{}, err
	}
	if role != "" {
		if err := validRole(role); err != nil {
			return store.GroupUser{}, err
		}
	}
	if !store.ValidID(id) {
		return store.GroupUser{}, store.ErrNotFound
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		current, owners, err := lockGroupUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if role != "" && current != role && current == store.RoleOwner && owners <= 1 {
			return store.ErrLastOwner
		}
		if _, err := tx.Exec(ctx, `
			UPDATE group_users SET role = coalesce($2, role), overrides = coalesce($3::jsonb, overrides)
			WHERE id = $1`, id, pgtype.Text{String: string(role), Valid: role != ""}, overridesArg(overrides)); err != nil {
			return err
		}
		gu, err = scanGroupUser(tx.QueryRow(ctx, `SELECT `+groupUserColumns+` FROM `+groupUserFrom+` WHERE gu.id = $1`, id))
		return err
	})
	if err != nil {
		return store.GroupUser{}, err
	}
	return gu, nil
}

func (s *Store) RemoveGroupUser(ctx context.Context, id string) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !store.ValidID(id) {
		return store.ErrNotFound
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		current, owners, err := lockGroupUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if current == store.RoleOwner && owners <= 1 {
			return store.ErrLastOwner
		}
		_, err = tx.Exec(ctx, `DELETE FROM group_users WHERE id = $1`, id)
		return err
	})
}
