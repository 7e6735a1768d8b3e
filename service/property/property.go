// Package property implements PropertyService. The interceptor has
// already checked that the caller may reach the property a request names;
// lists are narrowed here to the caller's scope.
package property

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/paging"
	"github.com/keygate/keygate/service/rpcerr"
	"github.com/keygate/keygate/service/store"
)

// Service implements keygatev1.PropertyServiceServer.
type Service struct {
	keygatev1.UnimplementedPropertyServiceServer
	store store.Store
}

// New returns the service on st.
func New(st store.Store) *Service { return &Service{store: st} }

func (s *Service) CreateProperty(ctx context.Context, req *keygatev1.CreatePropertyRequest) (*keygatev1.CreatePropertyResponse, error) {
	p, err := fromInput(req.GetProperty())
	if err != nil {
		return nil, err
	}
	now := time.Now().Truncate(store.Precision).UTC()
	p.ID, p.IsActive, p.CreatedAt, p.UpdatedAt = store.NewID(), true, now, now
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
	q, err := query(req.GetFilter(), req.GetOrder())
	if err != nil {
		return nil, err
	}
	q.Offset, q.Limit = pg.Offset(), pg.Limit
	props, total, err := s.list(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &keygatev1.ListPropertiesResponse{Properties: make([]*keygatev1.Property, 0, len(props)), Meta: pg.Meta(total)}
	for _, p := range props {
		out.Properties = append(out.Properties, toProto(p))
	}
	return out, nil
}

func (s *Service) ListPropertyOptions(ctx context.Context, _ *keygatev1.ListPropertyOptionsRequest) (*keygatev1.ListPropertyOptionsResponse, error) {
	props, _, err := s.list(ctx, store.PropertyQuery{})
	if err != nil {
		return nil, err
	}
	out := &keygatev1.ListPropertyOptionsResponse{PropertyOptions: make([]*keygatev1.PropertyOption, 0, len(props))}
	for _, p := range props {
		out.PropertyOptions = append(out.PropertyOptions, &keygatev1.PropertyOption{Id: p.ID, Title: p.Title, Currency: p.Currency})
	}
	return out, nil
}

// list narrows q to the caller: their access, then their key's scope.
func (s *Service) list(ctx context.Context, q store.PropertyQuery) ([]store.Property, int, error) {
	p := auth.FromContext(ctx)
	q.UserID = p.User.ID
	q.IDs, q.OnlyIDs = p.Scope()
	return s.store.ListProperties(ctx, q)
}

// query turns the REST-style filter and order into a store query.
func query(f *keygatev1.PropertyFilter, o *keygatev1.PropertyOrder) (store.PropertyQuery, error) {
	var v rpcerr.Violations
	q := store.PropertyQuery{TitleContains: f.GetTitle()}
	if ids := f.GetId(); ids != "" {
		q.FilterIDs = []string{}
		for _, id := range strings.Split(ids, ",") {
			id = strings.TrimSpace(id)
			if !store.ValidID(id) {
				v.Add("filter.id", "must be a comma-separated list of property ids")
				break
			}
			q.FilterIDs = append(q.FilterIDs, id)
		}
	}
	switch f.GetIsActive() {
	case "":
	case "true", "false":
		active := f.GetIsActive() == "true"
		q.IsActive = &active
	default:
		v.Add("filter.is_active", "must be true or false")
	}
	direction := func(field, d string) bool {
		if d != "asc" && d != "desc" {
			v.Add(field, "must be asc or desc")
		}
		return d == "desc"
	}
	switch {
	case o.GetTitle() != "" && o.GetCreatedAt() != "":
		v.Add("order", "order by title or by created_at, not both")
	case o.GetCreatedAt() != "":
		q.OrderBy, q.Desc = store.OrderByCreatedAt, direction("order.created_at", o.GetCreatedAt())
	case o.GetTitle() != "":
		q.OrderBy, q.Desc = store.OrderByTitle, direction("order.title", o.GetTitle())
	}
	return q, v.Err()
}

func (s *Service) GetProperty(ctx context.Context, req *keygatev1.GetPropertyRequest) (*keygatev1.GetPropertyResponse, error) {
	p, err := s.store.GetProperty(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &keygatev1.GetPropertyResponse{Property: toProto(p)}, nil
}

func (s *Service) UpdateProperty(ctx context.Context, req *keygatev1.UpdatePropertyRequest) (*keygatev1.UpdatePropertyResponse, error) {
	p, err := fromInput(req.GetProperty())
	if err != nil {
		return nil, err
	}
	p.ID, p.UpdatedAt = req.GetId(), time.Now().Truncate(store.Precision).UTC()
	p, err = s.store.UpdateProperty(ctx, p)
	if err != nil {
		return nil, err
	}
	return &keygatev1.UpdatePropertyResponse{Property: toProto(p)}, nil
}

// DeleteProperty is for owners only; users a property is shared with may
// read and update it.
func (s *Service) DeleteProperty(ctx context.Context, req *keygatev1.DeletePropertyRequest) (*keygatev1.DeletePropertyResponse, error) {
	role, err := s.store.PropertyRole(ctx, auth.FromContext(ctx).User.ID, req.GetId())
	if err != nil {
		return nil, err
	}
	if role != store.RoleOwner {
		return nil, status.Error(codes.PermissionDenied, "only an owner of this property can delete it")
	}
	if err := s.store.DeleteProperty(ctx, req.GetId()); err != nil {
		return nil, err
	}
	return &keygatev1.DeletePropertyResponse{}, nil
}

func toProto(p store.Property) *keygatev1.Property {
	out := &keygatev1.Property{
		Id:           p.ID,
		Title:        p.Title,
		Currency:     p.Currency,
		Email:        p.Email,
		Phone:        p.Phone,
		ZipCode:      p.ZipCode,
		Country:      p.Country,
		State:        p.State,
		City:         p.City,
		Address:      p.Address,
		Longitude:    p.Longitude,
		Latitude:     p.Latitude,
		Timezone:     p.Timezone,
		PropertyType: p.PropertyType,
		IsActive:     p.IsActive,
		CreatedAt:    timestamppb.New(p.CreatedAt),
		UpdatedAt:    timestamppb.New(p.UpdatedAt),
		Settings: &keygatev1.PropertySettings{
			AllowAvailabilityAutoupdateOnConfirmation: p.Settings.AllowAvailabilityAutoupdateOnConfirmation,
			AllowAvailabilityAutoupdateOnModification: p.Settings.AllowAvailabilityAutoupdateOnModification,
			AllowAvailabilityAutoupdateOnCancellation: p.Settings.AllowAvailabilityAutoupdateOnCancellation,
			MinStayType: p.Settings.MinStayType,
			MinPrice:    p.Settings.MinPrice,
			MaxPrice:    p.Settings.MaxPrice,
			StateLength: int32(p.Settings.StateLength),
			CutOffTime:  p.Settings.CutOffTime,
			CutOffDays:  int32(p.Settings.CutOffDays),
		},
		Content: &keygatev1.PropertyContent{
			Description:          p.Content.Description,
			ImportantInformation: p.Content.ImportantInformation,
			LogoUrl:              p.Content.LogoURL,
			Website:              p.Content.Website,
			Photos:               make([]*keygatev1.PropertyPhoto, 0, len(p.Content.Photos)),
		},
	}
	if p.Settings.MaxDayAdvance != nil {
		out.Settings.MaxDayAdvance = wrapperspb.Int32(int32(*p.Settings.MaxDayAdvance))
	}
	for _, ph := range p.Content.Photos {
		out.Content.Photos = append(out.Content.Photos, &keygatev1.PropertyPhoto{
			Url: ph.URL, Position: int32(ph.Position), Description: ph.Description, Author: ph.Author, Kind: ph.Kind,
		})
	}
	return out
}
