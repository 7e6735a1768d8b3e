package property

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/rpcerr"
	"github.com/keygate/keygate/service/store"
)

// A setter writes one attribute of an input onto a stored property. An
// attribute unset in the input is cleared: back to its default, or "" for
// optional ones. Prices are written as the input gives them (a decimal, or
// minor units turned into one by the property's currency once every
// attribute is in place; see apply).
type setter func(p *store.Property, in *keygatev1.PropertyInput, prices *pendingPrices, v *rpcerr.Violations)

// pendingPrices are price inputs given in minor units, which mean
// something only with the currency of the merged property.
type pendingPrices struct{ min, max *int64 }

// setters has one entry per attribute path an update mask may name: every
// writable attribute, and every attribute of settings and content.
// "settings" and "content" as a whole are paths too (see applyPaths).
var setters = map[string]setter{
	// group_id is read by CreateProperty alone: on update it is ignored.
	"group_id": func(*store.Property, *keygatev1.PropertyInput, *pendingPrices, *rpcerr.Violations) {},
	"title": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Title = in.GetTitle()
	},
	"currency": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Currency = in.GetCurrency()
	},
	"email": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Email = in.GetEmail()
	},
	"phone": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Phone = in.GetPhone()
	},
	"zip_code": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.ZipCode = in.GetZipCode()
	},
	"country": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Country = in.GetCountry()
	},
	"state": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.State = in.GetState()
	},
	"city": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.City = in.GetCity()
	},
	"address": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Address = in.GetAddress()
	},
	"longitude": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Longitude = in.GetLongitude()
	},
	"latitude": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Latitude = in.GetLatitude()
	},
	"timezone": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Timezone = in.GetTimezone()
	},
	"property_type": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.PropertyType = in.GetPropertyType()
	},
	"logo_url": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.LogoURL = in.GetLogoUrl()
	},
	"website": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Website = in.GetWebsite()
	},
	"facilities": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Facilities = append([]string{}, in.GetFacilities()...)
	},

	"settings.allow_availability_autoupdate_on_confirmation": func(_ *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, v *rpcerr.Violations) {
		if s := in.GetSettings(); s.AllowAvailabilityAutoupdateOnConfirmation != nil && !s.GetAllowAvailabilityAutoupdateOnConfirmation() {
			v.Add("settings.allow_availability_autoupdate_on_confirmation", "can't be changed: it is always true")
		}
	},
	"settings.allow_availability_autoupdate_on_modification": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Settings.AllowAvailabilityAutoupdateOnModification = in.GetSettings().GetAllowAvailabilityAutoupdateOnModification()
	},
	"settings.allow_availability_autoupdate_on_cancellation": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Settings.AllowAvailabilityAutoupdateOnCancellation = in.GetSettings().GetAllowAvailabilityAutoupdateOnCancellation()
	},
	"settings.min_stay_type": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Settings.MinStayType = cmpOr(in.GetSettings().GetMinStayType(), defaultMinStayType)
	},
	"settings.min_price": func(p *store.Property, in *keygatev1.PropertyInput, prices *pendingPrices, _ *rpcerr.Violations) {
		p.Settings.MinPrice, prices.min = priceInput(in.GetSettings().GetMinPrice())
	},
	"settings.max_price": func(p *store.Property, in *keygatev1.PropertyInput, prices *pendingPrices, _ *rpcerr.Violations) {
		p.Settings.MaxPrice, prices.max = priceInput(in.GetSettings().GetMaxPrice())
	},
	"settings.state_length": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Settings.StateLength = defaultStateLength
		if s := in.GetSettings(); s.StateLength != nil {
			p.Settings.StateLength = int(s.GetStateLength())
		}
	},
	"settings.cut_off_time": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Settings.CutOffTime = cmpOr(in.GetSettings().GetCutOffTime(), defaultCutOffTime)
	},
	"settings.cut_off_days": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Settings.CutOffDays = int(in.GetSettings().GetCutOffDays())
	},
	"settings.max_day_advance": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Settings.MaxDayAdvance = nil
		if s := in.GetSettings(); s.MaxDayAdvance != nil {
			days := int(s.GetMaxDayAdvance())
			p.Settings.MaxDayAdvance = &days
		}
	},

	"content.description": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Content.Description = in.GetContent().GetDescription()
	},
	"content.important_information": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Content.ImportantInformation = in.GetContent().GetImportantInformation()
	},
	"content.photos": func(p *store.Property, in *keygatev1.PropertyInput, _ *pendingPrices, _ *rpcerr.Violations) {
		p.Content.Photos = make([]store.Photo, 0, len(in.GetContent().GetPhotos()))
		for _, ph := range in.GetContent().GetPhotos() {
			p.Content.Photos = append(p.Content.Photos, store.Photo{
				URL: ph.GetUrl(), Position: int(ph.GetPosition()), Description: ph.GetDescription(),
				Author: ph.GetAuthor(), Kind: ph.GetKind(),
			})
		}
	},
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// priceInput returns a decimal price as it is, or minor units to be
// turned into a decimal once the currency is known.
func priceInput(in *keygatev1.Price) (string, *int64) {
	if m, ok := in.GetAmount().(*keygatev1.Price_MinorUnits); ok {
		n := m.MinorUnits
		return "", &n
	}
	return in.GetDecimal(), nil
}

// apply writes the attributes named by paths from in onto p, then checks
// every rule on the result. On create, p holds the defaults and paths are
// the attributes in is populated with.
func apply(p *store.Property, in *keygatev1.PropertyInput, paths []string) error {
	var v rpcerr.Violations
	var prices pendingPrices
	applyPaths(p, in, paths, &prices, &v)
	for _, pending := range []struct {
		units  *int64
		field  string
		target *string
	}{{prices.min, "settings.min_price", &p.Settings.MinPrice}, {prices.max, "settings.max_price", &p.Settings.MaxPrice}} {
		switch {
		case pending.units == nil:
		case *pending.units < 0:
			v.Add(pending.field, "must be greater than or equal to 0")
		case currencies[p.Currency]:
			*pending.target = minorUnits(*pending.units, p.Currency)
		}
	}
	validate(&v, p)
	return v.Err()
}

func applyPaths(p *store.Property, in *keygatev1.PropertyInput, paths []string, prices *pendingPrices, v *rpcerr.Violations) {
	for _, path := range paths {
		switch path {
		case "settings": // the whole object: what is not given is cleared
			p.Settings = defaultSettings()
			applyPaths(p, in, populated(in.GetSettings(), "settings."), prices, v)
		case "content":
			p.Content = store.PropertyContent{Photos: []store.Photo{}}
			applyPaths(p, in, populated(in.GetContent(), "content."), prices, v)
		default:
			setters[path](p, in, prices, v)
		}
	}
}

// maskPaths returns the paths of an update: the mask's, checked, or when
// there is none, every attribute set in the input (AIP-134).
func maskPaths(in *keygatev1.PropertyInput, mask []string) ([]string, error) {
	if len(mask) == 0 {
		return populated(in, ""), nil
	}
	var v rpcerr.Violations
	for _, path := range mask {
		if setters[path] == nil && path != "settings" && path != "content" {
			v.Add("update_mask", "has no attribute "+path)
		}
	}
	// A whole object is set before the attributes inside it, so that
	// {"settings": {...}, "settings.min_price": ...} keeps the latter.
	paths := slices.Clone(mask)
	slices.SortStableFunc(paths, func(a, b string) int { return strings.Count(a, ".") - strings.Count(b, ".") })
	return paths, v.Err()
}

// populated lists the attribute paths set in m, under prefix; settings
// and content by each attribute inside them.
func populated(m interface{ ProtoReflect() protoreflect.Message }, prefix string) []string {
	var paths []string
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		if prefix == "" && (path == "settings" || path == "content") {
			paths = append(paths, populated(val.Message().Interface(), path+".")...)
		} else {
			paths = append(paths, path)
		}
		return true
	})
	return paths
}
