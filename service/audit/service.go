package audit

import (
	"context"
	"encoding/json"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/paging"
	"github.com/keygate/keygate/service/rpcerr"
	"github.com/keygate/keygate/service/store"
)

// Service implements keygatev1.AuditServiceServer.
type Service struct {
	keygatev1.UnimplementedAuditServiceServer
	store store.Audit
}

// NewService returns the service on st.
func NewService(st store.Audit) *Service { return &Service{store: st} }

// ListAuditEvents lists what the signed-in user may read; the store
// decides that from the readers each event was recorded with.
func (s *Service) ListAuditEvents(ctx context.Context, req *keygatev1.ListAuditEventsRequest) (*keygatev1.ListAuditEventsResponse, error) {
	pg, err := paging.Parse(req.GetPagination())
	if err != nil {
		return nil, err
	}
	f := req.GetFilter()
	var v rpcerr.Violations
	if id := f.GetApiKeyId(); id != "" && !store.ValidID(id) {
		v.Add("filter.api_key_id", "must be an API key id")
	}
	q := store.AuditQuery{
		UserID:   auth.FromContext(ctx).User.ID,
		Action:   f.GetAction(),
		TargetID: f.GetTargetId(),
		APIKeyID: f.GetApiKeyId(),
		Offset:   pg.Offset(),
		Limit:    pg.Limit,
	}
	if r := f.GetOccurredAt(); r != nil {
		if r.Gte != nil {
			q.OccurredFrom = r.Gte.AsTime()
		}
		if r.Lt != nil {
			q.OccurredBefore = r.Lt.AsTime()
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	events, total, err := s.store.ListAuditEvents(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &keygatev1.ListAuditEventsResponse{AuditEvents: make([]*keygatev1.AuditEvent, 0, len(events)), Meta: pg.Meta(total)}
	for _, e := range events {
		m, err := ToProto(e)
		if err != nil {
			return nil, err
		}
		out.AuditEvents = append(out.AuditEvents, m)
	}
	return out, nil
}

// ToProto converts a stored event to its API form.
func ToProto(e store.Event) (*keygatev1.AuditEvent, error) {
	out := &keygatev1.AuditEvent{
		Id:         e.ID,
		Action:     e.Action,
		OccurredAt: timestamppb.New(e.OccurredAt),
		Actor: &keygatev1.AuditActor{
			UserId:     optional(e.ActorUserID),
			Credential: optional(e.Credential),
			ApiKeyId:   optional(e.APIKeyID),
		},
		UserAgent: e.UserAgent,
		RequestId: e.RequestID,
		Target:    &keygatev1.AuditTarget{Type: e.TargetType, Id: e.TargetID},
		Count:     int32(max(e.Count, 1)),
	}
	if e.IP.IsValid() {
		ip := e.IP.String()
		out.Ip = &ip
	}
	if len(e.Changes) > 0 {
		// Through JSON, which Struct reads: the values are JSON values.
		b, err := json.Marshal(e.Changes)
		if err != nil {
			return nil, err
		}
		out.Changes = &structpb.Struct{}
		if err := out.Changes.UnmarshalJSON(b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
