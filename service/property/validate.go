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

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/rpcerr"
	"github.com/keygate/keygate/service/store"
)

// Defaults of settings left unset on input, as Channex has them.
const (
	defaultStateLength = 500
	defaultMinStayType = "both"
	defaultCutOffTime  = "00:00:00"
	defaultPhotoKind   = "photo"
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
	price      = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,6})?$`)
	cutOffTime = regexp.MustCompile(`^([01][0-9]|2[0-3]):(00|30):00$`)
)

func set(values ...string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

// fromInput validates every writable attribute at once and returns the
// property they describe, with defaults filled in. The error lists every
// violation under its attribute path.
func fromInput(in *keygatev1.PropertyInput) (store.Property, error) {
	var v rpcerr.Violations
	p := store.Property{
		Title:        in.GetTitle(),
		Currency:     in.GetCurrency(),
		Email:        in.GetEmail(),
		Phone:        in.GetPhone(),
		ZipCode:      in.GetZipCode(),
		Country:      in.GetCountry(),
		State:        in.GetState(),
		City:         in.GetCity(),
		Address:      in.GetAddress(),
		Longitude:    in.GetLongitude(),
		Latitude:     in.GetLatitude(),
		Timezone:     in.GetTimezone(),
		PropertyType: in.GetPropertyType(),
	}
	switch {
	case strings.TrimSpace(p.Title) == "":
		v.Add("title", "can't be blank")
	default:
		maxLen(&v, "title", p.Title, 255)
	}
	switch {
	case p.Currency == "":
		v.Add("currency", "can't be blank")
	case !currencies[p.Currency]:
		v.Add("currency", "is not an ISO 4217 currency code")
	}
	if p.Email != "" {
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email || len(p.Email) > 254 {
			v.Add("email", "is not a valid email address")
		}
	}
	maxLen(&v, "phone", p.Phone, 32)
	maxLen(&v, "zip_code", p.ZipCode, 32)
	if p.Country != "" && !countries[p.Country] {
		v.Add("country", "is not an ISO 3166-1 alpha-2 country code")
	}
	maxLen(&v, "state", p.State, 255)
	maxLen(&v, "city", p.City, 255)
	maxLen(&v, "address", p.Address, 255)
	degrees(&v, "longitude", p.Longitude, 180)
	degrees(&v, "latitude", p.Latitude, 90)
	if p.Timezone != "" {
		if _, err := time.LoadLocation(p.Timezone); err != nil || p.Timezone == "Local" {
			v.Add("timezone", "is not an IANA time zone name")
		}
	}
	if p.PropertyType != "" && !propertyTypes[p.PropertyType] {
		v.Add("property_type", "is not included in the list")
	}
	p.Settings = settings(&v, in.GetSettings())
	p.Content = content(&v, in.GetContent())
	return p, v.Err()
}

func settings(v *rpcerr.Violations, in *keygatev1.PropertySettings) store.PropertySettings {
	s := store.PropertySettings{
		AllowAvailabilityAutoupdateOnConfirmation: in.GetAllowAvailabilityAutoupdateOnConfirmation(),
		AllowAvailabilityAutoupdateOnModification: in.GetAllowAvailabilityAutoupdateOnModification(),
		AllowAvailabilityAutoupdateOnCancellation: in.GetAllowAvailabilityAutoupdateOnCancellation(),
		MinStayType: in.GetMinStayType(),
		MinPrice:    in.GetMinPrice(),
		MaxPrice:    in.GetMaxPrice(),
		StateLength: int(in.GetStateLength()),
		CutOffTime:  in.GetCutOffTime(),
		CutOffDays:  int(in.GetCutOffDays()),
	}
	if s.MinStayType == "" {
		s.MinStayType = defaultMinStayType
	} else if !minStayTypes[s.MinStayType] {
		v.Add("settings.min_stay_type", "must be one of both, arrival, through")
	}
	minP, minOK := decimal(v, "settings.min_price", s.MinPrice)
	maxP, maxOK := decimal(v, "settings.max_price", s.MaxPrice)
	if minOK && maxOK && minP.Cmp(maxP) > 0 {
		v.Add("settings.max_price", "must be greater than or equal to min_price")
	}
	if s.StateLength == 0 {
		s.StateLength = defaultStateLength
	} else if s.StateLength < 100 || s.StateLength > 730 {
		v.Add("settings.state_length", "must be between 100 and 730")
	}
	if s.CutOffTime == "" {
		s.CutOffTime = defaultCutOffTime
	} else if !cutOffTime.MatchString(s.CutOffTime) {
		v.Add("settings.cut_off_time", "must be a time of day HH:MM:SS on a 30-minute step")
	}
	if s.CutOffDays < 0 {
		v.Add("settings.cut_off_days", "must be greater than or equal to 0")
	}
	if in.GetMaxDayAdvance() != nil {
		n := int(in.GetMaxDayAdvance().GetValue())
		if n < 0 {
			v.Add("settings.max_day_advance", "must be greater than or equal to 0")
		}
		s.MaxDayAdvance = &n
	}
	return s
}

func content(v *rpcerr.Violations, in *keygatev1.PropertyContent) store.PropertyContent {
	c := store.PropertyContent{
		Description:          in.GetDescription(),
		ImportantInformation: in.GetImportantInformation(),
		LogoURL:              in.GetLogoUrl(),
		Website:              in.GetWebsite(),
		Photos:               make([]store.Photo, 0, len(in.GetPhotos())),
	}
	webURL(v, "content.logo_url", c.LogoURL, false)
	webURL(v, "content.website", c.Website, false)
	for i, ph := range in.GetPhotos() {
		field := "content.photos." + strconv.Itoa(i) + "."
		p := store.Photo{URL: ph.GetUrl(), Position: int(ph.GetPosition()), Description: ph.GetDescription(), Author: ph.GetAuthor(), Kind: ph.GetKind()}
		webURL(v, field+"url", p.URL, true)
		if p.Position < 0 {
			v.Add(field+"position", "must be greater than or equal to 0")
		}
		maxLen(v, field+"author", p.Author, 255)
		if p.Kind == "" {
			p.Kind = defaultPhotoKind
		} else if !photoKinds[p.Kind] {
			v.Add(field+"kind", "must be one of photo, ad, menu")
		}
		c.Photos = append(c.Photos, p)
	}
	return c
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

// decimal parses an optional non-negative price.
func decimal(v *rpcerr.Violations, field, s string) (*big.Rat, bool) {
	if s == "" {
		return nil, false
	}
	if !price.MatchString(s) {
		v.Add(field, "must be a non-negative decimal number")
		return nil, false
	}
	d, _ := new(big.Rat).SetString(s)
	return d, true
}

func webURL(v *rpcerr.Violations, field, s string, required bool) {
	if s == "" {
		if required {
			v.Add(field, "can't be blank")
		}
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > 2048 {
		v.Add(field, "must be an http or https URL")
	}
}
