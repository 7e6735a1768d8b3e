package console_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/keygate/keygate/service/console"
)

// rowOf is an XPath for the table row of the key or property named name.
func rowOf(name string) string {
	return fmt.Sprintf(`//tr[th[normalize-space()=%q]]`, name)
}

// TestConsoleAPIKeys walks the seed flow in a real browser: sign in, create
// an all-properties key and use it, create a key for one property through
// the picker and check its reach, withdraw it with the keyboard through
// Actions → Withdraw → confirm, and reload.
func TestConsoleAPIKeys(t *testing.T) {
	b := newBrowser(t, 1280, 800)
	k := startKeygate(t)
	ana := k.newAccount(true)
	harbour := k.newProperty(ana, "Harbour View Hotel")
	oldTown := k.newProperty(ana, "Old Town Apartments")

	// The page is served with the headers of CONTRACT §9.
	resp, err := http.Get(k.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for name, want := range map[string]string{
		"Content-Security-Policy": console.ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}

	b.signIn(k, ana)
	if got := b.text(`//h1`); got != "User Profile" {
		t.Errorf("after sign-in the page is %q, want User Profile", got)
	}

	// An all-properties key: the checkbox is checked by default.
	b.do("opening the create form",
		chromedp.Click(`//button[normalize-space()="Create new API Key"]`, chromedp.NodeVisible),
		chromedp.WaitVisible(`input[name="name"]`),
	)
	if !eval[bool](b, `document.querySelector('input[name="all_properties"]').checked`) {
		t.Error("Access to all properties is not checked by default")
	}
	if eval[bool](b, `!document.querySelector('fieldset.picker').hidden`) {
		t.Error("the property picker shows while Access to all properties is checked")
	}
	b.do("creating an all-properties key",
		chromedp.SendKeys(`input[name="name"]`, "channel sync"),
		chromedp.Click(`//button[normalize-space()="Create"]`),
		chromedp.WaitVisible(`#new-key-value`),
	)
	allKey := b.text(`#new-key-value`)
	if !strings.HasPrefix(allKey, "kg_") {
		t.Fatalf("the page shows %q as the new key", allKey)
	}
	if warning := b.text(`.new-key .warning`); !strings.Contains(warning, "will not be shown again") {
		t.Errorf("the shown-once warning says %q", warning)
	}
	b.do("waiting for the list", chromedp.WaitVisible(rowOf("channel sync")))
	b.screenshot("console-new-key.png")
	k.rest(200, "GET", "/api/v1/properties", "", "user-api-key", allKey)

	b.do("copying the key", chromedp.Click(`//button[normalize-space()="Copy"]`))
	b.do("waiting for the copy outcome", chromedp.WaitVisible(`.new-key .status`))

	// A key for one property, chosen in the picker.
	b.do("creating a key for one property",
		chromedp.Click(`//button[normalize-space()="Done"]`),
		chromedp.Click(`//button[normalize-space()="Create new API Key"]`, chromedp.NodeVisible),
		chromedp.SendKeys(`input[name="name"]`, "revenue manager"),
		chromedp.Click(`//label[normalize-space()="Access to all properties"]`),
		chromedp.WaitVisible(`fieldset.picker`),
		chromedp.Click(`//fieldset//label[normalize-space()="Harbour View Hotel"]`),
		chromedp.Click(`//button[normalize-space()="Create"]`),
		chromedp.WaitVisible(`#new-key-value`),
	)
	oneKey := b.text(`#new-key-value`)
	k.rest(200, "GET", "/api/v1/properties/"+harbour, "", "user-api-key", oneKey)
	k.rest(403, "GET", "/api/v1/properties/"+oldTown, "", "user-api-key", oneKey)
	b.do("closing the new key", chromedp.Click(`//button[normalize-space()="Done"]`))
	if got := b.text(rowOf("revenue manager") + `/td[@data-label="Access"]`); got != "Harbour View Hotel" {
		t.Errorf("access of the one-property key: %q", got)
	}
	if got := b.text(rowOf("channel sync") + `/td[@data-label="Access"]`); got != "All properties" {
		t.Errorf("access of the all-properties key: %q", got)
	}

	// Withdraw with the keyboard alone: Enter opens the Actions menu on its
	// first item, ArrowDown moves to Withdraw, Enter opens the confirmation with Cancel focused,
	// Tab moves to Withdraw, Enter confirms.
	b.do("opening the Actions menu",
		chromedp.Focus(rowOf("revenue manager")+`//button[normalize-space()="Actions"]`),
		chromedp.KeyEvent(kb.Enter),
	)
	if got := eval[string](b, `document.activeElement.textContent`); got != "Roll over" {
		t.Fatalf("focus after opening the menu is on %q, want its first item", got)
	}
	b.do("moving down the menu", chromedp.KeyEvent(kb.ArrowDown))
	if got := eval[string](b, `document.activeElement.textContent`); got != "Withdraw" {
		t.Fatalf("ArrowDown in the menu went to %q, want Withdraw", got)
	}
	b.do("choosing Withdraw", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(`dialog[open]`))
	if got := eval[string](b, `document.activeElement.textContent`); got != "Cancel" {
		t.Errorf("the confirmation starts on %q, want Cancel", got)
	}
	b.do("moving to Withdraw", chromedp.KeyEvent(kb.Tab))
	if got := eval[string](b, `document.activeElement.textContent`); got != "Withdraw" {
		t.Fatalf("Tab in the confirmation went to %q", got)
	}
	if got := eval[string](b, `getComputedStyle(document.activeElement).outlineStyle`); got == "none" {
		t.Error("the focused button shows no focus outline")
	}
	b.do("confirming",
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(rowOf("revenue manager")+`[@data-status="revoked"]`),
	)
	if got := b.text(rowOf("revenue manager") + `/td[@data-label="Status"]`); !strings.HasPrefix(got, "Withdrawn") {
		t.Errorf("status of the withdrawn key: %q", got)
	}
	if got := b.text(rowOf("channel sync") + `/td[@data-label="Status"]`); got != "Active" {
		t.Errorf("status of the other key: %q", got)
	}
	k.rest(401, "GET", "/api/v1/properties", "", "user-api-key", oneKey)
	k.rest(200, "GET", "/api/v1/properties", "", "user-api-key", allKey)
	b.do("reloading", chromedp.Reload(), chromedp.WaitVisible(rowOf("channel sync")))
	b.screenshot("console-api-keys.png")

	// After a reload, neither key is anywhere in the page or its storage;
	// the session token is in sessionStorage only.
	html := eval[string](b, `document.documentElement.outerHTML + JSON.stringify(sessionStorage) + JSON.stringify(localStorage)`)
	for _, key := range []string{allKey, oneKey} {
		if strings.Contains(html, key) || strings.Contains(html, key[len(key)-20:]) {
			t.Errorf("after a reload the page still holds the key %s…", key[:8])
		}
	}
	if n := eval[int](b, `localStorage.length`); n != 0 {
		t.Errorf("localStorage holds %d items", n)
	}
	if !strings.Contains(html, "revenue manager") {
		t.Error("the withdrawn key is no longer listed after a reload")
	}

	// Sign out: back to sign-in, and the session token no longer works.
	token := eval[string](b, `sessionStorage.getItem("keygate.session")`)
	b.do("signing out",
		chromedp.Click(`#sign-out`),
		chromedp.WaitVisible(`input[name="email"]`),
	)
	if n := eval[int](b, `sessionStorage.length`); n != 0 {
		t.Errorf("sessionStorage holds %d items after sign-out", n)
	}
	k.rest(401, "GET", "/api/v1/api_keys", "", "authorization", "Bearer "+token)
	b.checkClean()
}

// TestConsoleExpiredSession: a 401 on a signed-in call returns to sign-in.
func TestConsoleExpiredSession(t *testing.T) {
	b := newBrowser(t, 1280, 800)
	k := startKeygate(t)
	ana := k.newAccount(true)
	b.signIn(k, ana)
	token := eval[string](b, `sessionStorage.getItem("keygate.session")`)
	k.rest(200, "POST", "/api/v1/sign_out", "", "authorization", "Bearer "+token)
	b.do("opening Properties with an ended session",
		chromedp.Click(`//nav//a[normalize-space()="Properties"]`),
		chromedp.WaitVisible(`input[name="email"]`),
	)
	if got := b.text(`.flash`); !strings.Contains(got, "session has ended") {
		t.Errorf("the sign-in page says %q", got)
	}
	b.checkClean()
}

// TestConsoleInactiveSubscription: without an active subscription the
// section says so and offers no create button; the API refuses creation
// too; the existing key can still be withdrawn.
func TestConsoleInactiveSubscription(t *testing.T) {
	b := newBrowser(t, 1280, 800)
	k := startKeygate(t)
	ana := k.newAccount(true)
	k.rest(201, "POST", "/api/v1/api_keys", `{"api_key":{"name":"old integration","all_properties":true}}`, "authorization", "Bearer "+ana.token)
	k.setSubscription(ana, false)

	b.signIn(k, ana)
	b.do("waiting for the list", chromedp.WaitVisible(rowOf("old integration")))
	if got := b.text(`#subscription-needed`); !strings.Contains(got, "active subscription is needed") {
		t.Errorf("the notice says %q", got)
	}
	if n := eval[int](b, `[...document.querySelectorAll("button")].filter((b) => b.textContent.includes("Create new API Key")).length`); n != 0 {
		t.Errorf("%d create buttons without a subscription", n)
	}
	token := eval[string](b, `sessionStorage.getItem("keygate.session")`)
	k.rest(403, "POST", "/api/v1/api_keys", `{"api_key":{"name":"new","all_properties":true}}`, "authorization", "Bearer "+token)

	b.do("withdrawing without a subscription",
		chromedp.Click(rowOf("old integration")+`//button[normalize-space()="Actions"]`),
		chromedp.Click(rowOf("old integration")+`//button[@role="menuitem"][normalize-space()="Withdraw"]`, chromedp.NodeVisible),
		chromedp.Click(`//dialog//button[normalize-space()="Withdraw"]`, chromedp.NodeVisible),
		chromedp.WaitVisible(rowOf("old integration")+`[@data-status="revoked"]`),
	)
	b.checkClean()
}

// TestConsoleRendersDataAsText: a property title that is markup is shown
// as text everywhere the console shows titles, and runs nothing. A last
// probe checks that the page's CSP blocks inline script and that this test
// would see it if it ran.
func TestConsoleRendersDataAsText(t *testing.T) {
	const title = `<img src=x onerror=alert(1)>`
	b := newBrowser(t, 1280, 800)
	k := startKeygate(t)
	ana := k.newAccount(true)
	id := k.newProperty(ana, title)
	k.newProperty(ana, "Harbour View Hotel")
	k.rest(201, "POST", "/api/v1/api_keys", fmt.Sprintf(`{"api_key":{"name":%q,"all_properties":false,"property_ids":[%q]}}`, title, id), "authorization", "Bearer "+ana.token)

	noImages := func(where string) {
		t.Helper()
		if n := eval[int](b, `document.images.length`); n != 0 {
			t.Errorf("%s: the page has %d <img> elements", where, n)
		}
	}
	b.signIn(k, ana)
	b.do("waiting for the list", chromedp.WaitVisible(rowOf(title)))
	if got := b.text(rowOf(title) + `/td[@data-label="Access"]`); got != title {
		t.Errorf("access column: %q, want the title as text", got)
	}
	noImages("API keys")

	b.do("opening the picker",
		chromedp.Click(`//button[normalize-space()="Create new API Key"]`, chromedp.NodeVisible),
		chromedp.Click(`//label[normalize-space()="Access to all properties"]`),
		chromedp.WaitVisible(fmt.Sprintf(`//fieldset//label[normalize-space()=%q]`, title)),
	)
	noImages("picker")

	b.do("opening Properties",
		chromedp.Click(`//nav//a[normalize-space()="Properties"]`),
		chromedp.WaitVisible(rowOf(title)),
	)
	noImages("Properties")
	b.do("opening the property",
		chromedp.Click(rowOf(title)+`//a`),
		chromedp.WaitVisible(`#sharing-heading`),
	)
	if got := b.text(`//h1`); got != title {
		t.Errorf("property heading: %q", got)
	}
	noImages("property page")
	b.checkClean()

	// The probe: an inline script added now must not run, and the CSP
	// violation must reach the console this test reads.
	ran := eval[bool](b, `(() => {
		const s = document.createElement("script");
		s.textContent = "window.inlineRan = true";
		document.body.append(s);
		return window.inlineRan === true;
	})()`)
	if ran {
		t.Error("an inline script ran: the CSP does not block it")
	}
	problems := b.problemsSoFar()
	if len(problems) != 1 || !strings.Contains(problems[0], "Content Security Policy") {
		t.Errorf("after the inline-script probe the console has %q, want one CSP violation", problems)
	}
}

// TestConsoleNarrowScreen: at 375 px nothing is wider than the screen.
func TestConsoleNarrowScreen(t *testing.T) {
	b := newBrowser(t, 375, 812)
	k := startKeygate(t)
	ana := k.newAccount(true)
	id := k.newProperty(ana, "Harbour View Hotel")
	k.rest(201, "POST", "/api/v1/api_keys", fmt.Sprintf(`{"api_key":{"name":"revenue manager with a long name","all_properties":false,"property_ids":[%q]}}`, id), "authorization", "Bearer "+ana.token)
	b.signIn(k, ana)
	b.do("waiting for the list", chromedp.WaitVisible(rowOf("revenue manager with a long name")))
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > 375 {
		t.Errorf("API keys at 375 px: the page is %d px wide", w)
	}
	b.do("opening Properties", chromedp.Click(`//nav//a[normalize-space()="Properties"]`), chromedp.WaitVisible(rowOf("Harbour View Hotel")))
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > 375 {
		t.Errorf("Properties at 375 px: the page is %d px wide", w)
	}
	b.checkClean()
}

// TestConsoleKeyPolicy: the limits of CONTRACT §7 in the create form
// (read-only, expiry, allowed addresses, with 422 details next to their
// control), in the list, and Actions → Roll over, each checked over HTTP.
func TestConsoleKeyPolicy(t *testing.T) {
	b := newBrowser(t, 1280, 900)
	k := startKeygate(t)
	ana := k.newAccount(true)
	k.newProperty(ana, "Harbour View Hotel")

	b.signIn(k, ana)
	b.do("filling in a key with limits",
		chromedp.Click(`//button[normalize-space()="Create new API Key"]`, chromedp.NodeVisible),
		chromedp.SendKeys(`input[name="name"]`, "rate report"),
		chromedp.Click(`//summary[normalize-space()="Limits (optional)"]`),
		chromedp.Click(`//label[starts-with(normalize-space(), "Read-only")]`, chromedp.NodeVisible),
		chromedp.SetValue(`input[name="expires_at"]`, "2099-01-01T12:00"),
		chromedp.SendKeys(`textarea[name="allowed_ips"]`, "127.0.0.1/32\nnot-an-address"),
		chromedp.Click(`//button[normalize-space()="Create"]`),
		chromedp.WaitVisible(`[data-field="allowed_ips"] .field-error`),
	)
	if got := eval[string](b, `document.activeElement.name`); got != "allowed_ips" {
		t.Errorf("after the 422 the focus is on %q, want the allowed addresses", got)
	}
	b.do("fixing the addresses",
		chromedp.SetValue(`textarea[name="allowed_ips"]`, "127.0.0.1/32"),
		chromedp.Click(`//button[normalize-space()="Create"]`),
		chromedp.WaitVisible(`#new-key-value`),
	)
	key := b.text(`#new-key-value`)
	k.rest(200, "GET", "/api/v1/properties", "", "user-api-key", key)
	k.rest(403, "POST", "/api/v1/properties", `{"property":{"title":"New","currency":"EUR"}}`, "user-api-key", key)
	b.do("closing the new key", chromedp.Click(`//button[normalize-space()="Done"]`), chromedp.WaitVisible(rowOf("rate report")))
	if got := b.text(rowOf("rate report") + `/td[@data-label="Access"]`); !strings.Contains(got, "Read-only") || !strings.Contains(got, "127.0.0.1/32") {
		t.Errorf("access with limits: %q", got)
	}
	if got := b.text(rowOf("rate report") + `/td[@data-label="Status"]`); !strings.Contains(got, "until") || !strings.Contains(got, "2099") {
		t.Errorf("status with an expiry: %q", got)
	}

	b.do("rolling the key over",
		chromedp.Click(rowOf("rate report")+`//button[normalize-space()="Actions"]`),
		chromedp.Click(rowOf("rate report")+`//button[@role="menuitem"][normalize-space()="Roll over"]`, chromedp.NodeVisible),
		chromedp.Click(`//dialog//button[normalize-space()="Roll over"]`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#new-key-value`),
	)
	rolled := b.text(`#new-key-value`)
	if rolled == key {
		t.Fatal("rolling showed the old key")
	}
	k.rest(200, "GET", "/api/v1/properties", "", "user-api-key", rolled)
	k.rest(403, "POST", "/api/v1/properties", `{"property":{"title":"New","currency":"EUR"}}`, "user-api-key", rolled)
	k.rest(200, "GET", "/api/v1/properties", "", "user-api-key", key) // the old one works for a day
	b.do("waiting for the list", chromedp.WaitVisible(`//td[contains(., "Rolled over to a new key")]`))
	b.checkClean()
}
