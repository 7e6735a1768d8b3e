package postgres

import (
	"encoding/json"
	"fmt"

	"github.com/keygate/keygate/service/store"
)

// The settings and content of a property are kept as jsonb objects. These
// types fix their encoding, field by field: they convert to and from the
// store types, so a change to those fails to compile here rather than
// silently changing what is on disk. A field missing from a
// stored object reads as its zero value.

type settingsJSON struct {
	AllowAvailabilityAutoupdateOnModification bool   `json:"allow_availability_autoupdate_on_modification"`
	AllowAvailabilityAutoupdateOnCancellation bool   `json:"allow_availability_autoupdate_on_cancellation"`
	MinStayType                               string `json:"min_stay_type"`
	MinPrice                                  string `json:"min_price"`
	MaxPrice                                  string `json:"max_price"`
	StateLength                               int    `json:"state_length"`
	CutOffTime                                string `json:"cut_off_time"`
	CutOffDays                                int    `json:"cut_off_days"`
	MaxDayAdvance                             *int   `json:"max_day_advance"` // null: no limit
}

type contentJSON struct {
	Description          string      `json:"description"`
	ImportantInformation string      `json:"important_information"`
	Photos               []photoJSON `json:"photos"`
}

type photoJSON struct {
	URL         string `json:"url"`
	Position    int    `json:"position"`
	Description string `json:"description"`
	Author      string `json:"author"`
	Kind        string `json:"kind"`
}

// encodeSettings returns the jsonb text of settings. The conversion
// compiles only while settingsJSON has exactly the fields of
// store.PropertySettings.
func encodeSettings(s store.PropertySettings) (string, error) {
	b, err := json.Marshal(settingsJSON(s))
	if err != nil {
		return "", fmt.Errorf("postgres: encode settings: %w", err)
	}
	return string(b), nil
}

// decodeSettings reads settings from their jsonb text.
func decodeSettings(b []byte) (store.PropertySettings, error) {
	var s settingsJSON
	if err := json.Unmarshal(b, &s); err != nil {
		return store.PropertySettings{}, fmt.Errorf("postgres: decode settings: %w", err)
	}
	return store.PropertySettings(s), nil
}

// encodeContent returns the jsonb text of content; photos keep their order.
func encodeContent(c store.PropertyContent) (string, error) {
	photos := make([]photoJSON, len(c.Photos))
	for i, p := range c.Photos {
		photos[i] = photoJSON(p)
	}
	b, err := json.Marshal(contentJSON{
		Description:          c.Description,
		ImportantInformation: c.ImportantInformation,
		Photos:               photos,
	})
	if err != nil {
		return "", fmt.Errorf("postgres: encode content: %w", err)
	}
	return string(b), nil
}

// decodeContent reads content from its jsonb text. Photos is never nil.
func decodeContent(b []byte) (store.PropertyContent, error) {
	var c contentJSON
	if err := json.Unmarshal(b, &c); err != nil {
		return store.PropertyContent{}, fmt.Errorf("postgres: decode content: %w", err)
	}
	photos := make([]store.Photo, len(c.Photos))
	for i, p := range c.Photos {
		photos[i] = store.Photo(p)
	}
	return store.PropertyContent{
		Description:          c.Description,
		ImportantInformation: c.ImportantInformation,
		Photos:               photos,
	}, nil
}
