package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/dbtest"
)

// TestInvalidText: strings PostgreSQL cannot keep, in a column and in a
// jsonb document, are ErrInvalidText on a real database, not internal
// errors, and nothing is written.
func TestInvalidText(t *testing.T) {
	s := dbtest.NewStore(t)
	ctx := context.Background()
	for _, name := range []string{"a\x00b", "a\xffb"} {
		err := s.CreateUser(ctx, store.User{ID: store.NewID(), Email: store.NewID() + "@example.com", Name: name, PasswordHash: "x", CreatedAt: time.Now()})
		if !errors.Is(err, store.ErrInvalidText) {
			t.Errorf("name %q: %v, want ErrInvalidText", name, err)
		}
	}
	if _, err := s.GetUserByEmail(ctx, "nul\x00@example.com"); !errors.Is(err, store.ErrInvalidText) {
		t.Errorf("lookup by an email with NUL: %v, want ErrInvalidText", err)
	}
}
