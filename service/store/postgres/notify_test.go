package postgres_test

import (
	"slices"
	"testing"

	"github.com/keygate/keygate/service/store"
)

// apiKeyColumns classifies every column of api_keys. A change of a
// "notifies" column announces the key's user to every replica, which
// evicts what it cached; a change of a "silent" column announces nothing,
// so it must be one no key's power depends on. The trigger of migration
// 00005 lists the silent columns (every other one notifies); this table
// holds the same classification, with an SQL expression that changes the
// column of the key $1 ($2 is another user, $3 another key).
var apiKeyColumns = map[string]struct {
	notifies bool
	change   string
}{
	"id":             {true, "gen_random_uuid()"},
	"user_id":        {true, "$2"},
	"name":           {true, "name || ' renamed'"},
	"digest":         {true, "sha256(digest)"},
	"all_properties": {true, "NOT all_properties"},
	"created_at":     {true, "created_at - interval '1 second'"},
	"revoked_at":     {true, "now()"},
	"expires_at":     {true, "now() + interval '1 day'"},
	"read_only":      {true, "NOT read_only"},
	"allowed_ips":    {true, "'{10.0.0.0/8}'"},
	"rolled_from":    {true, "$3"},
	"rolled_to":      {true, "$3"},
	// Recording a use narrows no key.
	"last_used_at": {false, "now()"},
	"last_used_ip": {false, "'192.0.2.1'"},
}

// TestAPIKeyColumnsClassified fails for a column of api_keys that
// apiKeyColumns does not classify, and checks that a change of each column
// is announced exactly when its classification says so: a new policy
// column can neither be forgotten nor stay silent by accident.
func TestAPIKeyColumnsClassified(t *testing.T) {
	db := newWatchedDB(t, nil)
	s, ctx := db.s, t.Context()
	rows, err := db.sql.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'api_keys' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	var columns []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		columns = append(columns, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range columns {
		if _, ok := apiKeyColumns[c]; !ok {
			t.Errorf("column api_keys.%s is not classified: add it to apiKeyColumns as notifying or silent "+
				"(a silent one also to the WHEN of the api_keys_notify_update trigger)", c)
		}
	}
	for c := range apiKeyColumns {
		if !slices.Contains(columns, c) {
			t.Errorf("apiKeyColumns classifies %s, which api_keys does not have", c)
		}
	}
	if t.Failed() {
		return
	}

	a, b := createUser(t, s), createUser(t, s)
	m := newMarker(t, s)
	w := startWatch(t, s)
	w.expectKind(t, "start", store.Listening, reconnectTimeout)
	for _, c := range columns {
		class := apiKeyColumns[c]
		k, other := createKey(t, s, a.ID), createKey(t, s, a.ID)
		db.exec(t, `UPDATE api_keys SET `+c+` = `+class.change+`
			WHERE id = $1 AND $2::uuid IS NOT NULL AND $3::uuid IS NOT NULL`, k.ID, b.ID, other.ID)
		switch {
		case c == "user_id":
			w.expectUsers(t, c, a.ID, b.ID)
		case class.notifies:
			w.expectUsers(t, c, a.ID)
		}
		m.expectNothing(t, w, "UPDATE api_keys SET "+c)
	}
}
