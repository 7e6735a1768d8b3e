// Package property implements PropertyService. The interceptor has
// already checked that the caller may reach the property a request names;
// lists are narrowed here to the caller's scope.
package property

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/paging"
	"github.com/keygate/keygate/service/rpcerr"
	"github.com/keygate/keygate/service/store"
)

const maxTitleLen = 255

// Service implements keygatev1.PropertyServiceServer.
type Service struct {
	keygatev1.UnimplementedPropertyServiceServer
	store store.Store
}

// New returns the service on st.
func New(st store.Store) *Service { return &Service{store: st} }

func (s *Service) CreateProperty(ctx context.Context, req *keygatev1.CreatePropertyRequest) (*keygatev1.CreatePropertyResponse, error) {
	if err := validate(req.GetProperty()); err != nil {
		return nil, err
	}
	now := time.Now().Truncate(store.Precision).UTC()
	p := store.Property{
		ID:        store.NewID(),
		Title:     req.GetProperty().GetTitle(),
		Currency:  req.GetProperty().GetCurrency(),
		CreatedAt: now,
		UpdatedAt: now,
	}
	if err := s.store.CreateProperty(ctx, p, auth.FromContext(ctx).User.ID); err != nil {
		return nil, err
	}
	return &keygatev1.CreatePropertyResponse{Property: toProto(p)}, nil
}

func (s *Service) ListProperties(ctx context.Context, req *keygatev1.ListPropertiesRequest) (*keygatev1.ListPropertiesResponse, error) {
	pg, err := paging.Parse(req.GetPagination())
	if err != nil {
		return nil, err
	}
	p := auth.FromContext(ctx)
	q := store.PropertyQuery{UserID: p.User.ID, Offset: pg.Offset(), Limit: pg.Limit}
	q.IDs, q.OnlyIDs = p.Scope()
	props, total, err := s.store.ListProperties(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &keygatev1.ListPropertiesResponse{Properties: make([]*keygatev1.Property, 0, len(props)), Meta: pg.Meta(total)}
	for _, p := range props {
		out.Properties = append(out.Properties, toProto(p))
	}
	return out, nil
}

func (s *Service) GetProperty(ctx context.Context, req *keygatev1.GetPropertyRequest) (*keygatev1.GetPropertyResponse, error) {
	p, err := s.store.GetProperty(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &keygatev1.GetPropertyResponse{Property: toProto(p)}, nil
}

func (s *Service) UpdateProperty(ctx context.Context, req *keygatev1.UpdatePropertyRequest) (*keygatev1.UpdatePropertyResponse, error) {
	if err := validate(req.GetProperty()); err != nil {
		return nil, err
	}
	p, err := s.store.UpdateProperty(ctx, store.Property{
		ID:        req.GetId(),
		Title:     req.GetProperty().GetTitle(),
		Currency:  req.GetProperty().GetCurrency(),
		UpdatedAt: time.Now().Truncate(store.Precision).UTC(),
	})
	if err != nil {
		return nil, err
	}
	return &keygatev1.UpdatePropertyResponse{Property: toProto(p)}, nil
}

func (s *Service) DeleteProperty(ctx context.Context, req *keygatev1.DeletePropertyRequest) (*keygatev1.DeletePropertyResponse, error) {
	if err := s.store.DeleteProperty(ctx, req.GetId()); err != nil {
		return nil, err
	}
	return &keygatev1.DeletePropertyResponse{}, nil
}

// validate reports every rule the writable attributes break, at once.
func validate(in *keygatev1.PropertyInput) error {
	var v rpcerr.Violations
	switch title := in.GetTitle(); {
	case strings.TrimSpace(title) == "":
		v.Add("title", "can't be blank")
	case utf8.RuneCountInString(title) > maxTitleLen:
		v.Add("title", fmt.Sprintf("is too long (maximum is %d characters)", maxTitleLen))
	}
	switch c := in.GetCurrency(); {
	case c == "":
		v.Add("currency", "can't be blank")
	case !currencies[c]:
		v.Add("currency", "is not an ISO 4217 currency code")
	}
	return v.Err()
}

func toProto(p store.Property) *keygatev1.Property {
	return &keygatev1.Property{
		Id:        p.ID,
		Title:     p.Title,
		Currency:  p.Currency,
		CreatedAt: timestamppb.New(p.CreatedAt),
		UpdatedAt: timestamppb.New(p.UpdatedAt),
	}
}
