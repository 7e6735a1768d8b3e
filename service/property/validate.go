package property

import (
	"fmt"
	"math/big"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zone names validate even where the system has no tz database
	"unicode/utf8"

	"github.com/keygate/keygate/service/rpcerr"
	"github.com/keygate/keygate/service/store"
)

// Defaults of attributes left unset, as Channex has them.
const (
	defaultStateLength = 500
	defaultMinStayType = "both"
	defaultCutOffTime  = "00:00:00"
	defaultPhotoKind   = "photo"
)

// Size limits of the attributes that hold free text or lists.
const (
	maxTextLength   = 65535 // content.description, content.important_information
	maxPhotos       = 100
	maxFacilities   = 100
	maxURLLength    = 2048
	maxPhotoCaption = 1000 // content.photos[i].description
)

var (
	propertyTypes = set("apart_hotel", "apartment", "boat", "camping", "capsule_hotel", "chalet",
		"country_house", "farm_stay", "guest_house", "holiday_home", "holiday_park", "homestay",
		"hostel", "hotel", "inn", "lodge", "motel", "resort", "riad", "ryokan", "tent", "villa")
	minStayTypes = set("both", "arrival", "through")
	photoKinds   = set("photo", "ad", "menu")

	// coordinate: an optional sign, up to three integer digits, and at
	// most seven decimal places.
	coordinate = regexp.MustCompile(`^-?[0-9]{1,3}(\.[0-9]{1,7})?$`)
	price      = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]+)?$`)
	cutOffTime = regexp.MustCompile(`^([01][0-9]|2[0-3]):(00|30):00$`)
)

func set(values ...string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

// newProperty returns a property with Channex's defaults and nothing else.
func newProperty() store.Property {
	return store.Property{
		Settings:   defaultSettings(),
		Content:    store.PropertyContent{Photos: []store.Photo{}},
		Facilities: []string{},
		IsActive:   true,
	}
}

func defaultSettings() store.PropertySettings {
	return store.PropertySettings{
		MinStayType: defaultMinStayType,
		StateLength: defaultStateLength,
		CutOffTime:  defaultCutOffTime,
	}
}

// validate checks every rule on a property as it would be stored and
// adds every violation to v under its attribute path. It normalizes
// prices to the currency's decimal places.
func validate(v *rpcerr.Violations, p *store.Property) {
	switch {
	case strings.TrimSpace(p.Title) == "":
		v.Add("title", "can't be blank")
	default:
		maxLen(v, "title", p.Title, 255)
	}
	currencyOK := currencies[p.Currency]
	switch {
	case p.Currency == "":
		v.Add("currency", "can't be blank")
	case !currencyOK:
		v.Add("currency", "is not an ISO 4217 currency code")
	}
	if p.Email != "" {
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email || len(p.Email) > 254 {
			v.Add("email", "is not a valid email address")
		}
	}
	maxLen(v, "phone", p.Phone, 32)
	maxLen(v, "zip_code", p.ZipCode, 32)
	if p.Country != "" && !countries[p.Country] {
		v.Add("country", "is not an ISO 3166-1 alpha-2 country code")
	}
	maxLen(v, "state", p.State, 255)
	maxLen(v, "city", p.City, 255)
	maxLen(v, "address", p.Address, 255)
	degrees(v, "longitude", p.Longitude, 180)
	degrees(v, "latitude", p.Latitude, 90)
	if p.Timezone != "" {
		if _, err := time.LoadLocation(p.Timezone); err != nil || p.Timezone == "Local" {
			v.Add("timezone", "is not an IANA time zone name")
		}
	}
	if p.PropertyType != "" && !propertyTypes[p.PropertyType] {
		v.Add("property_type", "is not included in the list")
	}
	webURL(v, "logo_url", p.LogoURL, false)
	webURL(v, "website", p.Website, false)
	facilities(v, p.Facilities)
	validatePrices(v, &p.Settings, p.Currency, currencyOK)
	validateSettings(v, p.Settings)
	validateContent(v, &p.Content)
}

func facilities(v *rpcerr.Violations, ids []string) {
	if len(ids) > maxFacilities {
		v.Add("facilities", fmt.Sprintf("is too long (maximum is %d facilities)", maxFacilities))
	}
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		field := "facilities[" + strconv.Itoa(i) + "]"
		switch {
		case !store.ValidID(id):
			v.Add(field, "must be a facility id (a lower-case UUID)")
		case seen[id]:
			v.Add(field, "is a duplicate")
		}
		seen[id] = true
	}
}

// validatePrices checks min_price and max_price and, with a valid
// currency, writes them with its decimal places ("100" in EUR becomes
// "100.00").
func validatePrices(v *rpcerr.Violations, s *store.PropertySettings, currency string, currencyOK bool) {
	minP, minOK := normalizePrice(v, "settings.min_price", &s.MinPrice, currency, currencyOK)
	maxP, maxOK := normalizePrice(v, "settings.max_price", &s.MaxPrice, currency, currencyOK)
	if minOK && maxOK && minP.Cmp(maxP) > 0 {
		v.Add("settings.max_price", "must be greater than or equal to min_price")
	}
}

func normalizePrice(v *rpcerr.Violations, field string, s *string, currency string, currencyOK bool) (*big.Rat, bool) {
	if *s == "" {
		return nil, false
	}
	if !price.MatchString(*s) {
		v.Add(field, "must be a non-negative decimal number")
		return nil, false
	}
	d, _ := new(big.Rat).SetString(*s) // the pattern guarantees a number
	if !currencyOK {
		return d, true
	}
	n := places(currency)
	scaled := new(big.Rat).Mul(d, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)))
	if !scaled.IsInt() {
		v.Add(field, fmt.Sprintf("has more decimal places than %s allows (%d)", currency, n))
		return nil, false
	}
	*s = d.FloatString(n)
	return d, true
}

// minorUnits returns the decimal string of an amount in a currency's minor
// units: 10000 in EUR is "100.00".
func minorUnits(n int64, currency string) string {
	d := new(big.Rat).SetFrac(big.NewInt(n), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places(currency))), nil))
	return d.FloatString(places(currency))
}

func validateSettings(v *rpcerr.Violations, s store.PropertySettings) {
	if !minStayTypes[s.MinStayType] {
		v.Add("settings.min_stay_type", "must be one of both, arrival, through")
	}
	if s.StateLength < 100 || s.StateLength > 730 {
		v.Add("settings.state_length", "must be between 100 and 730")
	}
	if !cutOffTime.MatchString(s.CutOffTime) {
		v.Add("settings.cut_off_time", "must be a time of day HH:MM:SS on a 30-minute step")
	}
	if s.CutOffDays < 0 {
		v.Add("settings.cut_off_days", "must be greater than or equal to 0")
	}
	if s.MaxDayAdvance != nil && *s.MaxDayAdvance < 0 {
		v.Add("settings.max_day_advance", "must be greater than or equal to 0")
	}
}

func validateContent(v *rpcerr.Violations, c *store.PropertyContent) {
	maxLen(v, "content.description", c.Description, maxTextLength)
	maxLen(v, "content.important_information", c.ImportantInformation, maxTextLength)
	if len(c.Photos) > maxPhotos {
		v.Add("content.photos", fmt.Sprintf("is too long (maximum is %d photos)", maxPhotos))
	}
	for i := range c.Photos {
		ph := &c.Photos[i]
		field := "content.photos[" + strconv.Itoa(i) + "]."
		webURL(v, field+"url", ph.URL, true)
		if ph.Position < 0 {
			v.Add(field+"position", "must be greater than or equal to 0")
		}
		maxLen(v, field+"description", ph.Description, maxPhotoCaption)
		maxLen(v, field+"author", ph.Author, 255)
		if ph.Kind == "" {
			ph.Kind = defaultPhotoKind
		} else if !photoKinds[ph.Kind] {
			v.Add(field+"kind", "must be one of photo, ad, menu")
		}
	}
}

func maxLen(v *rpcerr.Violations, field, s string, n int) {
	if utf8.RuneCountInString(s) > n {
		v.Add(field, fmt.Sprintf("is too long (maximum is %d characters)", n))
	}
}

// degrees checks a coordinate given as a decimal string.
func degrees(v *rpcerr.Violations, field, s string, limit int) {
	if s == "" {
		return
	}
	if !coordinate.MatchString(s) {
		v.Add(field, "must be a decimal number with at most 7 decimal places")
		return
	}
	d, _ := new(big.Rat).SetString(s) // the pattern guarantees a number
	if d.Cmp(big.NewRat(int64(limit), 1)) > 0 || d.Cmp(big.NewRat(-int64(limit), 1)) < 0 {
		v.Add(field, fmt.Sprintf("must be between -%d and %d", limit, limit))
	}
}

func webURL(v *rpcerr.Violations, field, s string, required bool) {
	if s == "" {
		if required {
			v.Add(field, "can't be blank")
		}
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > maxURLLength {
		v.Add(field, "must be an http or https URL")
	}
}
