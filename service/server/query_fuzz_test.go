package server

import (
	"net/url"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
)

// FuzzBracketQuery: Channex's bracketed query parameters, raw or
// percent-encoded, never panic the parser, and a page sent alone is the
// page it parses.
func FuzzBracketQuery(f *testing.F) {
	for _, q := range []string{
		"pagination[page]=2&pagination[limit]=20",
		"pagination%5Bpage%5D=2",
		"filter[title]=harbour&order[created_at]=desc&filter[id]=a,b",
		"filter[is_active]=true&unknown[x][y]=1",
		"pagination[page]=99999999999",
		"[]=&[[a]]=1&a[b=2&%ff=1",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		values, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req := &keygatev1.ListPropertiesRequest{}
		if err := (bracketQueryParser{}).Parse(req, values, utilities.NewDoubleArray(nil)); err != nil {
			return
		}
		if v := values["pagination[page]"]; len(values) == 1 && len(v) == 1 && v[0] == "2" && req.GetPagination().GetPage() != 2 {
			t.Fatalf("%q: page %d", raw, req.GetPagination().GetPage())
		}
	})
}
