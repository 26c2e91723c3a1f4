package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// TestQuotaInTheWebUI: an admin sets a user's quota on the admin page, and the user
// sees it, with what they use, on their account page.
func TestQuotaInTheWebUI(t *testing.T) {
	b := startBrowser(t)
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-quota-web-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_QUOTA_BYTES": "10485760", "YW_QUOTA_DOCUMENTS": "100"})
	c := apitest.NewClient(t, base)
	gina := newUser(t, c, admin, "gina")
	uploadOne(t, c, gina, "notes.txt", textOf(3000, "notes"), http.StatusAccepted)

	adm := b.newPage(t, "quota-admin")
	adm.goTo(base + "/")
	adm.typeInto("input[name=key]", admin)
	adm.press("Enter")
	adm.waitFor(`document.querySelector('a.nav-link[data-path=admin]')`, "the admin page link")
	adm.click("a.nav-link", "Admin")
	adm.waitFor(`[...document.querySelectorAll('[data-testid=users] tr')].some(r => r.textContent.includes('gina') && r.textContent.includes('of 10 MB · 1 of 100 documents'))`,
		"gina's storage against the defaults")
	adm.click("button", "Quota of gina")
	adm.typeInto("dialog [data-testid=quota-gib]", "0.5")
	adm.typeInto("dialog [data-testid=quota-documents]", "0")
	adm.click("dialog button", "Save")
	adm.waitFor(`[...document.querySelectorAll('[data-testid=users] tr')].some(r => r.textContent.includes('gina') && r.textContent.includes('of 512 MB · 1 documents (no limit)'))`,
		"gina's own quota")
	adm.screenshot("13-admin-user-quota")

	me := myQuota(t, c, gina)
	require.Equal(t, int64(512<<20), *me.Quota.BytesLimit)
	require.Nil(t, me.Quota.DocumentsLimit, "0 is unlimited")

	user := b.newPage(t, "quota-user")
	user.goTo(base + "/#/account")
	user.typeInto("input[name=key]", gina)
	user.press("Enter")
	user.waitFor(`document.querySelector('[data-testid=who]')?.textContent === 'gina'`, "gina signed in")
	user.click("a.nav-link", "Account")
	user.waitFor(`(document.querySelector('[data-testid=quota]')?.textContent || '').includes('2.9 KB of 512 MB used')`, "the storage quota")
	require.Contains(t, user.evalString(`document.querySelector('[data-testid=quota]').textContent`), "1 used · no limit")
	require.Equal(t, 1, int(evalNumber(user, `document.querySelectorAll('[data-testid=quota] progress').length`)), "a meter where there is a limit")
	user.screenshot("14-account-quota")
	require.Empty(t, adm.problems())
	require.Empty(t, user.problems())
}
