package server_test

import (
	"context"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/store"
)

// unaudited is a store that drops the events attached to the two writes
// the benchmark measures, so that they write the change alone.
type unaudited struct{ store.Store }

func (s unaudited) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	return s.Store.CreateAPIKey(store.WithEvent(ctx, nil), k)
}

func (s unaudited) UpdateProperty(ctx context.Context, id string, apply func(*store.Property) error) (store.Property, error) {
	return s.Store.UpdateProperty(store.WithEvent(ctx, nil), id, apply)
}

// BenchmarkAuditCost measures what recording audit events adds to
// CreateApiKey and UpdateProperty on PostgreSQL: two servers on one
// database, one of which drops the events before they reach the store,
// take the same gRPC load in alternating rounds (ABBA). It reports the
// throughput with events as a fraction of the throughput without
// (audited/unaudited; 1.0 means free, 0.9 means 10% more cost). Building
// the event in the service happens on both; the difference is writing it.
// Use -benchtime 4x or more: each iteration is two rounds of 2,000 calls.
func BenchmarkAuditCost(b *testing.B) {
	st := openStore(b, migratedDatabase(b))
	on, off := start(b, st), start(b, unaudited{st})
	u := on.newUser(true)
	ctx := withSession(u.token)
	props := make([]string, 32)
	for i := range props {
		props[i] = on.newProperty(u, "Harbour")
	}
	createKey := func(e *env) func() {
		return func() {
			_, err := e.keys.CreateApiKey(ctx, &keygatev1.CreateApiKeyRequest{
				ApiKey: &keygatev1.ApiKeyInput{Name: "pms", AllProperties: true},
			})
			if err != nil {
				b.Error(err)
			}
		}
	}
	var n atomic.Int64
	updateProperty := func(e *env) func() {
		return func() {
			i := n.Add(1)
			_, err := e.props.UpdateProperty(ctx, &keygatev1.UpdatePropertyRequest{
				Id:         props[i%int64(len(props))],
				Property:   &keygatev1.PropertyInput{City: proto.String("City " + string(rune('A'+i%26)))},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"city"}},
			})
			if err != nil {
				b.Error(err)
			}
		}
	}
	b.Run("CreateApiKey", func(b *testing.B) { alternate(b, "audited/unaudited", createKey(on), createKey(off)) })
	b.Run("UpdateProperty", func(b *testing.B) { alternate(b, "audited/unaudited", updateProperty(on), updateProperty(off)) })
}
