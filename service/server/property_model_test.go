package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/store"
)

// The full Channex property model over REST: every writable attribute and
// its rules, read-only and unknown attributes, PUT as a partial update, the
// list queries and the options list.

// propOmitted, given as an override, leaves the attribute out of the body.
type propOmitted struct{}

var propOmit = propOmitted{}

// propReadOnly are the attributes a response carries that no request can
// change.
var propReadOnly = []string{"id", "is_active", "acc_channels_count", "created_at", "updated_at"}

// Facility ids of the fixtures (lower-case UUIDs).
const (
	propFacilityA = "0b6c7d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e"
	propFacilityB = "f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b"
	propFacilityC = "7a7a7a7a-1b1b-4c2c-9d3d-4e4e4e4e4e4e"
)

// propFull is a property with every writable attribute set to a valid,
// non-default value. Decimal strings carry trailing zeros that must
// survive; the photos are deliberately not in position order and the
// facilities not in sorted order.
func propFull() map[string]any {
	return map[string]any{
		"title":         "Grand Hôtel du Lac",
		"currency":      "CHF",
		"email":         "reservations@grand-hotel.example",
		"phone":         "+41 21 331 31 31",
		"zip_code":      "1800",
		"country":       "CH",
		"state":         "Vaud",
		"city":          "Vevey",
		"address":       "Rue d'Italie 1",
		"longitude":     "6.8419190",
		"latitude":      "46.4628333",
		"timezone":      "Europe/Zurich",
		"property_type": "hotel",
		"logo_url":      "https://cdn.example.com/logo.svg",
		"website":       "http://grand-hotel.example/",
		"facilities":    []any{propFacilityB, propFacilityA},
		"settings": map[string]any{
			"allow_availability_autoupdate_on_confirmation": true,
			"allow_availability_autoupdate_on_modification": false,
			"allow_availability_autoupdate_on_cancellation": true,
			"min_stay_type":   "arrival",
			"min_price":       "80.50",
			"max_price":       "1200.00",
			"state_length":    365,
			"cut_off_time":    "18:30:00",
			"cut_off_days":    1,
			"max_day_advance": 180,
		},
		"content": map[string]any{
			"description":           "A lakeside palace. Über schön — 湖畔のホテル",
			"important_information": "Check-in from 15:00.\nNo pets.",
			"photos": []any{
				map[string]any{"url": "https://cdn.example.com/lobby.jpg", "position": 2, "description": "Lobby", "author": "A. Photographer", "kind": "photo"},
				map[string]any{"url": "http://cdn.example.com/offer.png", "position": 0, "description": "Summer offer", "author": nil, "kind": "ad"},
				map[string]any{"url": "https://cdn.example.com/menu.pdf?v=2", "position": 1, "description": nil, "author": "Chef", "kind": "menu"},
			},
		},
	}
}

func propDefaultSettings() map[string]any {
	return map[string]any{
		"allow_availability_autoupdate_on_confirmation": true,
		"allow_availability_autoupdate_on_modification": false,
		"allow_availability_autoupdate_on_cancellation": false,
		"min_stay_type":   "both",
		"min_price":       nil,
		"max_price":       nil,
		"state_length":    500,
		"cut_off_time":    "00:00:00",
		"cut_off_days":    0,
		"max_day_advance": nil,
	}
}

func propDefaultContent() map[string]any {
	return map[string]any{
		"description":           nil,
		"important_information": nil,
		"photos":                []any{},
	}
}

// propOptional are the top-level attributes that are null when unset.
var propOptional = []string{"email", "phone", "zip_code", "country", "state", "city", "address",
	"longitude", "latitude", "timezone", "property_type", "logo_url", "website"}

// propDefaults is what reads back for a property given only a title and a
// currency: every other attribute null or at its default.
func propDefaults(title, currency string) map[string]any {
	p := map[string]any{"title": title, "currency": currency, "facilities": []any{},
		"settings": propDefaultSettings(), "content": propDefaultContent()}
	for _, k := range propOptional {
		p[k] = nil
	}
	return p
}

// propNormalize returns v as encoding/json decodes it (numbers become
// float64, slices []any), so that expectations compare with responses.
func propNormalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// propOverride returns a deep copy of base with the attribute at the
// dotted path (array indexes as numbers: content.photos.0.url) set to v,
// or removed when v is propOmit. v itself is not normalized, so a
// json.Number goes into the body exactly as written.
func propOverride(t *testing.T, base map[string]any, path string, v any) map[string]any {
	t.Helper()
	out := propNormalize(t, base).(map[string]any)
	_, omit := v.(propOmitted)
	var parent any = out
	keys := strings.Split(path, ".")
	for i, k := range keys {
		last := i == len(keys)-1
		switch p := parent.(type) {
		case map[string]any:
			if last {
				if omit {
					delete(p, k)
				} else {
					p[k] = v
				}
				return out
			}
			parent = p[k]
		case []any:
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 || n >= len(p) || (last && omit) {
				t.Fatalf("cannot override %s in the base property", path)
			}
			if last {
				p[n] = v
				return out
			}
			parent = p[n]
		default:
			t.Fatalf("no %s in the base property", path)
		}
	}
	return out
}

// propAt reads the attribute at a dotted path of decoded JSON.
func propAt(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		if n, err := strconv.Atoi(k); err == nil {
			v = get(v, n)
		} else {
			v = get(v, k)
		}
	}
	return v
}

// propField is the attribute path the API reports for a dotted path:
// array indexes in brackets (content.photos.0.url → content.photos[0].url).
func propField(path string) string {
	var b strings.Builder
	for i, k := range strings.Split(path, ".") {
		if _, err := strconv.Atoi(k); err == nil {
			b.WriteString("[" + k + "]")
			continue
		}
		if i > 0 {
			b.WriteString(".")
		}
		b.WriteString(k)
	}
	return b.String()
}

// propBody is the request body {"property":{…}}.
func propBody(t *testing.T, p map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"property": p})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// propWritable returns the attributes of a property response without the
// read-only ones, for comparison with what was sent.
func propWritable(t *testing.T, r response) map[string]any {
	t.Helper()
	attrs, ok := get(r.body, "data", "attributes").(map[string]any)
	if !ok {
		t.Fatalf("no attributes: %d %s", r.code, r.raw)
	}
	out := map[string]any{}
	for k, v := range attrs {
		if !slices.Contains(propReadOnly, k) {
			out[k] = v
		}
	}
	return out
}

// propStable is a property response without updated_at: what a refused
// or a no-op update must leave as it was.
func propStable(t *testing.T, r response) any {
	t.Helper()
	if r.code != 200 {
		t.Fatalf("get: %d %s", r.code, r.raw)
	}
	data := propNormalize(t, get(r.body, "data")).(map[string]any)
	delete(data["attributes"].(map[string]any), "updated_at")
	return data
}

// propIgnored returns meta.ignored_attributes of a response, sorted; nil
// when there is none.
func propIgnored(t *testing.T, r response) []string {
	t.Helper()
	raw, ok := get(r.body, "meta", "ignored_attributes").([]any)
	if get(r.body, "meta", "ignored_attributes") != nil && !ok {
		t.Fatalf("ignored_attributes is not a list: %s", r.raw)
	}
	var out []string
	for _, v := range raw {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("ignored_attributes holds a non-string: %s", r.raw)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// propDetails returns the field → messages map of a 422 response.
func propDetails(t *testing.T, r response) map[string]any {
	t.Helper()
	wantError(t, r, 422, "validation_error")
	if str(r.body, "errors", "title") != "Validation Error" {
		t.Fatalf("title of a 422: %s", r.raw)
	}
	details, ok := get(r.body, "errors", "details").(map[string]any)
	if !ok {
		t.Fatalf("details are not an object: %s", r.raw)
	}
	for field, msgs := range details {
		l, _ := msgs.([]any)
		if len(l) == 0 {
			t.Fatalf("no messages for %s: %s", field, r.raw)
		}
		for _, m := range l {
			if s, _ := m.(string); s == "" {
				t.Fatalf("an empty message for %s: %s", field, r.raw)
			}
		}
	}
	return details
}

// propWantFields checks that a 422 names exactly these fields.
func propWantFields(t *testing.T, r response, fields ...string) {
	t.Helper()
	details := propDetails(t, r)
	got := make([]string, 0, len(details))
	for f := range details {
		got = append(got, f)
	}
	slices.Sort(got)
	want := slices.Clone(fields)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("details name %v, want %v: %s", got, want, r.raw)
	}
}

// propDiff describes how two decoded JSON values differ, or is "".
func propDiff(got, want any) string {
	if reflect.DeepEqual(got, want) {
		return ""
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	return fmt.Sprintf("\n got: %s\nwant: %s", g, w)
}

// propRule is one value of one attribute: accepted (field empty, and the
// property then reads back want at path) or refused with a 422 naming
// field and nothing else.
type propRule struct {
	path  string
	value any
	want  any
	field string
}

func (r propRule) name() string {
	v := fmt.Sprintf("%v", r.value)
	if _, ok := r.value.(propOmitted); ok {
		v = "omitted"
	} else if r.value == nil {
		v = "null"
	} else if _, ok := r.value.(json.Number); ok {
		v = "number " + v
	}
	if n := []rune(v); len(n) > 24 {
		v = string(n[:12]) + fmt.Sprintf("…(%d)", len(n))
	}
	verdict := "ok"
	if r.field != "" {
		verdict = "bad"
	}
	return verdict + " " + r.path + "=" + v
}

// propRules is the rule table of CONTRACT §5, one row per value. Every row
// is sent as the whole property (propFull with one attribute changed), so
// that on PUT the merged result is exactly what was sent.
func propRules() []propRule {
	var rows []propRule
	ok := func(path string, values ...any) {
		for _, v := range values {
			rows = append(rows, propRule{path: path, value: v, want: v})
		}
	}
	okAs := func(path string, value, want any) {
		rows = append(rows, propRule{path: path, value: value, want: want})
	}
	// clear: an optional attribute given as "" or null reads back null.
	clear := func(path string) {
		okAs(path, "", nil)
		ok(path, nil)
	}
	bad := func(path string, values ...any) {
		for _, v := range values {
			rows = append(rows, propRule{path: path, value: v, field: propField(path)})
		}
	}
	badAt := func(path string, value any, field string) {
		rows = append(rows, propRule{path: path, value: value, field: field})
	}
	num := func(s string) json.Number { return json.Number(s) }
	rep := strings.Repeat

	// title: required, at most 255 characters (runes, not bytes).
	ok("title", "T", rep("a", 255), rep("é", 255), rep("🏨", 255))
	bad("title", "", "   ", rep("a", 256), rep("é", 256), nil, 5, true)
	// currency: required, ISO 4217. The base's prices have two decimal
	// places; JPY has none, BHD three.
	ok("currency", "EUR", "USD", "GBP", "CHF", "BHD")
	badAt("currency", "JPY", "settings.min_price") // "80.50"; "1200.00" is a whole number of yen
	bad("currency", "", "eur", "EURO", "EU", "ABC", "€", nil, 978)
	// Contact and address.
	ok("email", "desk@hotel.example", "first.last+tag@mail.hotel.example")
	clear("email")
	bad("email", "not-an-email", "desk@", "@hotel.example", "Desk <desk@hotel.example>", "two@at@hotel.example", 5)
	ok("phone", "+44 20 7946 0958", rep("9", 32))
	clear("phone")
	bad("phone", rep("9", 33), 442079460958)
	ok("zip_code", "SW1A 1AA", rep("Z", 32))
	clear("zip_code")
	bad("zip_code", rep("Z", 33), 1800)
	ok("country", "GB", "US", "CH")
	clear("country")
	bad("country", "gb", "UK", "GBR", "XX", "G")
	for _, f := range []string{"state", "city", "address"} {
		ok(f, rep("a", 255), rep("ü", 255))
		clear(f)
		bad(f, rep("a", 256), rep("ü", 256), false)
	}
	// Coordinates: decimals in range, at most 7 decimal places, sent as a
	// string or a JSON number, read back as the decimal string sent.
	ok("longitude", "0", "-180", "180", "180.0000000", "-180.0000000", "0.1234567", "-0.1277583")
	okAs("longitude", num("6.8419190"), "6.8419190")
	okAs("longitude", num("-180"), "-180")
	okAs("longitude", num("0.1234567"), "0.1234567")
	clear("longitude")
	bad("longitude", "180.0000001", "-180.0000001", "181", "1000", "0.12345678", "east", "1e2", "12,5",
		num("180.0000001"), num("181"), num("0.12345678"), num("1e2"), true, []any{})
	ok("latitude", "0", "90", "-90", "90.0000000", "-89.9999999", "51.5073509")
	okAs("latitude", num("46.4628333"), "46.4628333")
	okAs("latitude", num("-90"), "-90")
	clear("latitude")
	bad("latitude", "90.0000001", "-91", "45.12345678", "north", num("90.0000001"), num("-91"), map[string]any{})
	// timezone: an IANA name.
	ok("timezone", "Europe/London", "UTC", "America/Argentina/Buenos_Aires", "Asia/Kathmandu")
	clear("timezone")
	bad("timezone", "Mars/Olympus", "Europe/Londn", "Local", "+01:00", "../../etc/passwd")
	// property_type: one of the Channex kinds.
	for _, kind := range []string{"apart_hotel", "apartment", "boat", "camping", "capsule_hotel", "chalet",
		"country_house", "farm_stay", "guest_house", "holiday_home", "holiday_park", "homestay",
		"hostel", "hotel", "inn", "lodge", "motel", "resort", "riad", "ryokan", "tent", "villa"} {
		ok("property_type", kind)
	}
	clear("property_type")
	bad("property_type", "Hotel", "castle", "hotel ", "apart-hotel")
	// logo_url and website: top level, absolute http(s) URLs, ≤2048.
	for _, f := range []string{"logo_url", "website"} {
		ok(f, "http://cdn.example.com/x.png", "https://cdn.example.com/x.png", "https://cdn.example.com/"+rep("a", 2048-24))
		clear(f)
		bad(f, "ftp://cdn.example.com/x.png", "cdn.example.com/x.png", "https://", "logo", "https://cdn.example.com/"+rep("a", 2048-23), 5)
	}
	// facilities: facility ids, in order, no duplicates.
	ok("facilities", []any{}, []any{propFacilityC, propFacilityA, propFacilityB}, []any{propFacilityA})
	okAs("facilities", nil, []any{})
	okAs("facilities", propOmit, []any{})
	badAt("facilities", []any{propFacilityA, "pool"}, "facilities[1]")
	badAt("facilities", []any{propFacilityA, propFacilityB, propFacilityA}, "facilities[2]")
	badAt("facilities", []any{strings.ToUpper(propFacilityA)}, "facilities[0]")
	badAt("facilities", []any{propFacilityA, 7}, "facilities[1]")
	bad("facilities", propFacilityA, map[string]any{})

	// settings
	ok("settings.allow_availability_autoupdate_on_confirmation", true)
	okAs("settings.allow_availability_autoupdate_on_confirmation", nil, true)
	okAs("settings.allow_availability_autoupdate_on_confirmation", propOmit, true)
	bad("settings.allow_availability_autoupdate_on_confirmation", false, "true")
	for _, f := range []string{"on_modification", "on_cancellation"} {
		ok("settings.allow_availability_autoupdate_"+f, true, false)
		bad("settings.allow_availability_autoupdate_"+f, "yes", 1)
	}
	ok("settings.min_stay_type", "both", "arrival", "through")
	okAs("settings.min_stay_type", "", "both")
	okAs("settings.min_stay_type", nil, "both")
	okAs("settings.min_stay_type", propOmit, "both")
	bad("settings.min_stay_type", "Both", "departure", 1)
	// The base is CHF with min_price 80.50 and max_price 1200.00. Prices
	// come back with two decimal places; integers are minor units.
	ok("settings.min_price", "0.00", "1200.00", "80.50")
	okAs("settings.min_price", "0", "0.00")
	okAs("settings.min_price", "1200", "1200.00")
	okAs("settings.min_price", "80.5", "80.50")
	okAs("settings.min_price", num("8050"), "80.50")
	okAs("settings.min_price", num("0"), "0.00")
	okAs("settings.min_price", num("120000"), "1200.00")
	clear("settings.min_price")
	bad("settings.min_price", "-1", "ten", "1e3", "80.505", num("-1"), num("80.5"), num("1e3"), true)
	badAt("settings.min_price", "1200.01", "settings.max_price")
	badAt("settings.min_price", num("120001"), "settings.max_price")
	ok("settings.max_price", "80.50", "99999.99")
	okAs("settings.max_price", "80.5", "80.50")
	okAs("settings.max_price", num("8050"), "80.50")
	okAs("settings.max_price", num("9999999"), "99999.99")
	clear("settings.max_price")
	bad("settings.max_price", "-5", "lots", "100.001", num("-5"), num("99.9"))
	badAt("settings.max_price", "80.49", "settings.max_price")
	badAt("settings.max_price", num("8049"), "settings.max_price")
	ok("settings.state_length", 100, 730, 500)
	okAs("settings.state_length", nil, 500)
	okAs("settings.state_length", propOmit, 500)
	bad("settings.state_length", 0, 99, 731, -1, 365.5, "many")
	ok("settings.cut_off_time", "00:00:00", "00:30:00", "12:00:00", "23:30:00")
	okAs("settings.cut_off_time", "", "00:00:00")
	okAs("settings.cut_off_time", nil, "00:00:00")
	okAs("settings.cut_off_time", propOmit, "00:00:00")
	bad("settings.cut_off_time", "24:00:00", "18:15:00", "18:30", "6:30:00", "18:30:01", "23:59:59", "noon", 1830)
	ok("settings.cut_off_days", 0, 30)
	okAs("settings.cut_off_days", nil, 0)
	bad("settings.cut_off_days", -1, 1.5)
	ok("settings.max_day_advance", 0, 365, nil)
	okAs("settings.max_day_advance", propOmit, nil)
	bad("settings.max_day_advance", -1, 1.5, "forever")
	okAs("settings", propOmit, propDefaultSettings())
	okAs("settings", nil, propDefaultSettings())
	okAs("settings", map[string]any{}, propDefaultSettings())
	bad("settings", "none", []any{})

	// content
	ok("content.description", rep("Long text, ünïcode. ", 2000), rep("d", 65535))
	clear("content.description")
	bad("content.description", rep("d", 65536), 5)
	ok("content.important_information", "Line 1\nLine 2", rep("i", 65535))
	clear("content.important_information")
	bad("content.important_information", rep("i", 65536))
	ok("content.photos", []any{})
	okAs("content.photos", nil, []any{})
	okAs("content.photos", propOmit, []any{})
	bad("content.photos", map[string]any{}, "none")
	ok("content.photos.0.url", "http://cdn.example.com/a.jpg", "https://cdn.example.com/a.jpg")
	bad("content.photos.0.url", "", "ftp://cdn.example.com/a.jpg", "cdn.example.com/a.jpg", "https://", "javascript:alert(1)", nil, 5)
	badAt("content.photos.0.url", propOmit, "content.photos[0].url")
	ok("content.photos.1.kind", "photo", "ad", "menu")
	okAs("content.photos.1.kind", "", "photo")
	okAs("content.photos.1.kind", nil, "photo")
	okAs("content.photos.1.kind", propOmit, "photo")
	bad("content.photos.1.kind", "video", "Photo")
	ok("content.photos.2.position", 0, 7)
	okAs("content.photos.2.position", nil, 0)
	bad("content.photos.2.position", -1, "first")
	ok("content.photos.2.author", rep("a", 255), nil)
	okAs("content.photos.2.author", "", nil)
	bad("content.photos.2.author", rep("a", 256))
	ok("content.photos.0.description", "Lobby at night", nil)
	okAs("content.photos.0.description", "", nil)
	bad("content.photos.1", "https://cdn.example.com/a.jpg")
	okAs("content", propOmit, propDefaultContent())
	okAs("content", nil, propDefaultContent())
	bad("content", "none", []any{})
	return rows
}

// testPropertyAttributes: every writable attribute and its rules, over
// REST; the round trip; PUT as a partial update; read-only, unknown and
// wrongly typed attributes.
func testPropertyAttributes(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	total := func() float64 {
		t.Helper()
		r := e.rest("GET", "/api/v1/properties?pagination[limit]=1", "", session...)
		n, ok := get(r.body, "meta", "total").(float64)
		if r.code != 200 || !ok {
			t.Fatalf("list: %d %s", r.code, r.raw)
		}
		return n
	}

	// The target of every refused PUT below, which must leave it as it is.
	r := e.rest("POST", "/api/v1/properties", propBody(t, propFull()), session...)
	if r.code != 201 {
		t.Fatalf("create the full property: %d %s", r.code, r.raw)
	}
	target := str(r.body, "data", "id")
	targetBefore := e.rest("GET", "/api/v1/properties/"+target, "", session...)
	created := 1.0

	t.Run("rules", func(t *testing.T) {
		for _, rule := range propRules() {
			body := propBody(t, propOverride(t, propFull(), rule.path, rule.value))
			if rule.field == "" {
				created++
			}
			t.Run(rule.name(), func(t *testing.T) {
				if rule.field != "" {
					propWantFields(t, e.rest("POST", "/api/v1/properties", body, session...), rule.field)
					propWantFields(t, e.rest("PUT", "/api/v1/properties/"+target, body, session...), rule.field)
					return
				}
				want := propNormalize(t, rule.want)
				r := e.rest("POST", "/api/v1/properties", body, session...)
				if r.code != 201 {
					t.Fatalf("create: %d %s", r.code, r.raw)
				}
				if d := propDiff(propAt(get(r.body, "data", "attributes"), rule.path), want); d != "" {
					t.Fatalf("create response, %s:%s", rule.path, d)
				}
				if ig := propIgnored(t, r); ig != nil {
					t.Fatalf("create listed ignored attributes %v", ig)
				}
				id := str(r.body, "data", "id")
				r = e.rest("GET", "/api/v1/properties/"+id, "", session...)
				if d := propDiff(propAt(get(r.body, "data", "attributes"), rule.path), want); r.code != 200 || d != "" {
					t.Fatalf("read back (%d), %s:%s", r.code, rule.path, d)
				}
				// The same body as an update of the full property: what it
				// holds is set; what it leaves out is kept (an attribute of a
				// photo is no exception: photos are replaced as a whole).
				r = e.rest("PUT", "/api/v1/properties/"+id, propBody(t, propFull()), session...)
				if r.code != 200 {
					t.Fatalf("reset: %d %s", r.code, r.raw)
				}
				putWant := want
				_, omitted := rule.value.(propOmitted)
				empty, _ := rule.value.(map[string]any)
				if (omitted && !strings.Contains(rule.path, "photos.")) || (empty != nil && len(empty) == 0) {
					putWant = propAt(propNormalize(t, propFull()), rule.path)
				}
				r = e.rest("PUT", "/api/v1/properties/"+id, body, session...)
				if d := propDiff(propAt(get(r.body, "data", "attributes"), rule.path), putWant); r.code != 200 || d != "" {
					t.Fatalf("update (%d), %s:%s", r.code, rule.path, d)
				}
				r = e.rest("GET", "/api/v1/properties/"+id, "", session...)
				if d := propDiff(propAt(get(r.body, "data", "attributes"), rule.path), putWant); r.code != 200 || d != "" {
					t.Fatalf("read back after the update (%d), %s:%s", r.code, rule.path, d)
				}
			})
		}
	})
	if n := total(); n != created {
		t.Fatalf("%v properties after the rules, want %v: a refused request wrote something", n, created)
	}
	if after := e.rest("GET", "/api/v1/properties/"+target, "", session...); after.raw != targetBefore.raw {
		t.Fatalf("refused updates changed the property:\n%s\n%s", targetBefore.raw, after.raw)
	}

	t.Run("title and currency are required on create, kept by an update without them", func(t *testing.T) {
		for _, f := range []string{"title", "currency"} {
			n := total()
			body := propBody(t, propOverride(t, propFull(), f, propOmit))
			propWantFields(t, e.rest("POST", "/api/v1/properties", body, session...), f)
			if total() != n {
				t.Fatalf("a create without %s wrote something", f)
			}
			r := e.rest("PUT", "/api/v1/properties/"+target, body, session...)
			if r.code != 200 || str(r.body, "data", "attributes", f) != propFull()[f] {
				t.Fatalf("an update without %s: %d %s", f, r.code, r.raw)
			}
			propWantFields(t, e.rest("PUT", "/api/v1/properties/"+target, propBody(t, map[string]any{f: nil}), session...), f)
			propWantFields(t, e.rest("PUT", "/api/v1/properties/"+target, propBody(t, map[string]any{f: ""}), session...), f)
		}
		if d := propDiff(propStable(t, e.rest("GET", "/api/v1/properties/"+target, "", session...)), propStable(t, targetBefore)); d != "" {
			t.Fatalf("the target changed:%s", d)
		}
	})

	t.Run("all violations at once", func(t *testing.T) {
		rep := strings.Repeat
		bad := map[string]any{
			"title": "", "currency": "EUR", "email": "nope", "phone": rep("9", 33), "zip_code": rep("9", 33),
			"country": "UK", "state": rep("s", 256), "city": rep("c", 256), "address": rep("a", 256),
			"longitude": "180.5", "latitude": "-90.00000001", "timezone": "Mars/Olympus", "property_type": "castle",
			"logo_url": "logo", "website": "www.example.com",
			"facilities": []any{propFacilityA, "gym", propFacilityA},
			"settings": map[string]any{
				"min_stay_type": "sometimes", "min_price": "-1", "max_price": "cheap", "state_length": 731,
				"cut_off_time": "18:45:00", "cut_off_days": -2, "max_day_advance": -1,
			},
			"content": map[string]any{
				"description": rep("d", 65536),
				"photos": []any{
					map[string]any{"url": "", "position": -1, "kind": "video"},
					map[string]any{"url": "https://cdn.example.com/fine.jpg"},
					map[string]any{"url": "ftp://cdn.example.com/x.jpg", "author": rep("a", 256)},
				},
			},
		}
		fields := []string{"title", "email", "phone", "zip_code", "country", "state", "city", "address",
			"longitude", "latitude", "timezone", "property_type", "logo_url", "website", "facilities[1]", "facilities[2]",
			"settings.min_stay_type", "settings.min_price", "settings.max_price", "settings.state_length",
			"settings.cut_off_time", "settings.cut_off_days", "settings.max_day_advance",
			"content.description",
			"content.photos[0].url", "content.photos[0].position", "content.photos[0].kind",
			"content.photos[2].url", "content.photos[2].author"}
		propWantFields(t, e.rest("POST", "/api/v1/properties", propBody(t, bad), session...), fields...)
		propWantFields(t, e.rest("PUT", "/api/v1/properties/"+target, propBody(t, bad), session...), fields...)
		// gRPC carries the same paths. A price is a message there.
		grpcBad := propOverride(t, propOverride(t, bad, "settings.min_price", map[string]any{"decimal": "-1"}),
			"settings.max_price", map[string]any{"decimal": "cheap"})
		raw, _ := json.Marshal(grpcBad)
		in := &keygatev1.PropertyInput{}
		if err := protojson.Unmarshal(raw, in); err != nil {
			t.Fatal(err)
		}
		_, err := e.props.CreateProperty(withSession(u.token), &keygatev1.CreatePropertyRequest{Property: in})
		wantViolations(t, err, fields...)
		_, err = e.props.UpdateProperty(withSession(u.token), &keygatev1.UpdatePropertyRequest{Id: target, Property: in})
		wantViolations(t, err, fields...)
		// Two valid prices the wrong way round are one violation, on create
		// and against the stored ones on update.
		p := propOverride(t, propOverride(t, propFull(), "settings.min_price", "10"), "settings.max_price", "9.99")
		propWantFields(t, e.rest("POST", "/api/v1/properties", propBody(t, p), session...), "settings.max_price")
		propWantFields(t, e.rest("PUT", "/api/v1/properties/"+target, `{"property":{"settings":{"min_price":"1200.01"}}}`, session...), "settings.max_price")
		propWantFields(t, e.rest("PUT", "/api/v1/properties/"+target, `{"property":{"settings":{"max_price":8049}}}`, session...), "settings.max_price")
		// A new currency is checked against the stored prices.
		propWantFields(t, e.rest("PUT", "/api/v1/properties/"+target, `{"property":{"currency":"JPY"}}`, session...), "settings.min_price")
		if d := propDiff(propStable(t, e.rest("GET", "/api/v1/properties/"+target, "", session...)), propStable(t, targetBefore)); d != "" {
			t.Fatalf("refused updates changed the target:%s", d)
		}
	})

	// CONTRACT §4/§5: all violations are reported at once, these included:
	// the fixed flag, negative minor units, and prices that are no decimal
	// whatever the currency.
	t.Run("all violations at once, with the fixed flag, negative minor units and a bad currency", func(t *testing.T) {
		for _, tc := range []struct {
			body   string
			fields []string
		}{
			{`{"property":{"title":"","currency":"EUR","settings":{"allow_availability_autoupdate_on_confirmation":false}}}`,
				[]string{"title", "settings.allow_availability_autoupdate_on_confirmation"}},
			{`{"property":{"title":"T","currency":"EUR","email":"nope","settings":{"min_price":-100}}}`,
				[]string{"email", "settings.min_price"}},
			{`{"property":{"title":"T","currency":"eur","settings":{"min_price":"-1","max_price":"cheap"}}}`,
				[]string{"currency", "settings.min_price", "settings.max_price"}},
		} {
			t.Run("", func(t *testing.T) {
				propWantFields(t, e.rest("POST", "/api/v1/properties", tc.body, session...), tc.fields...)
				propWantFields(t, e.rest("PUT", "/api/v1/properties/"+target, tc.body, session...), tc.fields...)
			})
		}
	})

	t.Run("round trip", func(t *testing.T) {
		// The first photo leaves out its kind: it reads back as "photo".
		sent := propOverride(t, propFull(), "content.photos.0.kind", propOmit)
		want := propNormalize(t, propFull()).(map[string]any)
		before := time.Now().Add(-time.Minute)
		r := e.rest("POST", "/api/v1/properties", propBody(t, sent), session...)
		if r.code != 201 || str(r.body, "data", "type") != "property" {
			t.Fatalf("create: %d %s", r.code, r.raw)
		}
		id := str(r.body, "data", "id")
		if !store.ValidID(id) || str(r.body, "data", "attributes", "id") != id {
			t.Fatalf("ids: %s", r.raw)
		}
		if d := propDiff(propWritable(t, r), want); d != "" {
			t.Fatalf("create response:%s", d)
		}
		got := e.rest("GET", "/api/v1/properties/"+id, "", session...)
		if got.code != 200 {
			t.Fatalf("get: %d %s", got.code, got.raw)
		}
		if d := propDiff(propWritable(t, got), want); d != "" {
			t.Fatalf("read back:%s", d)
		}
		attrs := get(got.body, "data", "attributes").(map[string]any)
		if len(attrs) != len(want)+len(propReadOnly) {
			t.Fatalf("attributes %v, want the %d writable ones and %v", attrs, len(want), propReadOnly)
		}
		if attrs["id"] != id || attrs["is_active"] != true || attrs["acc_channels_count"] != 0.0 {
			t.Fatalf("id / is_active / acc_channels_count: %s", got.raw)
		}
		for _, k := range []string{"created_at", "updated_at"} {
			s, _ := attrs[k].(string)
			ts, err := time.Parse(time.RFC3339Nano, s)
			if err != nil || !strings.HasSuffix(s, "Z") || ts.Before(before) || ts.After(time.Now().Add(time.Minute)) {
				t.Fatalf("%s = %q: %v", k, s, err)
			}
		}
		// Each attribute, decimal strings included, exactly as sent.
		for _, path := range []string{"longitude", "latitude", "settings.min_price", "settings.max_price"} {
			if propAt(attrs, path) != propAt(want, path) {
				t.Fatalf("%s changed: %v", path, propAt(attrs, path))
			}
		}
		if propAt(attrs, "settings.max_day_advance") != 180.0 || propAt(attrs, "content.photos.0.kind") != "photo" ||
			propAt(attrs, "content.photos.0.position") != 2.0 || propAt(attrs, "content.photos.2.kind") != "menu" ||
			propAt(attrs, "content.photos.1.author") != nil || propAt(attrs, "facilities.0") != propFacilityB {
			t.Fatalf("settings, photos or facilities: %s", got.raw)
		}
		// The relationships: the creator's default group; the facilities as
		// records, in order.
		groups, _ := get(got.body, "data", "relationships", "groups", "data").([]any)
		if len(groups) != 1 || str(groups[0], "type") != "group" || str(groups[0], "attributes", "title") != "Default" {
			t.Fatalf("groups: %s", got.raw)
		}
		wantRel := map[string]any{
			"groups":     map[string]any{"data": groups},
			"facilities": map[string]any{"data": []any{map[string]any{"id": propFacilityB, "type": "facility"}, map[string]any{"id": propFacilityA, "type": "facility"}}},
		}
		if d := propDiff(get(got.body, "data", "relationships"), wantRel); d != "" {
			t.Fatalf("relationships:%s", d)
		}
		// A list shows the very same resource.
		list := e.rest("GET", "/api/v1/properties?filter[id]="+id, "", session...)
		if d := propDiff(get(list.body, "data", 0), get(got.body, "data")); list.code != 200 || d != "" {
			t.Fatalf("list item (%d):%s", list.code, d)
		}

		// PUT with one attribute changes that one; everything else is kept,
		// read-only attributes included.
		r = e.rest("PUT", "/api/v1/properties/"+id, `{"property":{"title":"Renamed"}}`, session...)
		if r.code != 200 {
			t.Fatalf("partial update: %d %s", r.code, r.raw)
		}
		renamed := propOverride(t, want, "title", "Renamed")
		if d := propDiff(propWritable(t, r), renamed); d != "" {
			t.Fatalf("partial update response:%s", d)
		}
		kept := e.rest("GET", "/api/v1/properties/"+id, "", session...)
		if d := propDiff(propWritable(t, kept), renamed); d != "" {
			t.Fatalf("read back after the partial update:%s", d)
		}
		createdAt, _ := time.Parse(time.RFC3339Nano, str(kept.body, "data", "attributes", "created_at"))
		updatedAt, _ := time.Parse(time.RFC3339Nano, str(kept.body, "data", "attributes", "updated_at"))
		if str(kept.body, "data", "id") != id || get(kept.body, "data", "attributes", "is_active") != true ||
			str(kept.body, "data", "attributes", "created_at") != attrs["created_at"] || updatedAt.Before(createdAt) {
			t.Fatalf("read-only attributes after an update:\n%s\n%s", got.raw, kept.raw)
		}
		// Nested objects merge attribute by attribute; photos are replaced
		// as a whole.
		partial := `{"property":{"settings":{"state_length":200},` +
			`"content":{"photos":[{"url":"https://cdn.example.com/only.jpg"}]}}}`
		r = e.rest("PUT", "/api/v1/properties/"+id, partial, session...)
		wantPartial := propOverride(t, renamed, "settings.state_length", 200.0)
		wantPartial = propOverride(t, wantPartial, "content.photos", []any{
			map[string]any{"url": "https://cdn.example.com/only.jpg", "position": 0.0, "description": nil, "author": nil, "kind": "photo"},
		})
		if d := propDiff(propWritable(t, e.rest("GET", "/api/v1/properties/"+id, "", session...)), wantPartial); r.code != 200 || d != "" {
			t.Fatalf("partial update (%d %s):%s", r.code, r.raw, d)
		}
		// null clears every optional attribute back to null or its default.
		clearAll := map[string]any{"facilities": nil, "settings": map[string]any{}, "content": map[string]any{}}
		for _, k := range propOptional {
			clearAll[k] = nil
		}
		for k := range propDefaultSettings() {
			clearAll["settings"].(map[string]any)[k] = nil
		}
		for k := range propDefaultContent() {
			clearAll["content"].(map[string]any)[k] = nil
		}
		r = e.rest("PUT", "/api/v1/properties/"+id, propBody(t, clearAll), session...)
		cleared := propNormalize(t, propDefaults("Renamed", "CHF"))
		if d := propDiff(propWritable(t, r), cleared); r.code != 200 || d != "" {
			t.Fatalf("clearing everything (%d %s):%s", r.code, r.raw, d)
		}
		if d := propDiff(propWritable(t, e.rest("GET", "/api/v1/properties/"+id, "", session...)), cleared); d != "" {
			t.Fatalf("read back after clearing:%s", d)
		}
		// A minimal property reads back with nulls and defaults, and becomes
		// the full one.
		r = e.rest("POST", "/api/v1/properties", `{"property":{"title":"Bare","currency":"USD"}}`, session...)
		if d := propDiff(propWritable(t, r), propNormalize(t, propDefaults("Bare", "USD"))); r.code != 201 || d != "" {
			t.Fatalf("minimal create (%d):%s", r.code, d)
		}
		if strings.Contains(r.raw, `""`) {
			t.Fatalf("an empty string in a minimal property: %s", r.raw)
		}
		bare := str(r.body, "data", "id")
		r = e.rest("PUT", "/api/v1/properties/"+bare+"/", propBody(t, propFull()), session...)
		if d := propDiff(propWritable(t, e.rest("GET", "/api/v1/properties/"+bare, "", session...)), want); r.code != 200 || d != "" {
			t.Fatalf("full update of a minimal property (%d %s):%s", r.code, r.raw, d)
		}
	})

	t.Run("read-only, unknown and wrongly typed attributes", func(t *testing.T) {
		n := total()
		full := propFull()
		before := propStable(t, e.rest("GET", "/api/v1/properties/"+target, "", session...))
		// Read-only attributes sent back are ignored without a word.
		for _, tc := range []struct {
			name, path string
			value      any
		}{
			{"id", "id", store.NewID()},
			{"id of the target", "id", target},
			{"is_active", "is_active", false},
			{"acc_channels_count", "acc_channels_count", 7},
			{"created_at", "created_at", "2024-01-01T00:00:00Z"},
			{"updated_at", "updated_at", "2024-01-01T00:00:00Z"},
			{"created_at of the wrong type", "created_at", 5},
		} {
			t.Run("read-only "+tc.name, func(t *testing.T) {
				body := propBody(t, propOverride(t, full, tc.path, tc.value))
				r := e.rest("POST", "/api/v1/properties", body, session...)
				if r.code != 201 || propIgnored(t, r) != nil || get(r.body, "data", "attributes", tc.path) == propNormalize(t, tc.value) {
					t.Fatalf("create: %d %s", r.code, r.raw)
				}
				id := str(r.body, "data", "id")
				if id == target || get(r.body, "data", "attributes", "is_active") != true ||
					get(r.body, "data", "attributes", "acc_channels_count") != 0.0 || strings.HasPrefix(str(r.body, "data", "attributes", "created_at"), "2024") {
					t.Fatalf("a read-only attribute was taken: %s", r.raw)
				}
				n++
				r = e.rest("PUT", "/api/v1/properties/"+target, body, session...)
				if r.code != 200 || propIgnored(t, r) != nil {
					t.Fatalf("update: %d %s", r.code, r.raw)
				}
				if d := propDiff(propStable(t, e.rest("GET", "/api/v1/properties/"+target, "", session...)), before); d != "" {
					t.Fatalf("a read-only attribute changed the target:%s", d)
				}
			})
		}
		// Unknown attributes are ignored and named, at any depth.
		for _, tc := range []struct {
			name, path, listed string
			value              any
		}{
			{"unknown", "stars", "stars", 5},
			{"unknown in settings", "settings.foo", "settings.foo", "bar"},
			{"unknown in content", "content.foo", "content.foo", map[string]any{"a": 1}},
			{"logo_url in content", "content.logo_url", "content.logo_url", "https://cdn.example.com/logo.svg"},
			{"website in content", "content.website", "content.website", "not even a URL"},
			{"unknown in a photo", "content.photos.1.foo", "content.photos[1].foo", "bar"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				body := propBody(t, propOverride(t, full, tc.path, tc.value))
				r := e.rest("POST", "/api/v1/properties", body, session...)
				if r.code != 201 || !slices.Equal(propIgnored(t, r), []string{tc.listed}) {
					t.Fatalf("create: %d %s", r.code, r.raw)
				}
				if d := propDiff(propWritable(t, r), propNormalize(t, full)); d != "" {
					t.Fatalf("create with %s:%s", tc.path, d)
				}
				n++
				r = e.rest("PUT", "/api/v1/properties/"+target, body, session...)
				if r.code != 200 || !slices.Equal(propIgnored(t, r), []string{tc.listed}) {
					t.Fatalf("update: %d %s", r.code, r.raw)
				}
				if d := propDiff(propStable(t, e.rest("GET", "/api/v1/properties/"+target, "", session...)), before); d != "" {
					t.Fatalf("an unknown attribute changed the target:%s", d)
				}
			})
		}
		// Values of the wrong JSON type are 422s naming the attribute.
		for _, tc := range []struct {
			name, path string
			value      any
		}{
			{"number as title", "title", 5},
			{"object as email", "email", map[string]any{}},
			{"bool as longitude", "longitude", true},
			{"string as state_length", "settings.state_length", "many"},
			{"fraction as max_day_advance", "settings.max_day_advance", 1.5},
			{"string as a flag", "settings.allow_availability_autoupdate_on_modification", "yes"},
			{"fraction as min_price", "settings.min_price", 80.5},
			{"object as photos", "content.photos", map[string]any{}},
			{"number as a photo url", "content.photos.2.url", 5},
			{"string as settings", "settings", "none"},
			{"number in facilities", "facilities.1", 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				body := propBody(t, propOverride(t, full, tc.path, tc.value))
				propWantFields(t, e.rest("POST", "/api/v1/properties", body, session...), propField(tc.path))
				propWantFields(t, e.rest("PUT", "/api/v1/properties/"+target, body, session...), propField(tc.path))
			})
		}
		// Anything but one {"property": {…}} object is a 400.
		b, _ := json.Marshal(map[string]any{"property": full, "is_active": false})
		for _, body := range []string{string(b), `{"properties":{"title":"T","currency":"EUR"}}`, `{"property":"T"}`,
			`{"property":[]}`, `{"property":5}`, `[]`, `"property"`, `{"property":{"title":"T","currency":"EUR"}} {}`, `{"property":{`} {
			wantError(t, e.rest("POST", "/api/v1/properties", body, session...), 400, "bad_request")
			wantError(t, e.rest("PUT", "/api/v1/properties/"+target, body, session...), 400, "bad_request")
		}
		if total() != n {
			t.Fatal("a refused request created a property")
		}
		if d := propDiff(propStable(t, e.rest("GET", "/api/v1/properties/"+target, "", session...)), before); d != "" {
			t.Fatalf("refused updates changed the target:%s", d)
		}
	})
}

// testPropertyListQueries: filters, order and pages of GET
// /api/v1/properties, always inside the caller's scope.
func testPropertyListQueries(t *testing.T, e *env) {
	u, other := e.newUser(true), e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	// Created in this order, a few milliseconds apart, so that created_at
	// orders them as listed. "Inactive Manor" is written to the store
	// directly: the API cannot deactivate a property.
	titles := []string{"Seaside Inn", "alpine lodge", "Alpine Chalet", "100% Hotel", "Hotel_Blue",
		"HotelXBlue", "City Apartments", "Inactive Manor", "Quiet Retreat"}
	ids := map[string]string{}
	for _, title := range titles {
		time.Sleep(3 * time.Millisecond)
		if title == "Inactive Manor" {
			now := time.Now().Truncate(store.Precision).UTC()
			p := store.Property{
				ID: store.NewID(), Title: title, Currency: "EUR", IsActive: false, CreatedAt: now, UpdatedAt: now,
				Settings: store.PropertySettings{MinStayType: "both", StateLength: 500, CutOffTime: "00:00:00"},
				Content:  store.PropertyContent{Photos: []store.Photo{}},
			}
			if err := e.store.CreateProperty(context.Background(), p, u.id); err != nil {
				t.Fatal(err)
			}
			ids[title] = p.ID
			continue
		}
		r := e.rest("POST", "/api/v1/properties", fmt.Sprintf(`{"property":{"title":%q,"currency":"EUR"}}`, title), session...)
		if r.code != 201 {
			t.Fatalf("create %q: %d %s", title, r.code, r.raw)
		}
		ids[title] = str(r.body, "data", "id")
	}
	theirs := e.newProperty(other, "Alpine Other")
	scoped := []string{"Seaside Inn", "alpine lodge", "100% Hotel", "Hotel_Blue", "City Apartments", "Inactive Manor"}
	var scopeIDs []string
	for _, title := range scoped {
		scopeIDs = append(scopeIDs, ids[title])
	}
	key := []string{"user-api-key", e.newKey(u, scopeIDs...).GetApiKey()}
	allKey := []string{"user-api-key", e.newKey(u).GetApiKey()}

	// Titles order byte-wise, as Go compares strings: digits, then upper
	// case, then lower case; '_' after 'X'.
	byTitle := []string{"100% Hotel", "Alpine Chalet", "City Apartments", "HotelXBlue", "Hotel_Blue",
		"Inactive Manor", "Quiet Retreat", "Seaside Inn", "alpine lodge"}
	scopedByTitle := []string{"100% Hotel", "City Apartments", "Hotel_Blue", "Inactive Manor", "Seaside Inn", "alpine lodge"}
	rev := func(s []string) []string {
		out := slices.Clone(s)
		slices.Reverse(out)
		return out
	}
	scopedByCreation := []string{"Seaside Inn", "alpine lodge", "100% Hotel", "Hotel_Blue", "City Apartments", "Inactive Manor"}

	for _, tc := range []struct {
		name, query string
		cred        []string
		want        []string
		total       int
		page, limit int // of meta; 0 means the default
	}{
		{"default order is title asc", "", session, byTitle, 9, 0, 0},
		{"order title asc", "?order[title]=asc", session, byTitle, 9, 0, 0},
		{"order title desc", "?order%5Btitle%5D=desc", session, rev(byTitle), 9, 0, 0},
		{"order created_at asc", "?order[created_at]=asc", session, titles, 9, 0, 0},
		{"order created_at desc", "?order%5Bcreated_at%5D=desc", session, rev(titles), 9, 0, 0},
		{"page 2 of 4", "?order[created_at]=asc&pagination[limit]=4&pagination%5Bpage%5D=2", session, titles[4:8], 9, 2, 4},
		{"last page", "?order[created_at]=asc&pagination%5Blimit%5D=4&pagination[page]=3", session, titles[8:], 9, 3, 4},
		{"past the end", "?pagination[limit]=4&pagination[page]=4", session, nil, 9, 4, 4},
		{"title ignores case", "?filter[title]=alpine", session, []string{"Alpine Chalet", "alpine lodge"}, 2, 0, 0},
		{"title upper case", "?filter%5Btitle%5D=ALPINE", session, []string{"Alpine Chalet", "alpine lodge"}, 2, 0, 0},
		{"title substring", "?filter[title]=hotel", session, []string{"100% Hotel", "HotelXBlue", "Hotel_Blue"}, 3, 0, 0},
		{"title with a percent sign", "?filter[title]=%25", session, []string{"100% Hotel"}, 1, 0, 0},
		{"title with percent and space", "?filter[title]=0%25%20h", session, []string{"100% Hotel"}, 1, 0, 0},
		{"title with an underscore", "?filter[title]=_", session, []string{"Hotel_Blue"}, 1, 0, 0},
		{"underscore is no wildcard", "?filter[title]=l_b", session, []string{"Hotel_Blue"}, 1, 0, 0},
		{"title with a backslash", "?filter[title]=%5C", session, nil, 0, 0, 0},
		{"title without match", "?filter[title]=nowhere", session, nil, 0, 0, 0},
		{"another user's title", "?filter[title]=other", session, nil, 0, 0, 0},
		{"title, desc, a page", "?filter[title]=hotel&order[title]=desc&pagination[limit]=2", session, []string{"Hotel_Blue", "HotelXBlue"}, 3, 1, 2},
		{"id list", "?filter[id]=" + ids["Quiet Retreat"] + "," + ids["alpine lodge"], session, []string{"Quiet Retreat", "alpine lodge"}, 2, 0, 0},
		{"one id", "?filter%5Bid%5D=" + ids["HotelXBlue"], session, []string{"HotelXBlue"}, 1, 0, 0},
		{"another user's id", "?filter[id]=" + ids["Seaside Inn"] + "," + theirs, session, []string{"Seaside Inn"}, 1, 0, 0},
		{"unknown id", "?filter[id]=" + store.NewID(), session, nil, 0, 0, 0},
		{"inactive", "?filter[is_active]=false", session, []string{"Inactive Manor"}, 1, 0, 0},
		{"active", "?filter%5Bis_active%5D=true&pagination[limit]=100", session, slices.DeleteFunc(slices.Clone(byTitle), func(s string) bool { return s == "Inactive Manor" }), 8, 1, 100},
		{"all filters", "?filter[title]=e&filter[is_active]=true&filter[id]=" + ids["Hotel_Blue"] + "," + ids["Quiet Retreat"] + "," + ids["Inactive Manor"] + "&order[created_at]=desc",
			session, []string{"Quiet Retreat", "Hotel_Blue"}, 2, 0, 0},
		{"trailing slash", "/?order[title]=desc&pagination[limit]=3", session, rev(byTitle)[:3], 9, 1, 3},
		{"all-properties key", "?order[created_at]=asc", allKey, titles, 9, 0, 0},

		// The scoped key: its six properties, counted after narrowing.
		{"scoped default", "", key, scopedByTitle, 6, 0, 0},
		{"scoped page", "?pagination[limit]=2&pagination[page]=2", key, scopedByTitle[2:4], 6, 2, 2},
		{"scoped title desc", "?order[title]=desc", key, rev(scopedByTitle), 6, 0, 0},
		{"scoped created_at desc, a page", "?order%5Bcreated_at%5D=desc&pagination%5Blimit%5D=3", key, rev(scopedByCreation)[:3], 6, 1, 3},
		{"scoped title filter", "?filter[title]=alpine", key, []string{"alpine lodge"}, 1, 0, 0},
		{"scoped title filter, two", "?filter[title]=HOTEL", key, []string{"100% Hotel", "Hotel_Blue"}, 2, 0, 0},
		{"scoped ids in and out of scope", "?filter[id]=" + ids["Seaside Inn"] + "," + ids["Alpine Chalet"] + "," + theirs, key, []string{"Seaside Inn"}, 1, 0, 0},
		{"scoped id out of scope", "?filter[id]=" + ids["Alpine Chalet"], key, nil, 0, 0, 0},
		{"scoped inactive", "?filter[is_active]=false", key, []string{"Inactive Manor"}, 1, 0, 0},
		{"scoped active", "?filter[is_active]=true", key, []string{"100% Hotel", "City Apartments", "Hotel_Blue", "Seaside Inn", "alpine lodge"}, 5, 0, 0},
		{"scoped active, a page", "?filter[is_active]=true&pagination[limit]=2&pagination[page]=3", key, []string{"alpine lodge"}, 5, 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.rest("GET", "/api/v1/properties"+tc.query, "", tc.cred...)
			if r.code != 200 {
				t.Fatalf("%d %s", r.code, r.raw)
			}
			data, ok := get(r.body, "data").([]any)
			if !ok {
				t.Fatalf("no data list: %s", r.raw)
			}
			got := []string{}
			for i := range data {
				got = append(got, str(data, i, "attributes", "title"))
			}
			want := tc.want
			if want == nil {
				want = []string{}
			}
			page, limit := max(tc.page, 1), tc.limit
			if limit == 0 {
				limit = 10
			}
			if !slices.Equal(got, want) || get(r.body, "meta", "total") != float64(tc.total) ||
				get(r.body, "meta", "page") != float64(page) || get(r.body, "meta", "limit") != float64(limit) {
				t.Fatalf("got %q, meta %v; want %q, total %d, page %d, limit %d", got, get(r.body, "meta"), want, tc.total, page, limit)
			}
		})
	}

	for _, tc := range []struct {
		name, query, field string
	}{
		{"order title up", "?order[title]=up", "order.title"},
		{"order created_at sideways", "?order%5Bcreated_at%5D=sideways", "order.created_at"},
		{"both orders", "?order[title]=asc&order[created_at]=desc", "order"},
		{"is_active maybe", "?filter[is_active]=maybe", "filter.is_active"},
		{"is_active encoded", "?filter%5Bis_active%5D=1", "filter.is_active"},
		{"id not a uuid", "?filter[id]=not-a-uuid", "filter.id"},
		{"one id not a uuid", "?filter%5Bid%5D=" + ids["Seaside Inn"] + ",not-a-uuid", "filter.id"},
		{"limit over 100", "?pagination[limit]=101", "pagination.limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, cred := range [][]string{session, key} {
				r := e.rest("GET", "/api/v1/properties"+tc.query, "", cred...)
				details := propDetails(t, r)
				bracketed := strings.Replace(tc.field, ".", "[", 1)
				if strings.Contains(tc.field, ".") {
					bracketed += "]"
				}
				if len(details) != 1 || (details[tc.field] == nil && details[bracketed] == nil) {
					t.Fatalf("details do not name %s alone: %s", tc.field, r.raw)
				}
			}
		})
	}
	wantError(t, e.rest("GET", "/api/v1/properties?pagination[page]=one", "", session...), 400, "bad_request")
}

// testPropertyOptions: GET /api/v1/properties/options lists id, title,
// currency and group ids (none yet) of every property in scope,
// unpaginated, as records of type "properties".
func testPropertyOptions(t *testing.T, e *env) {
	u, other := e.newUser(true), e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	currencies := []string{"EUR", "USD", "GBP", "CHF", "JPY"}
	type option struct{ title, currency string }
	all := map[string]option{}
	var ids []string
	for i := 0; i < 13; i++ {
		title := fmt.Sprintf("Option Hotel %02d", 13-i)
		if i == 5 {
			title = "options" // a title like the path does not confuse anything
		}
		cur := currencies[i%len(currencies)]
		resp, err := e.props.CreateProperty(withSession(u.token), &keygatev1.CreatePropertyRequest{
			Property: &keygatev1.PropertyInput{Title: proto.String(title), Currency: proto.String(cur), City: proto.String("Somewhere"), Settings: &keygatev1.PropertySettingsInput{StateLength: proto.Int32(200)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		id := resp.GetProperty().GetId()
		ids = append(ids, id)
		all[id] = option{title, cur}
	}
	e.newProperty(other, "Not Mine")
	scope := map[string]option{ids[0]: all[ids[0]], ids[5]: all[ids[5]], ids[12]: all[ids[12]]}
	key := []string{"user-api-key", e.newKey(u, ids[0], ids[5], ids[12]).GetApiKey()}
	allKey := []string{"user-api-key", e.newKey(u).GetApiKey()}

	check := func(t *testing.T, path string, cred []string, want map[string]option) {
		t.Helper()
		r := e.rest("GET", path, "", cred...)
		if r.code != 200 {
			t.Fatalf("GET %s: %d %s", path, r.code, r.raw)
		}
		data, ok := get(r.body, "data").([]any)
		if !ok {
			t.Fatalf("GET %s: data is not a list: %s", path, r.raw)
		}
		if len(data) != len(want) {
			t.Fatalf("GET %s: %d options, want %d: %s", path, len(data), len(want), r.raw)
		}
		seen := map[string]bool{}
		for i := range data {
			id := str(data, i, "id")
			attrs, _ := get(data, i, "attributes").(map[string]any)
			w, ok := want[id]
			if !ok || seen[id] || str(data, i, "type") != "properties" {
				t.Fatalf("GET %s: unexpected or repeated option %v: %s", path, get(data, i), r.raw)
			}
			seen[id] = true
			if groupIDs, _ := attrs["group_ids"].([]any); len(groupIDs) != 1 {
				t.Fatalf("GET %s: option %s: group_ids %v, want the default group", path, id, attrs["group_ids"])
			}
			if d := propDiff(attrs, map[string]any{"id": id, "title": w.title, "currency": w.currency, "group_ids": attrs["group_ids"]}); d != "" {
				t.Fatalf("GET %s: option %s:%s", path, id, d)
			}
		}
	}
	for _, path := range []string{"/api/v1/properties/options", "/api/v1/properties/options/"} {
		t.Run(path, func(t *testing.T) {
			check(t, path, session, all)
			check(t, path, allKey, all)
			// A scoped key: were the path taken for /properties/{id}, this
			// would be 403 or 404.
			check(t, path, key, scope)
			wantError(t, e.rest("GET", path, ""), 401, "unauthorized")
		})
	}
	// The property routes still work beside it.
	r := e.rest("GET", "/api/v1/properties/"+ids[5], "", key...)
	if r.code != 200 || str(r.body, "data", "type") != "property" || str(r.body, "data", "attributes", "title") != "options" ||
		str(r.body, "data", "attributes", "city") != "Somewhere" {
		t.Fatalf("get a property: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/properties/"+ids[1], "", key...), 403, "forbidden")
	// The same over gRPC.
	resp, err := e.props.ListPropertyOptions(withKey(key[1]), &keygatev1.ListPropertyOptionsRequest{})
	if err != nil || len(resp.GetPropertyOptions()) != 3 {
		t.Fatalf("ListPropertyOptions: %v %v", resp, err)
	}
	// A deleted property leaves the options.
	if r := e.rest("DELETE", "/api/v1/properties/"+ids[12], "", session...); r.code != 200 {
		t.Fatalf("delete: %d %s", r.code, r.raw)
	}
	delete(all, ids[12])
	delete(scope, ids[12])
	check(t, "/api/v1/properties/options", session, all)
	check(t, "/api/v1/properties/options", key, scope)
	// A user without properties gets an empty list, not null.
	lonely := e.newUser(false)
	r = e.rest("GET", "/api/v1/properties/options", "", "Authorization", "Bearer "+lonely.token)
	if l, ok := get(r.body, "data").([]any); r.code != 200 || !ok || len(l) != 0 {
		t.Fatalf("options without properties: %d %s", r.code, r.raw)
	}
}
