package property

import (
	"github.com/keygate/keygate/service/audit"
	"github.com/keygate/keygate/service/store"
)

// changes lists the attributes that differ between two versions of a
// property (see attributes).
func changes(old, new map[string]any) audit.Changes {
	c := audit.Changes{}
	for name, v := range old {
		c.Add(name, v, new[name])
	}
	return c
}

// attributes are the writable attributes of a property by their REST
// paths (settings and content key by key), as the REST API writes them:
// null for unset ones. Nothing in the result shares memory with p.
func attributes(p store.Property) map[string]any {
	n := audit.Nullable
	var maxDayAdvance any
	if p.Settings.MaxDayAdvance != nil {
		maxDayAdvance = *p.Settings.MaxDayAdvance
	}
	photos := make([]any, len(p.Content.Photos))
	for i, ph := range p.Content.Photos {
		photos[i] = map[string]any{"url": ph.URL, "position": ph.Position, "description": n(ph.Description),
			"author": n(ph.Author), "kind": ph.Kind}
	}
	facilities := make([]any, len(p.Facilities))
	for i, f := range p.Facilities {
		facilities[i] = f
	}
	return map[string]any{
		"title": p.Title, "currency": p.Currency, "email": n(p.Email), "phone": n(p.Phone),
		"zip_code": n(p.ZipCode), "country": n(p.Country), "state": n(p.State), "city": n(p.City),
		"address": n(p.Address), "longitude": n(p.Longitude), "latitude": n(p.Latitude),
		"timezone": n(p.Timezone), "property_type": n(p.PropertyType), "logo_url": n(p.LogoURL),
		"website": n(p.Website), "facilities": facilities,
		"settings.allow_availability_autoupdate_on_modification": p.Settings.AllowAvailabilityAutoupdateOnModification,
		"settings.allow_availability_autoupdate_on_cancellation": p.Settings.AllowAvailabilityAutoupdateOnCancellation,
		"settings.min_stay_type":                                 p.Settings.MinStayType,
		"settings.min_price":                                     n(p.Settings.MinPrice),
		"settings.max_price":                                     n(p.Settings.MaxPrice),
		"settings.state_length":                                  p.Settings.StateLength,
		"settings.cut_off_time":                                  p.Settings.CutOffTime,
		"settings.cut_off_days":                                  p.Settings.CutOffDays,
		"settings.max_day_advance":                               maxDayAdvance,
		"content.description":                                    n(p.Content.Description),
		"content.important_information":                          n(p.Content.ImportantInformation),
		"content.photos":                                         photos,
	}
}
