package console_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestConsoleProperties: the Properties page lists a page at a time;
// creating shows 422 details next to their controls; an edit sends only
// what changed (PUT is a partial update) and an emptied field clears the
// attribute; sharing invites an account by email; Actions → Delete
// deletes after a confirmation. Every outcome is checked over HTTP.
func TestConsoleProperties(t *testing.T) {
	b := newBrowser(t, 1280, 900)
	k := startKeygate(t)
	ana := k.newAccount(true)
	bob := k.newAccount(true)
	for i := 1; i <= 11; i++ {
		k.newProperty(ana, fmt.Sprintf("Property %02d", i))
	}
	auth := []string{"authorization", "Bearer " + ana.token}

	b.signIn(k, ana)
	b.do("opening Properties",
		chromedp.Click(`//nav//a[normalize-space()="Properties"]`),
		chromedp.WaitVisible(rowOf("Property 01")),
	)
	if n := eval[int](b, `document.querySelectorAll("table.properties tbody tr").length`); n != 10 {
		t.Errorf("page 1 lists %d properties, want 10", n)
	}
	if got := b.text(`nav.pager span`); !strings.HasPrefix(got, "Page 1 of 2") {
		t.Errorf("pager: %q", got)
	}
	b.do("going to page 2",
		chromedp.Click(`//a[normalize-space()="Next page"]`),
		chromedp.WaitVisible(rowOf("Property 11")),
	)
	if n := eval[int](b, `document.querySelectorAll("table.properties tbody tr").length`); n != 1 {
		t.Errorf("page 2 lists %d properties, want 1", n)
	}

	// Create: the API's 422 details appear next to the controls they name.
	b.do("submitting an invalid property",
		chromedp.Click(`//a[normalize-space()="Create property"]`),
		chromedp.WaitVisible(`input[name="title"]`),
		chromedp.SendKeys(`input[name="currency"]`, "XXX"),
		chromedp.SendKeys(`input[name="email"]`, "not an email"),
		chromedp.Click(`//button[normalize-space()="Create property"]`),
		chromedp.WaitVisible(`[data-field="title"] .field-error`),
	)
	for path, want := range map[string]string{"title": "blank", "currency": "ISO 4217", "email": "email"} {
		sel := fmt.Sprintf(`[data-field=%q] .field-error`, path)
		if got := b.text(sel); !strings.Contains(got, want) {
			t.Errorf("error next to %s: %q, want it to mention %q", path, got, want)
		}
		if got := eval[string](b, fmt.Sprintf(`document.querySelector('[name=%q]').getAttribute("aria-invalid")`, path)); got != "true" {
			t.Errorf("%s is not marked invalid", path)
		}
	}
	b.do("creating a property",
		chromedp.SendKeys(`input[name="title"]`, "Lisbon Riverside"),
		clearField(`input[name="currency"]`),
		chromedp.SendKeys(`input[name="currency"]`, "EUR"),
		clearField(`input[name="email"]`),
		chromedp.SendKeys(`input[name="email"]`, "desk@riverside.example"),
		chromedp.SendKeys(`input[name="city"]`, "Lisbon"),
		chromedp.Click(`//button[normalize-space()="Create property"]`),
		chromedp.WaitVisible(`#sharing-heading`),
	)
	if got := b.text(`//h1`); got != "Lisbon Riverside" {
		t.Errorf("after create the page is %q", got)
	}
	id := strings.TrimPrefix(eval[string](b, `location.hash`), "#/properties/")
	_, created := k.rest(200, "GET", "/api/v1/properties/"+id, "", auth...)
	if a := str(created, "data", "attributes", "city"); a != "Lisbon" {
		t.Errorf("created city: %q", a)
	}

	// Edit: only the changed attribute is sent; the others are kept.
	url := k.base + "/api/v1/properties/" + id
	sent := chromedp.Events(b.ctx, network.RequestWillBeSent)
	b.do("changing the city",
		clearField(`input[name="city"]`),
		chromedp.SendKeys(`input[name="city"]`, "Porto"),
		chromedp.Click(`//button[normalize-space()="Save changes"]`),
	)
	if body := b.bodyOf(sent, "PUT", url); !sameJSON(body, `{"property":{"city":"Porto"}}`) {
		t.Errorf("the edit sent %s, want only the city", body)
	}
	b.do("waiting for Saved", chromedp.WaitVisible(`//form//p[@role="status"][normalize-space()="Saved."]`))
	_, edited := k.rest(200, "GET", "/api/v1/properties/"+id, "", auth...)
	if city, email := str(edited, "data", "attributes", "city"), str(edited, "data", "attributes", "email"); city != "Porto" || email != "desk@riverside.example" {
		t.Errorf("after the edit: city %q, email %q; want Porto and the email kept", city, email)
	}

	// Emptying a field clears the attribute (null).
	sent = chromedp.Events(b.ctx, network.RequestWillBeSent)
	b.do("clearing the email",
		clearField(`input[name="email"]`),
		chromedp.Click(`//button[normalize-space()="Save changes"]`),
	)
	if body := b.bodyOf(sent, "PUT", url); !sameJSON(body, `{"property":{"email":null}}`) {
		t.Errorf("clearing sent %s", body)
	}
	b.do("waiting for Saved", chromedp.WaitVisible(`//form//p[@role="status"][normalize-space()="Saved."]`))
	_, cleared := k.rest(200, "GET", "/api/v1/properties/"+id, "", auth...)
	if v, _ := cleared["data"].(map[string]any)["attributes"].(map[string]any)["email"]; v != nil {
		t.Errorf("the cleared email reads %v, want null", v)
	}

	// Share with another account by email.
	k.rest(404, "GET", "/api/v1/properties/"+id, "", "authorization", "Bearer "+bob.token)
	b.do("inviting bob",
		chromedp.SendKeys(`input[name="user_email"]`, bob.email),
		chromedp.Click(`//button[normalize-space()="Invite"]`),
		chromedp.WaitVisible(fmt.Sprintf(`//table[contains(@class,"people")]//th[contains(., %q)]`, bob.email)),
	)
	k.rest(200, "GET", "/api/v1/properties/"+id, "", "authorization", "Bearer "+bob.token)

	// Delete from the list, after a confirmation.
	b.do("deleting from the list",
		chromedp.Click(`//nav//a[normalize-space()="Properties"]`),
		chromedp.WaitVisible(rowOf("Lisbon Riverside")),
		chromedp.Click(rowOf("Lisbon Riverside")+`//button[normalize-space()="Actions"]`),
		chromedp.Click(rowOf("Lisbon Riverside")+`//button[@role="menuitem"][normalize-space()="Delete"]`, chromedp.NodeVisible),
		chromedp.Click(`//dialog//button[normalize-space()="Delete"]`, chromedp.NodeVisible),
		chromedp.WaitVisible(`//p[contains(@class,"flash")][contains(., "has been deleted")]`),
	)
	if n := eval[int](b, `[...document.querySelectorAll("table.properties th")].filter((th) => th.textContent === "Lisbon Riverside").length`); n != 0 {
		t.Error("the deleted property is still listed")
	}
	k.rest(404, "GET", "/api/v1/properties/"+id, "", auth...)
	b.checkClean()
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}
