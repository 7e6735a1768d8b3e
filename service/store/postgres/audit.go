package postgres

import (
	"context"
	"encoding/json"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keygate/keygate/service/store"
)

// recordEvent inserts the event attached to ctx, if any, inside tx: the
// transaction of the change it describes. The owners of its property, as
// tx sees them, join its readers.
func recordEvent(ctx context.Context, tx pgx.Tx) error {
	ev := store.EventFrom(ctx)
	if ev == nil {
		return nil
	}
	return insertEvent(ctx, tx, *ev)
}

func insertEvent(ctx context.Context, tx pgx.Tx, ev store.Event) error {
	var changes any
	if len(ev.Changes) > 0 {
		b, err := json.Marshal(ev.Changes)
		if err != nil {
			return err
		}
		changes = string(b)
	}
	readers := validIDs(ev.UserIDs)
	if readers == nil {
		readers = []string{}
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO audit_events (id, action, occurred_at, actor_user_id, credential, api_key_id,
			ip, user_agent, request_id, target_type, target_id, changes, count, property_id, readers)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, greatest($13, 1), $14,
			ARRAY(SELECT DISTINCT r FROM unnest($15::uuid[] || ARRAY(
				SELECT user_id FROM property_users
				WHERE property_id = $14 AND role = 'owner' AND user_id IS NOT NULL)) AS r ORDER BY r))`,
		ev.ID, ev.Action, ts(ev.OccurredAt), nullID(validOrEmpty(ev.ActorUserID)), ev.Credential, nullID(validOrEmpty(ev.APIKeyID)),
		inet(ev.IP), ev.UserAgent, ev.RequestID, ev.TargetType, ev.TargetID, changes, ev.Count, nullID(ev.PropertyID), readers)
	return err
}

// validOrEmpty keeps an id only when it can name a record.
func validOrEmpty(id string) string {
	if !store.ValidID(id) {
		return ""
	}
	return id
}

const eventColumns = `e.id, e.action, e.occurred_at, e.actor_user_id::text, e.credential, e.api_key_id::text,
	host(e.ip), e.user_agent, e.request_id, e.target_type, e.target_id, e.changes, e.count,
	e.property_id::text, e.readers::text[]`

type eventRow struct {
	id, action               pgtype.Text
	occurredAt               pgtype.Timestamptz
	actor, credential, keyID pgtype.Text
	ip, userAgent, requestID pgtype.Text
	targetType, targetID     pgtype.Text
	changes                  []byte
	count                    pgtype.Int4
	propertyID               pgtype.Text
	readers                  []string
}

func (r *eventRow) dest() []any {
	return []any{&r.id, &r.action, &r.occurredAt, &r.actor, &r.credential, &r.keyID,
		&r.ip, &r.userAgent, &r.requestID, &r.targetType, &r.targetID, &r.changes, &r.count,
		&r.propertyID, &r.readers}
}

func (r *eventRow) event() (store.Event, error) {
	e := store.Event{
		ID:          r.id.String,
		Action:      r.action.String,
		OccurredAt:  fromTS(r.occurredAt),
		ActorUserID: r.actor.String,
		Credential:  r.credential.String,
		APIKeyID:    r.keyID.String,
		UserAgent:   r.userAgent.String,
		RequestID:   r.requestID.String,
		TargetType:  r.targetType.String,
		TargetID:    r.targetID.String,
		Count:       int(r.count.Int32),
		PropertyID:  r.propertyID.String,
		UserIDs:     r.readers,
	}
	if e.UserIDs == nil {
		e.UserIDs = []string{}
	}
	e.IP, _ = netip.ParseAddr(r.ip.String) // PostgreSQL wrote it
	if len(r.changes) > 0 {
		if err := json.Unmarshal(r.changes, &e.Changes); err != nil {
			return store.Event{}, err
		}
	}
	return e, nil
}

func (s *Store) ListAuditEvents(ctx context.Context, q store.AuditQuery) (list []store.Event, total int, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	list = []store.Event{}
	if !store.ValidID(q.UserID) {
		return list, 0, nil
	}
	rows, err := s.pool.Query(ctx, `
		WITH selected AS (
			SELECT * FROM audit_events
			WHERE readers @> ARRAY[$1::uuid]
			  AND ($2 = '' OR action = $2)
			  AND ($3 = '' OR target_id = $3)
			  AND ($4 = '' OR api_key_id::text = $4)
			  AND ($5::timestamptz IS NULL OR occurred_at >= $5)
			  AND ($6::timestamptz IS NULL OR occurred_at < $6)
		)
		SELECT n.total, `+eventColumns+`
		FROM (SELECT count(*) AS total FROM selected) n
		LEFT JOIN LATERAL (
			SELECT * FROM selected ORDER BY occurred_at DESC, id DESC LIMIT $7 OFFSET $8
		) e ON true
		ORDER BY e.occurred_at DESC, e.id DESC`,
		q.UserID, q.Action, q.TargetID, q.APIKeyID, nullTS(q.OccurredFrom), nullTS(q.OccurredBefore),
		pageLimit(q.Limit), max(q.Offset, 0))
	if err != nil {
		return nil, 0, err
	}
	var r eventRow
	_, err = pgx.ForEachRow(rows, append([]any{&total}, r.dest()...), func() error {
		if r.id.Valid {
			e, err := r.event()
			if err != nil {
				return err
			}
			list = append(list, e)
		}
		r = eventRow{}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return list, total, nil
}

// RecordFailedSignIn serializes the failures of one account on an
// advisory lock of its id, so that concurrent failures count into one
// event rather than each inserting its own.
func (s *Store) RecordFailedSignIn(ctx context.Context, ev store.Event, since time.Time) (err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	ev.Action, ev.Count = store.ActionSignInFailed, 1
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('sign_in.failed:' || $1, 0))`, ev.TargetID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			UPDATE audit_events SET count = count + 1
			WHERE id = (SELECT id FROM audit_events
			            WHERE action = 'sign_in.failed' AND target_id = $1 AND occurred_at >= $2
			            ORDER BY occurred_at DESC LIMIT 1)`, ev.TargetID, ts(since))
		if err != nil || tag.RowsAffected() > 0 {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

func (s *Store) PurgeAuditEvents(ctx context.Context, before time.Time, limit int) (n int, err error) {
	defer edge(ctx, &err)
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE occurred_at < $1
			ORDER BY occurred_at, id LIMIT $2)`, ts(before), pageLimit(limit))
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}
