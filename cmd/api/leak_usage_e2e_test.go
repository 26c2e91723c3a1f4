package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Usage reports in the leak matrix: the platform's report is for the admin alone, and
// each caller's own report counts their activity and nobody else's.

// usageTotals are the sums over the days of a usage report, and its formats.
type usageTotals struct {
	Turns, Documents int64
	Formats          map[string]int64
}

func readUsage(t *testing.T, body string) usageTotals {
	t.Helper()
	var rep struct {
		Days []struct {
			Turns             int64 `json:"turns"`
			DocumentsIngested int64 `json:"documents_ingested"`
		} `json:"days"`
		Formats []struct {
			MIME      string `json:"mime"`
			Documents int64  `json:"documents"`
		} `json:"formats"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &rep), body)
	require.Len(t, rep.Days, 30, "the last 30 days by default")
	u := usageTotals{Formats: map[string]int64{}}
	for _, d := range rep.Days {
		u.Turns += d.Turns
		u.Documents += d.DocumentsIngested
	}
	for _, f := range rep.Formats {
		u.Formats[f.MIME] = f.Documents
	}
	return u
}

// turnsAskedBy counts who's turns from what only they can read: the user messages
// of their chat sessions, one per turn.
func (w *world) turnsAskedBy(t *testing.T, who string) int64 {
	t.Helper()
	var list struct {
		Sessions []struct {
			ID string `json:"id"`
		} `json:"sessions"`
	}
	w.do(t, "GET", "/v1/chat/sessions?limit=200", w.key[who], nil, http.StatusOK, &list)
	var n int64
	for _, s := range list.Sessions {
		var full struct {
			Messages []struct {
				Role string `json:"role"`
			} `json:"messages"`
		}
		w.do(t, "GET", "/v1/chat/sessions/"+s.ID, w.key[who], nil, http.StatusOK, &full)
		for _, m := range full.Messages {
			if m.Role == "user" {
				n++
			}
		}
	}
	return n
}

var invalid = outcome{"invalid", []int{http.StatusBadRequest}}

// adminAnalytics: only the admin sees the platform's report, which counts U1's turn
// and the fixture uploads; a bad range is refused as such only to the admin.
func adminAnalytics(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: "everybody's usage", want: gate(who, who == "A", http.StatusOK),
			call: fixed(call{path: "/v1/admin/analytics"})}
		if who == "A" {
			r.check = func(t *testing.T, body string) {
				u := readUsage(t, body)
				require.GreaterOrEqual(t, u.Turns, int64(1), "U1's turn")
				require.GreaterOrEqual(t, u.Formats["text/plain"], int64(4), "D1 to D4 (D5 is deleted)")
			}
		}
		rows = append(rows, r)
		bad := row{route: route, who: who, object: "a bad range", want: gate(who, who == "A", 0),
			call: fixed(call{path: "/v1/admin/analytics?from=yesterday"})}
		if who == "A" {
			bad.want = invalid
		}
		rows = append(rows, bad)
	}
	return rows
}

// myUsage: every caller's report holds exactly the turns they asked; U1's holds U1's
// uploads, and the reports of users without uploads hold none.
func myUsage(w *world, route string) []row {
	var rows []row
	for _, who := range principals {
		r := row{route: route, who: who, object: "own usage", want: gate(who, true, http.StatusOK),
			call: fixed(call{path: "/v1/me/usage"})}
		if who != "anon" {
			r.check = func(t *testing.T, body string) {
				u := readUsage(t, body)
				require.Equal(t, w.turnsAskedBy(t, who), u.Turns, "%s's report counts %s's turns alone", who, who)
				switch who {
				case "U1":
					require.GreaterOrEqual(t, u.Documents, int64(3), "D1, D2 and D3 (D5 is deleted)")
				case "U2", "U4": // they own no fixture document, and delete every upload of theirs
					require.Zero(t, u.Documents, "nobody else's uploads")
					require.Empty(t, u.Formats, "nobody else's uploads")
				}
			}
		}
		rows = append(rows, r)
		bad := row{route: route, who: who, object: "a bad range", want: gate(who, true, 0),
			call: fixed(call{path: "/v1/me/usage?from=2025-02-01&to=2025-01-01"})}
		if who != "anon" {
			bad.want = invalid
		}
		rows = append(rows, bad)
	}
	return rows
}
