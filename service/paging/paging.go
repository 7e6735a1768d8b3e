// Package paging turns a request's pagination into an offset and a limit,
// and a total back into the list meta.
package paging

import (
	"fmt"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/rpcerr"
)

const (
	DefaultLimit = 10
	MaxLimit     = 100
)

// Page is one validated page of a list.
type Page struct {
	Number, Limit int
}

// Parse validates p; nil or zero fields take the defaults (page 1, 10 per
// page). Out-of-range values are INVALID_ARGUMENT rather than silently
// clamped, so a client never mistakes a short page for the end of a list.
func Parse(p *keygatev1.Pagination) (Page, error) {
	pg := Page{Number: int(p.GetPage()), Limit: int(p.GetLimit())}
	if pg.Number == 0 {
		pg.Number = 1
	}
	if pg.Limit == 0 {
		pg.Limit = DefaultLimit
	}
	var v rpcerr.Violations
	if pg.Number < 1 {
		v.Add("pagination.page", "must be 1 or more")
	}
	if pg.Limit < 1 || pg.Limit > MaxLimit {
		v.Add("pagination.limit", fmt.Sprintf("must be between 1 and %d", MaxLimit))
	}
	return pg, v.Err()
}

// Offset is the number of items before the page.
func (p Page) Offset() int { return (p.Number - 1) * p.Limit }

// Meta describes the page in a list response.
func (p Page) Meta(total int) *keygatev1.ListMeta {
	return &keygatev1.ListMeta{Page: int32(p.Number), Limit: int32(p.Limit), Total: int32(total)}
}
