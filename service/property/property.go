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
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/audit"
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
	p := newProperty()
	if err := apply(&p, req.GetProperty(), populated(req.GetProperty(), "")); err != nil {
		return nil, err
	}
	now := time.Now().Truncate(store.Precision).UTC()
	p.ID, p.CreatedAt, p.UpdatedAt = store.NewID(), now, now
	userID := auth.FromContext(ctx).User.ID
	if in := req.GetProperty(); in.GroupId != nil {
		// The base group must be one the caller owns. The store checks
		// it again in the transaction that creates the property.
		p.GroupID = in.GetGroupId()
		role := store.Role("")
		if store.ValidID(p.GroupID) {
			var err error
			if role, err = s.store.GroupRole(ctx, userID, p.GroupID); err != nil {
				return nil, err
			}
		}
		if role != store.RoleOwner {
			return nil, rpcerr.Invalid("group_id", "is not a group you own")
		}
	}
	ev := audit.New(ctx, store.ActionPropertyCreated, "property", p.ID)
	ev.PropertyID = p.ID
	if err := s.store.CreateProperty(audit.Record(ctx, ev), p, userID); err != nil {
		return nil, err
	}
	m, err := s.withGroups(ctx, p)
	if err != nil {
		return nil, err
	}
	return &keygatev1.CreatePropertyResponse{Property: m}, nil
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
	groups, err := s.store.PropertyGroups(ctx, ids(props))
	if err != nil {
		return nil, err
	}
	out := &keygatev1.ListPropertiesResponse{Properties: make([]*keygatev1.Property, 0, len(props)), Meta: pg.Meta(total)}
	size := 0
	for _, p := range props {
		m := toProto(p, groups[p.ID])
		// A page is cut where it would outgrow what a gRPC client (and the
		// gateway) accepts by default; the first property always fits.
		if size += proto.Size(m); size > MaxPageBytes && len(out.Properties) > 0 {
			break
		}
		out.Properties = append(out.Properties, m)
	}
	return out, nil
}

// MaxPageBytes bounds the encoded size of the properties of one list page:
// a page holds fewer than its limit when they would be larger (at most
// 100 properties of at most about 0.5 MB each could be), well under the
// 4 MiB that gRPC clients accept by default. Smaller pages reach the rest.
const MaxPageBytes = 3 << 20

func (s *Service) ListPropertyOptions(ctx context.Context, _ *keygatev1.ListPropertyOptionsRequest) (*keygatev1.ListPropertyOptionsResponse, error) {
	props, _, err := s.list(ctx, store.PropertyQuery{})
	if err != nil {
		return nil, err
	}
	groups, err := s.store.PropertyGroups(ctx, ids(props))
	if err != nil {
		return nil, err
	}
	out := &keygatev1.ListPropertyOptionsResponse{PropertyOptions: make([]*keygatev1.PropertyOption, 0, len(props))}
	for _, p := range props {
		groupIDs := make([]string, 0, len(groups[p.ID]))
		for _, g := range groups[p.ID] {
			groupIDs = append(groupIDs, g.ID)
		}
		out.PropertyOptions = append(out.PropertyOptions, &keygatev1.PropertyOption{Id: p.ID, Title: p.Title, Currency: p.Currency, GroupIds: groupIDs})
	}
	return out, nil
}

func ids(props []store.Property) []string {
	out := make([]string, len(props))
	for i, p := range props {
		out[i] = p.ID
	}
	return out
}

// withGroups turns a property into its message, with its groups.
func (s *Service) withGroups(ctx context.Context, p store.Property) (*keygatev1.Property, error) {
	groups, err := s.store.PropertyGroups(ctx, []string{p.ID})
	if err != nil {
		return nil, err
	}
	return toProto(p, groups[p.ID]), nil
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
	m, err := s.withGroups(ctx, p)
	if err != nil {
		return nil, err
	}
	return &keygatev1.GetPropertyResponse{Property: m}, nil
}

// UpdateProperty merges the attributes named in the update mask into the
// stored property and checks the result, in one store transaction, so
// that concurrent updates of different attributes all survive.
func (s *Service) UpdateProperty(ctx context.Context, req *keygatev1.UpdatePropertyRequest) (*keygatev1.UpdatePropertyResponse, error) {
	paths, err := maskPaths(req.GetProperty(), req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	now := time.Now().Truncate(store.Precision).UTC()
	ev := audit.New(ctx, store.ActionPropertyUpdated, "property", req.GetId())
	ev.PropertyID = req.GetId()
	p, err := s.store.UpdateProperty(audit.Record(ctx, ev), req.GetId(), func(p *store.Property) error {
		before := attributes(*p) // a copy: apply changes p in place
		if err := apply(p, req.GetProperty(), paths); err != nil {
			return err
		}
		p.UpdatedAt = now
		// Here both versions are known: the event gets what changed.
		ev.Changes = changes(before, attributes(*p))
		return nil
	})
	if err != nil {
		return nil, err
	}
	m, err := s.withGroups(ctx, p)
	if err != nil {
		return nil, err
	}
	return &keygatev1.UpdatePropertyResponse{Property: m}, nil
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
	ev := audit.New(ctx, store.ActionPropertyDeleted, "property", req.GetId())
	ev.PropertyID = req.GetId()
	if err := s.store.DeleteProperty(audit.Record(ctx, ev), req.GetId()); err != nil {
		return nil, err
	}
	return &keygatev1.DeletePropertyResponse{}, nil
}

// optional returns a pointer to s, or nil for an unset (empty) attribute.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toProto(p store.Property, groups []store.Ref) *keygatev1.Property {
	out := &keygatev1.Property{
		Id:           p.ID,
		Title:        p.Title,
		Currency:     p.Currency,
		Email:        optional(p.Email),
		Phone:        optional(p.Phone),
		ZipCode:      optional(p.ZipCode),
		Country:      optional(p.Country),
		State:        optional(p.State),
		City:         optional(p.City),
		Address:      optional(p.Address),
		Longitude:    optional(p.Longitude),
		Latitude:     optional(p.Latitude),
		Timezone:     optional(p.Timezone),
		PropertyType: optional(p.PropertyType),
		LogoUrl:      optional(p.LogoURL),
		Website:      optional(p.Website),
		Facilities:   append([]string{}, p.Facilities...),
		IsActive:     p.IsActive,
		CreatedAt:    timestamppb.New(p.CreatedAt),
		UpdatedAt:    timestamppb.New(p.UpdatedAt),
		Settings: &keygatev1.PropertySettings{
			AllowAvailabilityAutoupdateOnConfirmation: true,
			AllowAvailabilityAutoupdateOnModification: p.Settings.AllowAvailabilityAutoupdateOnModification,
			AllowAvailabilityAutoupdateOnCancellation: p.Settings.AllowAvailabilityAutoupdateOnCancellation,
			MinStayType: p.Settings.MinStayType,
			MinPrice:    optional(p.Settings.MinPrice),
			MaxPrice:    optional(p.Settings.MaxPrice),
			StateLength: int32(p.Settings.StateLength),
			CutOffTime:  p.Settings.CutOffTime,
			CutOffDays:  int32(p.Settings.CutOffDays),
		},
		Content: &keygatev1.PropertyContent{
			Description:          optional(p.Content.Description),
			ImportantInformation: optional(p.Content.ImportantInformation),
			Photos:               make([]*keygatev1.PropertyPhoto, 0, len(p.Content.Photos)),
		},
		Groups:          make([]*keygatev1.RelatedGroup, 0, len(groups)),
		FacilityRecords: make([]*keygatev1.RelatedFacility, 0, len(p.Facilities)),
	}
	if p.Settings.MaxDayAdvance != nil {
		days := int32(*p.Settings.MaxDayAdvance)
		out.Settings.MaxDayAdvance = &days
	}
	for _, ph := range p.Content.Photos {
		out.Content.Photos = append(out.Content.Photos, &keygatev1.PropertyPhoto{
			Url: ph.URL, Position: int32(ph.Position), Description: optional(ph.Description),
			Author: optional(ph.Author), Kind: ph.Kind,
		})
	}
	for _, g := range groups {
		out.Groups = append(out.Groups, &keygatev1.RelatedGroup{Id: g.ID, Attributes: &keygatev1.RelatedGroup_Attributes{Id: g.ID, Title: g.Title}})
	}
	for _, id := range p.Facilities {
		out.FacilityRecords = append(out.FacilityRecords, &keygatev1.RelatedFacility{Id: id})
	}
	return out
}
