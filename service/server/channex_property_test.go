package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/dbtest"
	"github.com/keygate/keygate/service/store/memory"
)

// The Channex property resource of CONTRACT §5 as real clients use it:
// values round-tripped as sent, partial updates, concurrent updates,
// ignored and wrongly typed attributes, hostile bytes, and a replay of
// what Channex clients send.

// channexTests run on both stores, each on a fresh server.
var channexTests = []struct {
	name string
	fn   func(*testing.T, *env)
}{
	{"RoundTrip", testChannexRoundTrip},
	{"Prices", testChannexPrices},
	{"PartialUpdate", testChannexPartialUpdate},
	{"EditRoundTrip", testChannexEditRoundTrip},
	{"ConcurrentUpdates", testChannexConcurrentUpdates},
	{"IgnoredAttributes", testChannexIgnoredAttributes},
	{"WrongTypes", testChannexWrongTypes},
	{"HostileBytes", testChannexHostileBytes},
	{"ClientReplay", testChannexClientReplay},
	{"PropertyUsers", testChannexPropertyUsers},
}

func TestAPIMemoryChannex(t *testing.T) {
	for _, tc := range channexTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, start(t, memory.New())) })
	}
}

func TestAPIPostgresChannex(t *testing.T) {
	dbtest.AdminURL(t)
	for _, tc := range channexTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, start(t, dbtest.NewStore(t))) })
	}
}

// channexDecode decodes a JSON text for comparison with responses.
func channexDecode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return v
}

// channexAttrs returns data.attributes of a response.
func channexAttrs(t *testing.T, r response) map[string]any {
	t.Helper()
	a, ok := get(r.body, "data", "attributes").(map[string]any)
	if !ok {
		t.Fatalf("no attributes: %d %s", r.code, r.raw)
	}
	return a
}

// channexEveryAttribute is a create body with every writable attribute of
// §5, prices and coordinates as JSON numbers (numbers) or strings.
func channexEveryAttribute(numbers bool) string {
	lon, lat, minP, maxP := `"-0.1277583"`, `"51.5073509"`, `"80.50"`, `"1200.00"`
	if numbers {
		lon, lat, minP, maxP = `-0.1277583`, `51.5073509`, `8050`, `120000`
	}
	return `{"property":{
		"title":"Every Attribute Inn","currency":"CHF","email":"desk@every.example","phone":"+41 21 000 00 00",
		"zip_code":"1800","country":"CH","state":"Vaud","city":"Vevey","address":"Quai 1",
		"longitude":` + lon + `,"latitude":` + lat + `,"timezone":"Europe/Zurich","property_type":"boat",
		"facilities":["` + propFacilityC + `","` + propFacilityA + `"],
		"logo_url":"https://cdn.example.com/logo.png","website":"https://every.example/",
		"settings":{"allow_availability_autoupdate_on_confirmation":true,"allow_availability_autoupdate_on_modification":true,
			"allow_availability_autoupdate_on_cancellation":true,"min_stay_type":"through","min_price":` + minP + `,"max_price":` + maxP + `,
			"state_length":730,"cut_off_time":"23:30:00","cut_off_days":3,"max_day_advance":90},
		"content":{"description":"Desc","important_information":"Info","photos":[
			{"url":"https://cdn.example.com/1.jpg","position":1,"description":"One","author":"Ann","kind":"menu"},
			{"url":"http://cdn.example.com/0.jpg","position":0,"description":"Zero","author":"Bob","kind":"ad"}]}}}`
}

// channexEveryAttributeWant is how channexEveryAttribute reads back.
func channexEveryAttributeWant(t *testing.T) map[string]any {
	return channexDecode(t, `{
		"title":"Every Attribute Inn","currency":"CHF","email":"desk@every.example","phone":"+41 21 000 00 00",
		"zip_code":"1800","country":"CH","state":"Vaud","city":"Vevey","address":"Quai 1",
		"longitude":"-0.1277583","latitude":"51.5073509","timezone":"Europe/Zurich","property_type":"boat",
		"facilities":["`+propFacilityC+`","`+propFacilityA+`"],
		"logo_url":"https://cdn.example.com/logo.png","website":"https://every.example/",
		"settings":{"allow_availability_autoupdate_on_confirmation":true,"allow_availability_autoupdate_on_modification":true,
			"allow_availability_autoupdate_on_cancellation":true,"min_stay_type":"through","min_price":"80.50","max_price":"1200.00",
			"state_length":730,"cut_off_time":"23:30:00","cut_off_days":3,"max_day_advance":90},
		"content":{"description":"Desc","important_information":"Info","photos":[
			{"url":"https://cdn.example.com/1.jpg","position":1,"description":"One","author":"Ann","kind":"menu"},
			{"url":"http://cdn.example.com/0.jpg","position":0,"description":"Zero","author":"Bob","kind":"ad"}]}}`).(map[string]any)
}

// testChannexRoundTrip: every attribute of §5 sent (prices and
// coordinates once as numbers, once as strings) reads back as sent; every
// unset one reads back null.
func testChannexRoundTrip(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	want := channexEveryAttributeWant(t)
	for _, numbers := range []bool{true, false} {
		t.Run(fmt.Sprintf("numbers=%v", numbers), func(t *testing.T) {
			r := e.rest("POST", "/api/v1/properties", channexEveryAttribute(numbers), session...)
			if r.code != 201 || propIgnored(t, r) != nil {
				t.Fatalf("create: %d %s", r.code, r.raw)
			}
			if d := propDiff(propWritable(t, r), want); d != "" {
				t.Fatalf("create response:%s", d)
			}
			id := str(r.body, "data", "id")
			got := e.rest("GET", "/api/v1/properties/"+id, "", session...)
			if d := propDiff(propWritable(t, got), want); got.code != 200 || d != "" {
				t.Fatalf("read back (%d):%s", got.code, d)
			}
			a := channexAttrs(t, got)
			if a["id"] != id || a["is_active"] != true || a["acc_channels_count"] != 0.0 || a["created_at"] == nil || a["updated_at"] == nil {
				t.Fatalf("read-only attributes: %s", got.raw)
			}
			// Prices and coordinates are strings on the wire.
			for _, frag := range []string{`"longitude":"-0.1277583"`, `"latitude":"51.5073509"`, `"min_price":"80.50"`, `"max_price":"1200.00"`} {
				if !strings.Contains(got.raw, frag) {
					t.Fatalf("%s is not in %s", frag, got.raw)
				}
			}
		})
	}
	t.Run("unset attributes are null", func(t *testing.T) {
		r := e.rest("POST", "/api/v1/properties", `{"property":{"title":"Bare","currency":"EUR"}}`, session...)
		if r.code != 201 {
			t.Fatalf("create: %d %s", r.code, r.raw)
		}
		got := e.rest("GET", "/api/v1/properties/"+str(r.body, "data", "id"), "", session...)
		a := channexAttrs(t, got)
		for _, k := range propOptional {
			if v, ok := a[k]; !ok || v != nil {
				t.Fatalf("%s = %#v, want null: %s", k, v, got.raw)
			}
		}
		for _, k := range []string{"settings.min_price", "settings.max_price", "settings.max_day_advance", "content.description", "content.important_information"} {
			if propAt(a, k) != nil {
				t.Fatalf("%s is not null: %s", k, got.raw)
			}
		}
		if !strings.Contains(got.raw, `"email":null`) || !strings.Contains(got.raw, `"min_price":null`) || strings.Contains(got.raw, `""`) {
			t.Fatalf("unset attributes are not null: %s", got.raw)
		}
		if d := propDiff(propWritable(t, got), propNormalize(t, propDefaults("Bare", "EUR"))); d != "" {
			t.Fatalf("defaults:%s", d)
		}
		// The same in a list.
		list := e.rest("GET", "/api/v1/properties?filter[title]=Bare", "", session...)
		if d := propDiff(get(list.body, "data", 0), get(got.body, "data")); list.code != 200 || d != "" {
			t.Fatalf("list (%d):%s", list.code, d)
		}
	})
}

// testChannexPrices: prices as decimal strings or integers of minor units,
// returned with the currency's decimal places.
func testChannexPrices(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	for _, tc := range []struct {
		currency, price, want string // want "" means 422 at settings.min_price
	}{
		{"CHF", `"80.5"`, "80.50"},
		{"CHF", `8050`, "80.50"},
		{"CHF", `"80.50"`, "80.50"},
		{"EUR", `"100"`, "100.00"},
		{"EUR", `10000`, "100.00"},
		{"EUR", `0`, "0.00"},
		{"EUR", `5`, "0.05"},
		{"EUR", `"0.005"`, ""},
		{"JPY", `"80"`, "80"},
		{"JPY", `8000`, "8000"},
		{"JPY", `"8000.00"`, "8000"},
		{"JPY", `"80.50"`, ""},
		{"BHD", `1234`, "1.234"},
		{"BHD", `"1.5"`, "1.500"},
		{"BHD", `"1.2345"`, ""},
		{"EUR", `-1`, ""},
		{"EUR", `"-1.00"`, ""},
	} {
		t.Run(tc.currency+" "+tc.price, func(t *testing.T) {
			body := fmt.Sprintf(`{"property":{"title":"Priced","currency":%q,"settings":{"min_price":%s}}}`, tc.currency, tc.price)
			r := e.rest("POST", "/api/v1/properties", body, session...)
			if tc.want == "" {
				propWantFields(t, r, "settings.min_price")
				return
			}
			if r.code != 201 || propAt(channexAttrs(t, r), "settings.min_price") != tc.want {
				t.Fatalf("create: %d %s, want min_price %q", r.code, r.raw, tc.want)
			}
			id := str(r.body, "data", "id")
			// The same as max_price, by a partial update.
			r = e.rest("PUT", "/api/v1/properties/"+id, fmt.Sprintf(`{"property":{"settings":{"max_price":%s}}}`, tc.price), session...)
			a := channexAttrs(t, r)
			if r.code != 200 || propAt(a, "settings.max_price") != tc.want || propAt(a, "settings.min_price") != tc.want {
				t.Fatalf("update: %d %s", r.code, r.raw)
			}
			if got := e.rest("GET", "/api/v1/properties/"+id, "", session...); propAt(channexAttrs(t, got), "settings.max_price") != tc.want {
				t.Fatalf("read back: %s", got.raw)
			}
		})
	}
	// Minor units take the currency of the merged property.
	r := e.rest("POST", "/api/v1/properties", `{"property":{"title":"Switch","currency":"EUR"}}`, session...)
	id := str(r.body, "data", "id")
	r = e.rest("PUT", "/api/v1/properties/"+id, `{"property":{"currency":"JPY","settings":{"min_price":500}}}`, session...)
	if r.code != 200 || propAt(channexAttrs(t, r), "settings.min_price") != "500" {
		t.Fatalf("minor units with a new currency: %d %s", r.code, r.raw)
	}
	// A stored price is rewritten with the new currency's places.
	r = e.rest("PUT", "/api/v1/properties/"+id, `{"property":{"currency":"EUR"}}`, session...)
	if r.code != 200 || propAt(channexAttrs(t, r), "settings.min_price") != "500.00" {
		t.Fatalf("a new currency: %d %s", r.code, r.raw)
	}
	// …and refused when it does not fit.
	if r := e.rest("PUT", "/api/v1/properties/"+id, `{"property":{"settings":{"min_price":"0.50"}}}`, session...); r.code != 200 {
		t.Fatalf("a cent price: %d %s", r.code, r.raw)
	}
	propWantFields(t, e.rest("PUT", "/api/v1/properties/"+id, `{"property":{"currency":"JPY"}}`, session...), "settings.min_price")
	if got := e.rest("GET", "/api/v1/properties/"+id, "", session...); str(got.body, "data", "attributes", "currency") != "EUR" {
		t.Fatalf("a refused update changed the currency: %s", got.raw)
	}
}

// testChannexPartialUpdate: each attribute alone updates only itself; null
// clears; settings and content merge; photos are replaced; title and
// currency cannot be cleared.
func testChannexPartialUpdate(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	full := propNormalize(t, propFull()).(map[string]any)
	newPhoto := map[string]any{"url": "https://cdn.example.com/new.jpg", "position": 5.0, "description": nil, "author": nil, "kind": "photo"}
	for _, tc := range []struct {
		name string
		set  map[string]any // the attributes of the body (nested as in JSON)
		want map[string]any // changes to propFull, by dotted path
	}{
		{"title", map[string]any{"title": "Renamed"}, map[string]any{"title": "Renamed"}},
		{"currency", map[string]any{"currency": "EUR"}, map[string]any{"currency": "EUR"}},
		{"email", map[string]any{"email": "new@hotel.example"}, map[string]any{"email": "new@hotel.example"}},
		{"phone", map[string]any{"phone": "123"}, map[string]any{"phone": "123"}},
		{"zip_code", map[string]any{"zip_code": "Z1"}, map[string]any{"zip_code": "Z1"}},
		{"country", map[string]any{"country": "FR"}, map[string]any{"country": "FR"}},
		{"state", map[string]any{"state": "Valais"}, map[string]any{"state": "Valais"}},
		{"city", map[string]any{"city": "Montreux"}, map[string]any{"city": "Montreux"}},
		{"address", map[string]any{"address": "Grand-Rue 2"}, map[string]any{"address": "Grand-Rue 2"}},
		{"longitude as a number", map[string]any{"longitude": json.Number("6.9")}, map[string]any{"longitude": "6.9"}},
		{"latitude", map[string]any{"latitude": "46.4"}, map[string]any{"latitude": "46.4"}},
		{"timezone", map[string]any{"timezone": "UTC"}, map[string]any{"timezone": "UTC"}},
		{"property_type", map[string]any{"property_type": "villa"}, map[string]any{"property_type": "villa"}},
		{"logo_url", map[string]any{"logo_url": "https://cdn.example.com/l.png"}, map[string]any{"logo_url": "https://cdn.example.com/l.png"}},
		{"website", map[string]any{"website": "https://new.example/"}, map[string]any{"website": "https://new.example/"}},
		{"facilities", map[string]any{"facilities": []any{propFacilityC}}, map[string]any{"facilities": []any{propFacilityC}}},
		{"facilities emptied", map[string]any{"facilities": []any{}}, map[string]any{"facilities": []any{}}},
		{"a flag", map[string]any{"settings": map[string]any{"allow_availability_autoupdate_on_modification": true}},
			map[string]any{"settings.allow_availability_autoupdate_on_modification": true}},
		{"min_stay_type", map[string]any{"settings": map[string]any{"min_stay_type": "through"}}, map[string]any{"settings.min_stay_type": "through"}},
		{"min_price", map[string]any{"settings": map[string]any{"min_price": "99"}}, map[string]any{"settings.min_price": "99.00"}},
		{"max_price in minor units", map[string]any{"settings": map[string]any{"max_price": 150000}}, map[string]any{"settings.max_price": "1500.00"}},
		{"state_length", map[string]any{"settings": map[string]any{"state_length": 100}}, map[string]any{"settings.state_length": 100.0}},
		{"cut_off_time", map[string]any{"settings": map[string]any{"cut_off_time": "06:00:00"}}, map[string]any{"settings.cut_off_time": "06:00:00"}},
		{"cut_off_days", map[string]any{"settings": map[string]any{"cut_off_days": 9}}, map[string]any{"settings.cut_off_days": 9.0}},
		{"max_day_advance", map[string]any{"settings": map[string]any{"max_day_advance": 0}}, map[string]any{"settings.max_day_advance": 0.0}},
		{"two settings", map[string]any{"settings": map[string]any{"cut_off_days": 2, "min_stay_type": "both"}},
			map[string]any{"settings.cut_off_days": 2.0, "settings.min_stay_type": "both"}},
		{"empty settings", map[string]any{"settings": map[string]any{}}, map[string]any{}},
		{"description", map[string]any{"content": map[string]any{"description": "New"}}, map[string]any{"content.description": "New"}},
		{"important_information", map[string]any{"content": map[string]any{"important_information": "New"}}, map[string]any{"content.important_information": "New"}},
		{"photos replaced", map[string]any{"content": map[string]any{"photos": []any{map[string]any{"url": "https://cdn.example.com/new.jpg", "position": 5}}}},
			map[string]any{"content.photos": []any{newPhoto}}},
		{"photos emptied", map[string]any{"content": map[string]any{"photos": []any{}}}, map[string]any{"content.photos": []any{}}},
		{"empty content", map[string]any{"content": map[string]any{}}, map[string]any{}},
		{"nothing", map[string]any{}, map[string]any{}},
		{"several at once", map[string]any{"city": "Sion", "settings": map[string]any{"max_day_advance": nil}, "content": map[string]any{"description": nil}},
			map[string]any{"city": "Sion", "settings.max_day_advance": nil, "content.description": nil}},

		// null clears.
		{"email null", map[string]any{"email": nil}, map[string]any{"email": nil}},
		{"phone null", map[string]any{"phone": nil}, map[string]any{"phone": nil}},
		{"zip_code null", map[string]any{"zip_code": nil}, map[string]any{"zip_code": nil}},
		{"country null", map[string]any{"country": nil}, map[string]any{"country": nil}},
		{"state null", map[string]any{"state": nil}, map[string]any{"state": nil}},
		{"city null", map[string]any{"city": nil}, map[string]any{"city": nil}},
		{"address null", map[string]any{"address": nil}, map[string]any{"address": nil}},
		{"longitude null", map[string]any{"longitude": nil}, map[string]any{"longitude": nil}},
		{"latitude null", map[string]any{"latitude": nil}, map[string]any{"latitude": nil}},
		{"timezone null", map[string]any{"timezone": nil}, map[string]any{"timezone": nil}},
		{"property_type null", map[string]any{"property_type": nil}, map[string]any{"property_type": nil}},
		{"logo_url null", map[string]any{"logo_url": nil}, map[string]any{"logo_url": nil}},
		{"website null", map[string]any{"website": nil}, map[string]any{"website": nil}},
		{"facilities null", map[string]any{"facilities": nil}, map[string]any{"facilities": []any{}}},
		{"min_price null", map[string]any{"settings": map[string]any{"min_price": nil}}, map[string]any{"settings.min_price": nil}},
		{"max_price null", map[string]any{"settings": map[string]any{"max_price": nil}}, map[string]any{"settings.max_price": nil}},
		{"both prices null", map[string]any{"settings": map[string]any{"min_price": nil, "max_price": nil}}, map[string]any{"settings.min_price": nil, "settings.max_price": nil}},
		{"max_day_advance null", map[string]any{"settings": map[string]any{"max_day_advance": nil}}, map[string]any{"settings.max_day_advance": nil}},
		{"state_length null is the default", map[string]any{"settings": map[string]any{"state_length": nil}}, map[string]any{"settings.state_length": 500.0}},
		{"description null", map[string]any{"content": map[string]any{"description": nil}}, map[string]any{"content.description": nil}},
		{"important_information null", map[string]any{"content": map[string]any{"important_information": nil}}, map[string]any{"content.important_information": nil}},
		{"photos null", map[string]any{"content": map[string]any{"photos": nil}}, map[string]any{"content.photos": []any{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.rest("POST", "/api/v1/properties", propBody(t, propFull()), session...)
			if r.code != 201 {
				t.Fatalf("create: %d %s", r.code, r.raw)
			}
			id := str(r.body, "data", "id")
			created := r
			want := full
			for path, v := range tc.want {
				want = propOverride(t, want, path, v)
			}
			want = propNormalize(t, want).(map[string]any)
			r = e.rest("PUT", "/api/v1/properties/"+id, propBody(t, tc.set), session...)
			if r.code != 200 || propIgnored(t, r) != nil {
				t.Fatalf("update: %d %s", r.code, r.raw)
			}
			if d := propDiff(propWritable(t, r), want); d != "" {
				t.Fatalf("update response:%s", d)
			}
			got := e.rest("GET", "/api/v1/properties/"+id, "", session...)
			if d := propDiff(propWritable(t, got), want); d != "" {
				t.Fatalf("read back:%s", d)
			}
			if str(got.body, "data", "attributes", "created_at") != str(created.body, "data", "attributes", "created_at") {
				t.Fatalf("created_at changed: %s", got.raw)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		r := e.rest("POST", "/api/v1/properties", propBody(t, propFull()), session...)
		id := str(r.body, "data", "id")
		before := propStable(t, e.rest("GET", "/api/v1/properties/"+id, "", session...))
		for _, tc := range []struct{ body, field string }{
			{`{"property":{"title":null}}`, "title"},
			{`{"property":{"currency":null}}`, "currency"},
			{`{"property":{"title":""}}`, "title"},
			{`{"property":{"title":null,"city":"Sion"}}`, "title"},
			{`{"property":{"settings":{"allow_availability_autoupdate_on_confirmation":false}}}`, "settings.allow_availability_autoupdate_on_confirmation"},
			// Rules are checked on the merged result.
			{`{"property":{"settings":{"min_price":"1200.01"}}}`, "settings.max_price"},
			{`{"property":{"settings":{"max_price":"80.49"}}}`, "settings.max_price"},
			{`{"property":{"currency":"JPY"}}`, "settings.min_price"},
			{`{"property":{"content":{"photos":[{"position":1}]}}}`, "content.photos[0].url"},
			{`{"property":{"facilities":["` + propFacilityA + `","` + propFacilityA + `"]}}`, "facilities[1]"},
		} {
			t.Run(tc.body, func(t *testing.T) {
				propWantFields(t, e.rest("PUT", "/api/v1/properties/"+id, tc.body, session...), tc.field)
				if d := propDiff(propStable(t, e.rest("GET", "/api/v1/properties/"+id, "", session...)), before); d != "" {
					t.Fatalf("a refused update changed the property:%s", d)
				}
			})
		}
		// Clearing both prices at once is fine, one price alone too.
		if r := e.rest("PUT", "/api/v1/properties/"+id, `{"property":{"settings":{"max_price":null}}}`, session...); r.code != 200 ||
			propAt(channexAttrs(t, r), "settings.min_price") != "80.50" || propAt(channexAttrs(t, r), "settings.max_price") != nil {
			t.Fatalf("clearing max_price: %d %s", r.code, r.raw)
		}
	})
}

// testChannexEditRoundTrip: GET a property, edit some attributes of the
// whole attributes object (read-only ones included), PUT it back: only the
// edits change and nothing is reported as ignored.
func testChannexEditRoundTrip(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	for _, start := range []string{propBody(t, propFull()), `{"property":{"title":"Sparse","currency":"EUR"}}`} {
		r := e.rest("POST", "/api/v1/properties", start, session...)
		if r.code != 201 {
			t.Fatalf("create: %d %s", r.code, r.raw)
		}
		id := str(r.body, "data", "id")
		before := e.rest("GET", "/api/v1/properties/"+id, "", session...)
		attrs := propNormalize(t, channexAttrs(t, before)).(map[string]any)
		edited := propOverride(t, attrs, "title", "Edited")
		edited = propOverride(t, edited, "city", "Lausanne")
		edited = propOverride(t, edited, "settings.cut_off_days", 4)
		edited = propOverride(t, edited, "content.important_information", "Edited info")
		r = e.rest("PUT", "/api/v1/properties/"+id, propBody(t, edited), session...)
		if r.code != 200 || get(r.body, "meta") != nil {
			t.Fatalf("PUT of the edited attributes: %d %s", r.code, r.raw)
		}
		after := e.rest("GET", "/api/v1/properties/"+id, "", session...)
		want := propStable(t, before).(map[string]any)
		a := want["attributes"].(map[string]any)
		a["title"], a["city"] = "Edited", "Lausanne"
		a["settings"].(map[string]any)["cut_off_days"] = 4.0
		a["content"].(map[string]any)["important_information"] = "Edited info"
		if d := propDiff(propStable(t, after), want); d != "" {
			t.Fatalf("after the round trip:%s", d)
		}
		// Sent back unedited, it changes nothing.
		r = e.rest("PUT", "/api/v1/properties/"+id, propBody(t, channexAttrs(t, after)), session...)
		if d := propDiff(propStable(t, r), propStable(t, after)); d != "" || get(r.body, "meta") != nil {
			t.Fatalf("an unedited round trip:%s\n%s", d, r.raw)
		}
	}
}

// channexDo sends one request without the test's helpers, so that it can
// run in any goroutine.
func channexDo(baseURL, method, path, body string, headers ...string) (int, string, error) {
	req, err := http.NewRequest(method, baseURL+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), err
}

// testChannexConcurrentUpdates: PUTs of different attributes of one
// property, at the same moment, all survive (no lost update), top-level
// and inside settings and content.
func testChannexConcurrentUpdates(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	const properties, rounds = 4, 12
	// Each writer owns one attribute; all write at once, many rounds.
	writers := []struct {
		path string
		body func(i int) string
		want func(i int) any
	}{
		{"email", func(i int) string { return fmt.Sprintf(`{"property":{"email":"w%d@hotel.example"}}`, i) }, func(i int) any { return fmt.Sprintf("w%d@hotel.example", i) }},
		{"city", func(i int) string { return fmt.Sprintf(`{"property":{"city":"City %d"}}`, i) }, func(i int) any { return fmt.Sprintf("City %d", i) }},
		{"settings.cut_off_days", func(i int) string { return fmt.Sprintf(`{"property":{"settings":{"cut_off_days":%d}}}`, i) }, func(i int) any { return float64(i) }},
		{"settings.max_day_advance", func(i int) string { return fmt.Sprintf(`{"property":{"settings":{"max_day_advance":%d}}}`, i+100) }, func(i int) any { return float64(i + 100) }},
		{"content.description", func(i int) string { return fmt.Sprintf(`{"property":{"content":{"description":"D%d"}}}`, i) }, func(i int) any { return fmt.Sprintf("D%d", i) }},
		{"content.photos.0.url", func(i int) string {
			return fmt.Sprintf(`{"property":{"content":{"photos":[{"url":"https://cdn.example.com/%d.jpg"}]}}}`, i)
		}, func(i int) any { return fmt.Sprintf("https://cdn.example.com/%d.jpg", i) }},
	}
	ids := make([]string, properties)
	for p := range ids {
		ids[p] = e.newProperty(u, fmt.Sprintf("Contended %d", p))
	}
	for i := 1; i <= rounds; i++ {
		var wg sync.WaitGroup
		errs := make(chan string, properties*len(writers))
		for _, id := range ids {
			for _, w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, raw, err := channexDo(e.baseURL, "PUT", "/api/v1/properties/"+id, w.body(i), session...)
					if err != nil || code != 200 {
						errs <- fmt.Sprintf("PUT %s: %d %v %s", w.body(i), code, err, raw)
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for msg := range errs {
			t.Fatal(msg)
		}
		for _, id := range ids {
			got := e.rest("GET", "/api/v1/properties/"+id, "", session...)
			a := channexAttrs(t, got)
			for _, w := range writers {
				if v := propAt(a, w.path); v != w.want(i) {
					t.Fatalf("round %d: %s = %v, want %v: a lost update\n%s", i, w.path, v, w.want(i), got.raw)
				}
			}
			if a["title"] == nil || a["currency"] != "EUR" {
				t.Fatalf("round %d: %s", i, got.raw)
			}
		}
	}
}

// testChannexIgnoredAttributes: Channex bodies ignore and list unknown
// attributes; read-only ones pass silently; keygate's own bodies refuse
// unknown ones.
func testChannexIgnoredAttributes(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	groupID := str(e.rest("GET", "/api/v1/groups/options", "", session...).body, "data", 0, "id")
	body := `{"property":{"title":"Ignoring","currency":"EUR","stars":4,"group_id":"` + groupID + `","id":"x","is_active":false,
		"acc_channels_count":3,"created_at":"2020-01-01T00:00:00Z","updated_at":null,
		"settings":{"min_price":"1","foo":true},"content":{"logo_url":"https://x.example/l.png","website":"w","photos":[{"url":"https://x.example/p.jpg","tags":["a"]}]}}}`
	wantIgnored := []string{"content.logo_url", "content.photos[0].tags", "content.website", "settings.foo", "stars"}
	r := e.rest("POST", "/api/v1/properties", body, session...)
	if r.code != 201 || !slices.Equal(propIgnored(t, r), wantIgnored) {
		t.Fatalf("create: %d %s, want ignored %v", r.code, r.raw, wantIgnored)
	}
	a := channexAttrs(t, r)
	if a["logo_url"] != nil || a["website"] != nil || a["is_active"] != true || a["acc_channels_count"] != 0.0 ||
		propAt(a, "settings.min_price") != "1.00" || strings.HasPrefix(str(a, "created_at"), "2020") || a["id"] == "x" {
		t.Fatalf("an ignored attribute was taken: %s", r.raw)
	}
	id := str(r.body, "data", "id")
	r = e.rest("PUT", "/api/v1/properties/"+id, body, session...)
	if r.code != 200 || !slices.Equal(propIgnored(t, r), wantIgnored) {
		t.Fatalf("update: %d %s", r.code, r.raw)
	}
	// Only read-only attributes: nothing listed, no meta at all.
	r = e.rest("PUT", "/api/v1/properties/"+id, `{"property":{"id":"`+id+`","is_active":true,"acc_channels_count":0,"city":"Bern"}}`, session...)
	if r.code != 200 || get(r.body, "meta") != nil || str(r.body, "data", "attributes", "city") != "Bern" {
		t.Fatalf("read-only attributes: %d %s", r.code, r.raw)
	}
	// Lists and reads never carry ignored_attributes.
	if r := e.rest("GET", "/api/v1/properties/"+id, "", session...); get(r.body, "meta") != nil {
		t.Fatalf("get: %s", r.raw)
	}

	// The invite and the property_user bodies are Channex resources too.
	r = e.rest("POST", "/api/v1/property_users", `{"invite":{"property_id":"`+id+`","user_email":"ignored-`+store.NewID()[:8]+`@example.com","role":"user","group_id":"g","nick":"x"}}`, session...)
	if r.code != 201 || !slices.Equal(propIgnored(t, r), []string{"group_id", "nick"}) {
		t.Fatalf("invite: %d %s", r.code, r.raw)
	}
	pu := str(r.body, "data", "id")
	r = e.rest("PUT", "/api/v1/property_users/"+pu, `{"property_user":{"role":"owner","colour":"red","id":"`+pu+`","status":"active","user_email":"other@example.com"}}`, session...)
	if r.code != 200 || !slices.Equal(propIgnored(t, r), []string{"colour"}) || str(r.body, "data", "attributes", "role") != "owner" ||
		strings.Contains(r.raw, "other@example.com") {
		t.Fatalf("property user update: %d %s", r.code, r.raw)
	}
	// keygate's own bodies stay strict.
	wantError(t, e.rest("POST", "/api/v1/api_keys", `{"api_key":{"name":"k","all_properties":true,"colour":"red"}}`, session...), 400, "bad_request")
	wantError(t, e.rest("POST", "/api/v1/sign_in", `{"user":{"email":"`+u.email+`","password":"`+u.password+`","remember":true}}`), 400, "bad_request")
	if r := e.rest("GET", "/api/v1/api_keys", "", session...); r.code != 200 || len(get(r.body, "data").([]any)) != 0 {
		t.Fatalf("a refused key was created: %d %s", r.code, r.raw)
	}
}

// testChannexWrongTypes: values of the wrong JSON type are 422s naming
// each attribute by its REST path, all at once, never a protobuf name.
func testChannexWrongTypes(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	r := e.rest("POST", "/api/v1/properties", `{"property":{"title":5,"currency":"EUR"}}`, session...)
	if d := propDiff(get(r.body, "errors"), map[string]any{"code": "validation_error", "title": "Validation Error",
		"details": map[string]any{"title": []any{"must be a string"}}}); r.code != 422 || d != "" {
		t.Fatalf("title 5: %d%s", r.code, d)
	}
	id := e.newProperty(u, "Typed")
	before := propStable(t, e.rest("GET", "/api/v1/properties/"+id, "", session...))
	body := `{"property":{"title":["T"],"currency":1,"email":false,"longitude":{},"latitude":[1],"facilities":"all",
		"settings":{"min_price":{"amount":1},"max_price":1.5,"state_length":"long","cut_off_days":2.5,"allow_availability_autoupdate_on_cancellation":"no","max_day_advance":true},
		"content":{"description":7,"photos":[{"url":"https://x.example/a.jpg","position":"1"},{"url":["u"]},"photo"]}}}`
	fields := []string{"title", "currency", "email", "longitude", "latitude", "facilities",
		"settings.min_price", "settings.max_price", "settings.state_length", "settings.cut_off_days",
		"settings.allow_availability_autoupdate_on_cancellation", "settings.max_day_advance",
		"content.description", "content.photos[1].url", "content.photos[2]"}
	for _, method := range []string{"POST", "PUT"} {
		path := "/api/v1/properties"
		if method == "PUT" {
			path += "/" + id
		}
		r := e.rest(method, path, body, session...)
		propWantFields(t, r, fields...)
		for _, name := range []string{"minPrice", "maxPrice", "stateLength", "MinPrice", "PropertyInput", "keygate.v1", "proto"} {
			if strings.Contains(r.raw, name) {
				t.Fatalf("%s: a protobuf or Go name in %s", method, r.raw)
			}
		}
	}
	if d := propDiff(propStable(t, e.rest("GET", "/api/v1/properties/"+id, "", session...)), before); d != "" {
		t.Fatalf("a refused update changed the property:%s", d)
	}
	// A position given as a numeric string is an integer, as in JSON APIs
	// generally; the photo above was fine.
	r = e.rest("PUT", "/api/v1/properties/"+id, `{"property":{"content":{"photos":[{"url":"https://x.example/a.jpg","position":"3"}]}}}`, session...)
	if r.code != 200 || propAt(channexAttrs(t, r), "content.photos.0.position") != 3.0 {
		t.Fatalf("position as a string: %d %s", r.code, r.raw)
	}
	// Wrongly typed invites.
	r = e.rest("POST", "/api/v1/property_users", `{"invite":{"property_id":"`+id+`","user_email":5,"role":"user","overrides":[1]}}`, session...)
	propWantFields(t, r, "user_email", "overrides")
}

// testChannexHostileBytes: NUL characters and invalid UTF-8 in the body,
// the path or the query are a 400, never a 500, and change nothing.
func testChannexHostileBytes(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	id := e.newProperty(u, "Hostile")
	before := propStable(t, e.rest("GET", "/api/v1/properties/"+id, "", session...))
	count := func() any {
		return get(e.rest("GET", "/api/v1/properties", "", session...).body, "meta", "total")
	}
	n := count()
	for _, tc := range []struct {
		name, method, path, body string
	}{
		// Bodies.
		{"NUL in title", "POST", "/api/v1/properties", `{"property":{"title":"A\u0000B","currency":"EUR"}}`},
		{"NUL in title, PUT", "PUT", "/api/v1/properties/" + id, `{"property":{"title":"A\u0000B"}}`},
		{"NUL in a setting", "PUT", "/api/v1/properties/" + id, `{"property":{"settings":{"cut_off_time":"\u0000"}}}`},
		{"NUL in a price", "PUT", "/api/v1/properties/" + id, `{"property":{"settings":{"min_price":"1\u0000"}}}`},
		{"NUL in a coordinate", "PUT", "/api/v1/properties/" + id, `{"property":{"latitude":"1\u0000"}}`},
		{"NUL in a photo", "PUT", "/api/v1/properties/" + id, `{"property":{"content":{"photos":[{"url":"https://x.example/\u0000"}]}}}`},
		{"NUL in a facility", "PUT", "/api/v1/properties/" + id, `{"property":{"facilities":["\u0000"]}}`},
		{"NUL in an unknown attribute's value", "PUT", "/api/v1/properties/" + id, `{"property":{"stars":"\u0000"}}`},
		{"NUL in an attribute name", "PUT", "/api/v1/properties/" + id, `{"property":{"sta\u0000rs":1}}`},
		{"NUL in a nested attribute name", "PUT", "/api/v1/properties/" + id, `{"property":{"settings":{"\u0000":1}}}`},
		{"raw NUL byte", "PUT", "/api/v1/properties/" + id, "{\"property\":{\"title\":\"A\x00B\"}}"},
		{"invalid UTF-8 in title", "POST", "/api/v1/properties", "{\"property\":{\"title\":\"A\xffB\",\"currency\":\"EUR\"}}"},
		{"invalid UTF-8 in title, PUT", "PUT", "/api/v1/properties/" + id, "{\"property\":{\"title\":\"A\xc3\x28\"}}"},
		{"invalid UTF-8 in a name", "PUT", "/api/v1/properties/" + id, "{\"property\":{\"\xfe\":1}}"},
		{"overlong UTF-8", "PUT", "/api/v1/properties/" + id, "{\"property\":{\"city\":\"\xc0\xaf\"}}"},
		{"NUL in an invite", "POST", "/api/v1/property_users", `{"invite":{"property_id":"` + id + `","user_email":"a\u0000@example.com","role":"user"}}`},
		{"NUL in overrides", "POST", "/api/v1/property_users", `{"invite":{"property_id":"` + id + `","user_email":"nul@example.com","role":"user","overrides":{"k":"\u0000"}}}`},
		{"NUL in a key name", "POST", "/api/v1/api_keys", `{"api_key":{"name":"\u0000","all_properties":true}}`},
		{"invalid UTF-8 in sign-in", "POST", "/api/v1/sign_in", "{\"user\":{\"email\":\"\xff\",\"password\":\"x\"}}"},
		// Paths.
		{"path %FF", "GET", "/api/v1/properties/%FF", ""},
		{"path %00", "GET", "/api/v1/properties/%00", ""},
		{"path id with %00", "GET", "/api/v1/properties/" + id + "%00", ""},
		{"path overlong", "GET", "/api/v1/properties/%C0%AF", ""},
		{"PUT path %FF", "PUT", "/api/v1/properties/%FF", `{"property":{"title":"X"}}`},
		{"DELETE path %00", "DELETE", "/api/v1/properties/%00", ""},
		{"property user path %FF", "GET", "/api/v1/property_users/%FF", ""},
		{"api key path %00", "DELETE", "/api/v1/api_keys/%00", ""},
		// Queries.
		{"query value %00", "GET", "/api/v1/properties?filter[title]=%00", ""},
		{"query value %FF", "GET", "/api/v1/properties?filter%5Btitle%5D=%FF", ""},
		{"query key %00", "GET", "/api/v1/properties?%00=1", ""},
		{"query key %FF", "GET", "/api/v1/properties?filter[%FF]=1", ""},
		{"unknown query parameter %FF", "GET", "/api/v1/properties?utm=%FF", ""},
		{"query on a get", "GET", "/api/v1/properties/" + id + "?x=%00", ""},
		{"query on options", "GET", "/api/v1/properties/options?x=%FE", ""},
		{"query on a delete", "DELETE", "/api/v1/properties/" + id + "?force=%00", ""},
		{"query on property users", "GET", "/api/v1/property_users?filter[property_id]=" + id + "%00", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.rest(tc.method, tc.path, tc.body, session...)
			wantError(t, r, 400, "bad_request")
			if str(r.body, "errors", "title") != "Bad Request" {
				t.Fatalf("title: %s", r.raw)
			}
		})
	}
	if count() != n {
		t.Fatal("a refused request created a property")
	}
	if d := propDiff(propStable(t, e.rest("GET", "/api/v1/properties/"+id, "", session...)), before); d != "" {
		t.Fatalf("a refused request changed the property:%s", d)
	}
	if r := e.rest("GET", "/api/v1/property_users?filter[property_id]="+id, "", session...); get(r.body, "meta", "total") != 1.0 {
		t.Fatalf("a refused invitation was stored: %s", r.raw)
	}
	// Valid UTF-8 beyond ASCII, and escapes of it, are fine.
	r := e.rest("PUT", "/api/v1/properties/"+id, `{"property":{"city":"Z\u00fcrich 湖 🏨"}}`, session...)
	if r.code != 200 || str(r.body, "data", "attributes", "city") != "Zürich 湖 🏨" {
		t.Fatalf("unicode: %d %s", r.code, r.raw)
	}
	if r := e.rest("GET", "/api/v1/properties?filter[title]=%E6%B9%96", "", session...); r.code != 200 {
		t.Fatalf("a UTF-8 query: %d %s", r.code, r.raw)
	}
}

// testChannexClientReplay replays, over HTTP, the requests that real
// Channex clients send (an axios client, an apollo REST data source, an
// httpx client) and checks the answers field by field.
func testChannexClientReplay(t *testing.T, e *env) {
	u := e.newUser(true)
	// axios and httpx send JSON with these headers, the key in user-api-key.
	key := e.newKey(u).GetApiKey()
	hdr := []string{"user-api-key", key, "Content-Type", "application/json", "Accept", "application/json, text/plain, */*"}
	// The caller's group, as a Channex client would have listed it.
	groupID := str(e.rest("GET", "/api/v1/groups", "", hdr...).body, "data", 0, "id")

	// Create, as Channex's own documentation shows it: facilities [],
	// group_id, prices null, then numbers in price fields.
	create := `{"property":{"title":"Demo Hotel","currency":"GBP","email":"hotel@channex.io","phone":"01267237037",
		"zip_code":"SA23 2JH","country":"GB","state":"Demo State","city":"Demo Town","address":"Demo Street",
		"longitude":"-0.2416781","latitude":"51.5285582","timezone":"Europe/London","facilities":[],
		"property_type":"hotel","group_id":"` + groupID + `",
		"settings":{"allow_availability_autoupdate_on_confirmation":true,"allow_availability_autoupdate_on_modification":false,
			"allow_availability_autoupdate_on_cancellation":false,"min_stay_type":"both","min_price":null,"max_price":null,
			"state_length":500,"cut_off_time":"00:00:00","cut_off_days":0,"max_day_advance":null},
		"content":{"description":"Some Property Description Text","important_information":"Some important notes about property",
			"photos":[{"author":"Author Name","description":"Room View","kind":"photo","position":0,"url":"https://img.channex.io/af08bc1d-8074-476c-bdb7-cec931edaf6a/"}]},
		"logo_url":"https://img.channex.io/logo.png","website":"https://channex.io"}}`
	r := e.rest("POST", "/api/v1/properties", create, hdr...)
	if r.code != 201 || str(r.body, "data", "type") != "property" {
		t.Fatalf("create: %d %s", r.code, r.raw)
	}
	if get(r.body, "meta") != nil || str(r.body, "data", "relationships", "groups", "data", 0, "id") != groupID {
		t.Fatalf("create: the group or meta: %s", r.raw)
	}
	id := str(r.body, "data", "id")
	a := channexAttrs(t, r)
	for path, want := range map[string]any{
		"id": id, "title": "Demo Hotel", "currency": "GBP", "email": "hotel@channex.io", "phone": "01267237037",
		"zip_code": "SA23 2JH", "country": "GB", "state": "Demo State", "city": "Demo Town", "address": "Demo Street",
		"longitude": "-0.2416781", "latitude": "51.5285582", "timezone": "Europe/London", "property_type": "hotel",
		"logo_url": "https://img.channex.io/logo.png", "website": "https://channex.io", "is_active": true, "acc_channels_count": 0.0,
		"settings.allow_availability_autoupdate_on_confirmation": true, "settings.allow_availability_autoupdate_on_modification": false,
		"settings.allow_availability_autoupdate_on_cancellation": false, "settings.min_stay_type": "both",
		"settings.min_price": nil, "settings.max_price": nil, "settings.state_length": 500.0, "settings.cut_off_time": "00:00:00",
		"settings.cut_off_days": 0.0, "settings.max_day_advance": nil,
		"content.description": "Some Property Description Text", "content.important_information": "Some important notes about property",
		"content.photos.0.author": "Author Name", "content.photos.0.description": "Room View", "content.photos.0.kind": "photo",
		"content.photos.0.position": 0.0, "content.photos.0.url": "https://img.channex.io/af08bc1d-8074-476c-bdb7-cec931edaf6a/",
	} {
		if got := propAt(a, path); got != want {
			t.Fatalf("create: %s = %#v, want %#v\n%s", path, got, want, r.raw)
		}
	}
	if l, ok := a["facilities"].([]any); !ok || len(l) != 0 {
		t.Fatalf("facilities: %s", r.raw)
	}
	if l, ok := propAt(a, "content.photos").([]any); !ok || len(l) != 1 {
		t.Fatalf("photos: %s", r.raw)
	}
	created := e.rest("GET", "/api/v1/properties/"+id, "", hdr...)
	e.newProperty(u, "Another Hotel")

	// Lists: axios's raw brackets, percent-encoded ones, the trailing slash
	// of Channex's docs.
	for _, q := range []string{
		"/api/v1/properties?filter[title]=demo&pagination[page]=1&pagination[limit]=10",
		"/api/v1/properties/?filter[title]=demo&pagination[page]=1&pagination[limit]=10",
		"/api/v1/properties?filter%5Btitle%5D=demo&pagination%5Bpage%5D=1&pagination%5Blimit%5D=10",
		"/api/v1/properties/?filter%5Btitle%5D=Demo%20Hotel&pagination%5Bpage%5D=1&pagination%5Blimit%5D=10&order%5Btitle%5D=asc",
		"/api/v1/properties?filter[id]=" + id + "&pagination[page]=1&pagination[limit]=10",
	} {
		r := e.rest("GET", q, "", hdr...)
		if r.code != 200 || propDiff(get(r.body, "meta"), map[string]any{"page": 1.0, "limit": 10.0, "total": 1.0}) != "" {
			t.Fatalf("GET %s: %d %s", q, r.code, r.raw)
		}
		if d := propDiff(get(r.body, "data"), []any{get(created.body, "data")}); d != "" {
			t.Fatalf("GET %s:%s", q, d)
		}
	}
	for _, q := range []string{"/api/v1/properties/", "/api/v1/properties?pagination[page]=2&pagination[limit]=1", "/api/v1/properties/?pagination%5Bpage%5D=2&pagination%5Blimit%5D=1"} {
		r := e.rest("GET", q, "", hdr...)
		if r.code != 200 || get(r.body, "meta", "total") != 2.0 {
			t.Fatalf("GET %s: %d %s", q, r.code, r.raw)
		}
	}
	r = e.rest("GET", "/api/v1/properties/?pagination[page]=2&pagination[limit]=1", "", hdr...)
	if str(r.body, "data", 0, "attributes", "title") != "Demo Hotel" || len(get(r.body, "data").([]any)) != 1 ||
		propDiff(get(r.body, "meta"), map[string]any{"page": 2.0, "limit": 1.0, "total": 2.0}) != "" {
		t.Fatalf("the second page: %s", r.raw)
	}
	if r := e.rest("GET", "/api/v1/properties/"+id+"/", "", hdr...); r.code != 200 || r.raw != created.raw {
		t.Fatalf("GET with a trailing slash: %d %s", r.code, r.raw)
	}

	// Partial updates, as the clients send them.
	r = e.rest("PUT", "/api/v1/properties/"+id, `{"property":{"title":"Demo Hotel Renamed"}}`, hdr...)
	if r.code != 200 || str(r.body, "data", "attributes", "title") != "Demo Hotel Renamed" ||
		str(r.body, "data", "attributes", "email") != "hotel@channex.io" || str(r.body, "data", "attributes", "content", "description") != "Some Property Description Text" {
		t.Fatalf("a title alone: %d %s", r.code, r.raw)
	}
	r = e.rest("PUT", "/api/v1/properties/"+id+"/", `{"property":{"settings":{"min_price":10000,"max_price":25050}}}`, hdr...)
	if r.code != 200 || propAt(channexAttrs(t, r), "settings.min_price") != "100.00" || propAt(channexAttrs(t, r), "settings.max_price") != "250.50" ||
		propAt(channexAttrs(t, r), "settings.state_length") != 500.0 || str(r.body, "data", "attributes", "title") != "Demo Hotel Renamed" {
		t.Fatalf("numbers in price fields: %d %s", r.code, r.raw)
	}
	r = e.rest("PUT", "/api/v1/properties/"+id, `{"property":{"latitude":51.5,"longitude":-0.25,"facilities":[],"group_id":"`+groupID+`"}}`, hdr...)
	if r.code != 200 || str(r.body, "data", "attributes", "latitude") != "51.5" || str(r.body, "data", "attributes", "longitude") != "-0.25" ||
		get(r.body, "meta") != nil {
		t.Fatalf("numbers as coordinates: %d %s", r.code, r.raw)
	}
	r = e.rest("PUT", "/api/v1/properties/"+id, `{"property":{"email":null,"content":{"photos":[]}}}`, hdr...)
	if r.code != 200 || get(r.body, "data", "attributes", "email") != nil || !strings.Contains(r.raw, `"email":null`) ||
		len(propAt(channexAttrs(t, r), "content.photos").([]any)) != 0 || str(r.body, "data", "attributes", "phone") != "01267237037" {
		t.Fatalf("null and an empty photo list: %d %s", r.code, r.raw)
	}
	// The final state, field by field.
	got := e.rest("GET", "/api/v1/properties/"+id, "", hdr...)
	want := propNormalize(t, channexAttrs(t, created)).(map[string]any)
	want["title"], want["email"], want["latitude"], want["longitude"] = "Demo Hotel Renamed", nil, "51.5", "-0.25"
	want["settings"].(map[string]any)["min_price"], want["settings"].(map[string]any)["max_price"] = "100.00", "250.50"
	want["content"].(map[string]any)["photos"] = []any{}
	delete(want, "updated_at")
	ga := propNormalize(t, channexAttrs(t, got)).(map[string]any)
	delete(ga, "updated_at")
	if d := propDiff(ga, want); d != "" {
		t.Fatalf("after the updates:%s", d)
	}

	// Options, then delete with force.
	r = e.rest("GET", "/api/v1/properties/options", "", hdr...)
	if r.code != 200 || len(get(r.body, "data").([]any)) != 2 || get(r.body, "meta") != nil {
		t.Fatalf("options: %d %s", r.code, r.raw)
	}
	for i := range get(r.body, "data").([]any) {
		if str(r.body, "data", i, "type") != "properties" || propDiff(get(r.body, "data", i, "attributes", "group_ids"), []any{groupID}) != "" {
			t.Fatalf("options: %s", r.raw)
		}
	}
	r = e.rest("DELETE", "/api/v1/properties/"+id+"?force=true", "", hdr...)
	if r.code != 200 || propDiff(r.body, map[string]any{"meta": map[string]any{"message": "Success"}}) != "" {
		t.Fatalf("delete: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/properties/"+id, "", hdr...), 404, "resource_not_found")
}
