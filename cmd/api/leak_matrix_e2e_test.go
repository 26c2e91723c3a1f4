package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/api"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/vector"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

// The leak matrix: every route the server answers × every principal × every object,
// with the outcome the authorization rule demands, run against the real program.
//
// The rule: a user sees a document iff they own it, or it is in one of their groups
// and is not private; being an admin grants nothing. What a caller may not see answers
// 404; a refused write answers 404 (or 403 to a group member who is not its admin) and
// changes nothing; no key answers 401. Every document carries a canary string in its
// text, and no response to a caller who may not see a document contains its canary.

// principals are the callers of every row: four users, the bootstrap admin and nobody.
var principals = []string{"U1", "U2", "U3", "U4", "A", "anon"}

// memberships of the fixture: G1 has U1 (admin) and U2; G2 has U3 (admin).
var memberships = map[string]map[string]string{
	"G1": {"U1": "admin", "U2": "member"},
	"G2": {"U3": "admin"},
}

type docSpec struct {
	owner, group string
	private      bool
	deleted      bool
}

// docSpecs are the fixture documents; D5 is deleted after it became ready.
var docSpecs = map[string]docSpec{
	"D1": {owner: "U1"},
	"D2": {owner: "U1", group: "G1"},
	"D3": {owner: "U1", group: "G1", private: true},
	"D4": {owner: "U3", group: "G2"},
	"D5": {owner: "U1", group: "G1", deleted: true},
}

var docNames = []string{"D1", "D2", "D3", "D4", "D5"}

// sees is the rule, restated here independently of pkg/access as the test's oracle.
func sees(who, doc string) bool {
	d := docSpecs[doc]
	if d.deleted {
		return false
	}
	if d.owner == who {
		return true
	}
	_, member := memberships[d.group][who]
	return d.group != "" && !d.private && member
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// contract validates responses against the served OpenAPI document, as apitest does,
// but reports through the test that sent the request (every row is its own subtest).
type contract struct{ router routers.Router }

func loadContract(t *testing.T, base string) *contract {
	raw, err := api.OpenAPI()
	require.NoError(t, err)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &contract{router: router}
}

func (k *contract) check(t *testing.T, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode >= 400 {
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), "errors are problem+json: %s", body)
		var p api.Problem
		require.NoError(t, json.Unmarshal(body, &p))
		require.Equal(t, resp.StatusCode, p.Status)
		require.NotEmpty(t, p.Code)
	}
	vreq := req.Clone(context.Background())
	vreq.Body = http.NoBody
	route, params, err := k.router.FindRoute(vreq)
	if err != nil || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return // routes outside the contract (the web UI's) are checked by their own tests
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, ExcludeRequestBody: true}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(body)
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), out),
		"%s %s → %d does not match openapi.json: %s", req.Method, req.URL.Path, resp.StatusCode, body)
}

// world is the fixture inside one running program.
type world struct {
	base     string
	http     *http.Client
	contract *contract
	key      map[string]string // principal → API key ("" for anon)
	id       map[string]string // principal, group, document, session, turn … → id
	canary   map[string]string // document → canary in its text
	filename map[string]string // document → file name (unique, so a leak of it shows)
	spareKey string            // the secret of U1's spare key K1
	textOnly map[string]bool   // documents imported without their file (legacy import)
}

// call is one HTTP request of a row.
type call struct {
	method, path string
	key          string
	body         any
	form         map[string]string // multipart upload with one small file
	header       map[string]string
	cookie       *http.Cookie
	noKey        bool // send no API key even for a user (cookie sessions)
}

func (w *world) request(t *testing.T, c call) *http.Request {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch {
	case c.form != nil:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range c.form {
			if k != "file" {
				require.NoError(t, mw.WriteField(k, v))
			}
		}
		part, err := mw.CreateFormFile("file", "upload-"+randomHex(4)+".txt")
		require.NoError(t, err)
		_, _ = part.Write([]byte(c.form["file"]))
		require.NoError(t, mw.Close())
		rd, ctype = &buf, mw.FormDataContentType()
	case c.body != nil:
		b, err := json.Marshal(c.body)
		require.NoError(t, err)
		rd, ctype = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequest(c.method, w.base+c.path, rd)
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	return req
}

// send makes the call, requires one of the statuses, checks the response against the
// contract and returns it with its body.
func (w *world) send(t *testing.T, c call, want ...int) (*http.Response, string) {
	t.Helper()
	req := w.request(t, c)
	resp, err := w.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, want, resp.StatusCode, "%s %s: %s", c.method, c.path, body)
	w.contract.check(t, req, resp, body)
	return resp, string(body)
}

// do is send for setup and checks: JSON out, one status.
func (w *world) do(t *testing.T, method, path, key string, body any, want int, out any) string {
	t.Helper()
	_, b := w.send(t, call{method: method, path: path, key: key, body: body}, want)
	if out != nil {
		require.NoError(t, json.Unmarshal([]byte(b), out), b)
	}
	return b
}

// waitReady polls a document until ingestion ends and requires it ready.
func (w *world) waitReady(t *testing.T, who, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var d struct {
			Status string `json:"status"`
		}
		w.do(t, "GET", "/v1/documents/"+id, w.key[who], nil, http.StatusOK, &d)
		if d.Status == "ready" {
			return
		}
		require.NotEqual(t, "failed", d.Status)
		require.True(t, time.Now().Before(deadline), "document %s still %s", id, d.Status)
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

func (w *world) newUser(t *testing.T, name string) (id, key string) {
	t.Helper()
	var created struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Key string `json:"key"`
	}
	w.do(t, "POST", "/v1/admin/users", w.key["A"], map[string]any{"name": name}, http.StatusCreated, &created)
	return created.User.ID, created.Key
}

func (w *world) newGroup(t *testing.T, adminKey string) string {
	t.Helper()
	var g struct {
		ID string `json:"id"`
	}
	w.do(t, "POST", "/v1/groups", adminKey, map[string]any{"name": "g-" + randomHex(4), "description": "fixture"}, http.StatusCreated, &g)
	return g.ID
}

// addMember makes a user a member as the default deployment does: the group admin
// invites, the user accepts.
func (w *world) addMember(t *testing.T, group, adminKey, userID string) {
	t.Helper()
	inv := w.invite(t, group, adminKey, userID)
	w.do(t, "POST", "/v1/me/invitations/"+inv+"/accept", w.keyOfUser(userID), nil, http.StatusOK, nil)
}

// invite invites a user into a group and returns the invitation's id.
func (w *world) invite(t *testing.T, group, adminKey, userID string) string {
	t.Helper()
	var out struct {
		Invitation struct{ ID string } `json:"invitation"`
	}
	w.do(t, "POST", "/v1/groups/"+group+"/members", adminKey, map[string]any{"user_id": userID}, http.StatusAccepted, &out)
	return out.Invitation.ID
}

// keyOfUser returns the key of the fixture principal whose user id is id.
func (w *world) keyOfUser(id string) string {
	for who, key := range w.key {
		if w.id[who] == id {
			return key
		}
	}
	panic("no fixture principal has user id " + id)
}

// askResult is what one chat question showed its asker: the turn and every event.
type askResult struct {
	TurnID   string
	Answer   string
	Cited    []string
	Events   string // the whole SSE stream as received
	TurnJSON string
}

// ask sends a chat message and waits for the turn, then reads its full event stream.
func (w *world) ask(t *testing.T, key, sessionID, content string) askResult {
	t.Helper()
	body := map[string]any{"content": content}
	if sessionID != "" {
		body["session_id"] = sessionID
	}
	var sent struct {
		Turn struct {
			ID        string `json:"id"`
			Status    string `json:"status"`
			Answer    string `json:"answer"`
			Citations []struct {
				DocumentID string `json:"document_id"`
			} `json:"citations"`
		} `json:"turn"`
	}
	raw := w.do(t, "POST", "/v1/chat/send", key, body, http.StatusOK, &sent)
	require.Equal(t, "completed", sent.Turn.Status, raw)
	res := askResult{TurnID: sent.Turn.ID, Answer: sent.Turn.Answer, TurnJSON: raw}
	for _, c := range sent.Turn.Citations {
		res.Cited = append(res.Cited, c.DocumentID)
	}
	var all strings.Builder
	for _, e := range readEvents(t, w.base, key, sent.Turn.ID, 0, 0) {
		fmt.Fprintf(&all, "%s %s\n", e.Type, e.Data)
	}
	res.Events = all.String()
	require.Contains(t, res.Events, "turn.completed", "the full stream was read")
	return res
}

// canaryQuestion asks for every fixture document at once.
func (w *world) canaryQuestion() string {
	q := "falcon ledger access code"
	for _, d := range docNames {
		// Only the random part: the question is echoed back (history, tool arguments),
		// and it must not itself look like a leak of the whole canary.
		q += " " + w.canary[d][strings.LastIndex(w.canary[d], "-")+1:]
	}
	return q
}

// requireNoLeak fails when text shows who anything of a document they may not see.
func (w *world) requireNoLeak(t *testing.T, who, text string) {
	t.Helper()
	for _, d := range docNames {
		if sees(who, d) {
			continue
		}
		require.NotContains(t, text, w.canary[d], "%s must not see the text of %s", who, d)
		require.NotContains(t, text, w.filename[d], "%s must not see the name of %s", who, d)
	}
}

// newWorld starts the program and builds the fixture through its API.
func newWorld(t *testing.T, extraEnv map[string]string) *world {
	t.Helper()
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-" + randomHex(12)
	env := map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_BOOTSTRAP_ADMIN_KEY": admin,
		"YW_LOG_LEVEL": "error", "YW_RATE_LIMIT_RPS": "100000", "YW_RATE_LIMIT_BURST": "100000"}
	for k, v := range extraEnv {
		env[k] = v
	}
	base := startAPI(t, env)
	w := &world{base: base, http: &http.Client{Timeout: 60 * time.Second}, contract: loadContract(t, base),
		key: map[string]string{"A": admin, "anon": ""}, id: map[string]string{},
		canary: map[string]string{}, filename: map[string]string{}}
	var me struct {
		ID string `json:"id"`
	}
	w.do(t, "GET", "/v1/me", admin, nil, http.StatusOK, &me)
	w.id["A"] = me.ID
	for _, u := range []string{"U1", "U2", "U3", "U4"} {
		w.id[u], w.key[u] = w.newUser(t, strings.ToLower(u)+"-"+randomHex(3))
	}
	w.id["G1"] = w.newGroup(t, w.key["U1"])
	w.addMember(t, w.id["G1"], w.key["U1"], w.id["U2"])
	w.id["G2"] = w.newGroup(t, w.key["U3"])
	for _, d := range docNames {
		spec := docSpecs[d]
		w.canary[d] = "CANARY-" + d + "-" + randomHex(6)
		w.filename[d] = "secret-" + strings.ToLower(d) + "-" + randomHex(4) + ".txt"
		text := fmt.Sprintf("Falcon ledger entry %s. The access code %s belongs to this record only.\n", d, w.canary[d])
		form := map[string]string{"private": fmt.Sprint(spec.private)}
		if spec.group != "" {
			form["group_id"] = w.id[spec.group]
		}
		w.id[d] = w.uploadNamed(t, spec.owner, w.filename[d], text, form)
	}
	for _, d := range docNames {
		w.waitReady(t, docSpecs[d].owner, w.id[d])
	}
	w.finishFixture(t)
	return w
}

// finishFixture adds what the matrix needs beyond users, groups and ready
// documents: D5 deleted, an invitation, a spare key, and a chat citing documents.
func (w *world) finishFixture(t *testing.T) {
	t.Helper()
	w.do(t, "DELETE", "/v1/documents/"+w.id["D5"], w.key["U1"], nil, http.StatusAccepted, nil)
	// I1: U4 is invited into G1 and has not answered.
	w.id["I1"] = w.invite(t, w.id["G1"], w.key["U1"], w.id["U4"])

	var k struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	w.do(t, "POST", "/v1/me/keys", w.key["U1"], nil, http.StatusCreated, &k)
	w.id["K1"], w.spareKey = k.ID, k.Key

	// U1's conversation: one completed turn that cites U1's documents.
	var sess struct {
		ID string `json:"id"`
	}
	w.do(t, "POST", "/v1/chat/sessions", w.key["U1"], map[string]any{"title": "ledger"}, http.StatusCreated, &sess)
	w.id["S1"] = sess.ID
	first := w.ask(t, w.key["U1"], sess.ID, w.canaryQuestion())
	w.id["T1"] = first.TurnID
	require.NotEmpty(t, first.Cited, "the extractive answer cites U1's documents: %s", first.TurnJSON)
	require.Contains(t, first.Answer, "CANARY-", "the answer quotes the documents, so a leak would show")
}

func (w *world) uploadNamed(t *testing.T, who, filename, text string, fields map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	part, err := mw.CreateFormFile("file", filename)
	require.NoError(t, err)
	_, _ = part.Write([]byte(text))
	require.NoError(t, mw.Close())
	req, err := http.NewRequest("POST", w.base+"/v1/documents", &buf)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+w.key[who])
	resp, err := w.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "%s", body)
	w.contract.check(t, req, resp, body)
	var up struct {
		Documents []struct {
			ID string `json:"id"`
		} `json:"documents"`
	}
	require.NoError(t, json.Unmarshal(body, &up))
	return up.Documents[0].ID
}

// snapshot reads an object the way its owner sees it, so a refused write can be shown
// to have changed nothing.
func (w *world) snapshot(t *testing.T, object string) string {
	t.Helper()
	kind, name, _ := strings.Cut(object, ":")
	get := func(path, key string) string {
		resp, body := w.send(t, call{method: "GET", path: path, key: key}, http.StatusOK, http.StatusNotFound, http.StatusUnauthorized)
		return fmt.Sprint(resp.StatusCode, " ", body)
	}
	switch kind {
	case "doc":
		var d struct {
			Status  string  `json:"status"`
			GroupID *string `json:"group_id"`
			Private bool    `json:"private"`
		}
		s := get("/v1/documents/"+w.id[name], w.key[docSpecs[name].owner])
		if code, body, _ := strings.Cut(s, " "); code == "200" {
			_ = json.Unmarshal([]byte(body), &d)
			return fmt.Sprintf("%s group=%v private=%v", d.Status, deref(d.GroupID), d.Private)
		}
		return s[:3]
	case "group":
		admin := "U1"
		if name == "G2" {
			admin = "U3"
		}
		var g struct {
			Name, Description string
			Members           []struct{ UserID, Role string } `json:"members"`
		}
		s := get("/v1/groups/"+w.id[name], w.key[admin])
		_, body, _ := strings.Cut(s, " ")
		require.NoError(t, json.Unmarshal([]byte(body), &g))
		var ms []string
		for _, m := range g.Members {
			ms = append(ms, m.UserID+"="+m.Role)
		}
		sort.Strings(ms)
		return fmt.Sprintf("%s|%s|%v", g.Name, g.Description, ms)
	case "session":
		var s struct {
			Session  struct{ Title string } `json:"session"`
			Messages []any                  `json:"messages"`
		}
		out := get("/v1/chat/sessions/"+w.id[name], w.key["U1"])
		_, body, _ := strings.Cut(out, " ")
		require.NoError(t, json.Unmarshal([]byte(body), &s))
		return fmt.Sprintf("%s|%d messages", s.Session.Title, len(s.Messages))
	case "turn":
		var tr struct {
			Status   string
			Feedback any
		}
		_, body, _ := strings.Cut(get("/v1/chat/turns/"+w.id[name], w.key["U1"]), " ")
		require.NoError(t, json.Unmarshal([]byte(body), &tr))
		return fmt.Sprintf("%s|feedback %v", tr.Status, tr.Feedback)
	case "key":
		return get("/v1/me", w.spareKey)[:3]
	case "user":
		return get("/v1/me", w.key[name])[:3]
	case "quota":
		var me struct {
			IsAdmin bool `json:"is_admin"`
			Quota   any  `json:"quota"`
		}
		_, body, _ := strings.Cut(get("/v1/me", w.key[name]), " ")
		require.NoError(t, json.Unmarshal([]byte(body), &me))
		return fmt.Sprintf("admin=%v quota=%v", me.IsAdmin, me.Quota)
	case "library":
		var l struct {
			Documents []struct{ ID string } `json:"documents"`
		}
		_, body, _ := strings.Cut(get("/v1/documents?limit=200", w.key[name]), " ")
		require.NoError(t, json.Unmarshal([]byte(body), &l))
		var ids []string
		for _, d := range l.Documents {
			ids = append(ids, d.ID)
		}
		sort.Strings(ids)
		return strings.Join(ids, ",")
	case "invitations":
		admin := map[string]string{"G1": "U1", "G2": "U3"}[name]
		var l struct {
			Invitations []struct{ ID, UserID string } `json:"invitations"`
		}
		_, body, _ := strings.Cut(get("/v1/groups/"+w.id[name]+"/invitations", w.key[admin]), " ")
		require.NoError(t, json.Unmarshal([]byte(body), &l))
		var ids []string
		for _, v := range l.Invitations {
			ids = append(ids, v.ID+"="+v.UserID)
		}
		sort.Strings(ids)
		return strings.Join(ids, ",")
	case "users":
		var l struct {
			Users []struct{ Name string } `json:"users"`
		}
		_, body, _ := strings.Cut(get("/v1/admin/users?limit=200", w.key["A"]), " ")
		require.NoError(t, json.Unmarshal([]byte(body), &l))
		var names []string
		for _, u := range l.Users {
			names = append(names, u.Name)
		}
		sort.Strings(names)
		return strings.Join(names, ",")
	}
	t.Fatalf("no snapshot for %q", object)
	return ""
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// outcome is what a row expects: a class a reader can scan and the statuses it allows.
type outcome struct {
	class  string
	status []int
}

func allow(status ...int) outcome { return outcome{"allowed", status} }

var (
	hidden    = outcome{"hidden", []int{http.StatusNotFound}}
	forbidden = outcome{"forbidden", []int{http.StatusForbidden}}
	unauth    = outcome{"unauthenticated", []int{http.StatusUnauthorized}}
	conflict  = outcome{"conflict", []int{http.StatusConflict}}
)

// gate is the outcome of a request that is allowed exactly when ok.
func gate(who string, ok bool, status int) outcome {
	switch {
	case who == "anon":
		return unauth
	case ok:
		return allow(status)
	}
	return hidden
}

// row is one line of the matrix.
type row struct {
	route  string // method and route pattern, as the route table names it
	who    string
	object string
	want   outcome
	// call builds the request; allowed destructive rows make a scratch twin of the
	// object here, so the fixture stays as it is for every other row.
	call func(t *testing.T) call
	// affects are snapshots that must not change when a write is refused.
	affects []string
	// check makes row-specific assertions on the response body.
	check func(t *testing.T, body string)
	// seenAs is whose view of the documents the response may show, when not who's:
	// an admin's export of a user's data shows that user's documents, by design.
	seenAs string
}

func (r row) name() string {
	return fmt.Sprintf("%s | %s | %s | %s %v", r.route, r.who, r.object, r.want.class, r.want.status)
}

func (w *world) run(t *testing.T, r row) {
	t.Run(r.name(), func(t *testing.T) {
		c := r.call(t)
		c.method, _, _ = strings.Cut(r.route, " ")
		if c.key == "" && !c.noKey && r.who != "anon" {
			c.key = w.key[r.who]
		}
		refusedWrite := c.method != "GET" && c.method != "HEAD" && r.want.class != "allowed"
		before := map[string]string{}
		if refusedWrite {
			for _, o := range r.affects {
				before[o] = w.snapshot(t, o)
			}
		}
		_, body := w.send(t, c, r.want.status...)
		viewer := r.who
		if r.seenAs != "" {
			viewer = r.seenAs
		}
		w.requireNoLeak(t, viewer, body)
		if r.check != nil {
			r.check(t, body)
		}
		for o, was := range before {
			require.Equal(t, was, w.snapshot(t, o), "a refused %s must leave %s as it was", r.route, o)
		}
	})
}

// routeTable lists every route the server mounts, so a route added anywhere in
// pkg/api shows up here. Routes do not depend on the services, which are only
// called when a request arrives, so none are needed to list them.
func routeTable(t *testing.T) []string {
	t.Helper()
	deps := api.Deps{Config: config.Config{DataDir: t.TempDir()}, Logger: slog.New(slog.DiscardHandler),
		Registry: prometheus.NewRegistry()}
	var out []string
	for _, r := range api.New(deps).Routes() {
		if r.Method != echo.RouteNotFound {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func TestLeakMatrixCoversEveryRoute(t *testing.T) {
	t.Parallel()
	var missing []string
	for _, r := range routeTable(t) {
		if _, ok := matrixCases[r]; !ok {
			missing = append(missing, r)
		}
	}
	require.Empty(t, missing, "routes without a leak-matrix case; add them to matrixCases in leak_matrix_e2e_test.go")
}

func TestLeakMatrixEndToEnd(t *testing.T) {
	t.Parallel()
	// An embedding model (the test server) makes search hybrid: the dense and the
	// lexical retriever each run with the access filter, and fusion must not let a
	// point in that either filter kept out. Chat stays extractive, so its answers
	// quote the passages and a leak would show.
	llm := llmtest.New(t)
	w := newWorld(t, map[string]string{"YW_OLLAMA_URL": llm.URL, "YW_EMBED_MODEL": llmtest.EmbedModel, "YW_CHAT_BACKEND": "extractive"})
	w.runMatrix(t)
}

// runMatrix runs every row of the matrix against the world.
func (w *world) runMatrix(t *testing.T) {
	routes := routeTable(t)
	var rows []row
	for _, route := range routes {
		cases, ok := matrixCases[route]
		require.True(t, ok, "no leak-matrix case for %s", route)
		rows = append(rows, cases(w, route)...)
	}
	covered := map[string]bool{}
	for _, r := range rows {
		covered[r.route] = true
		w.run(t, r)
	}
	for _, route := range routes {
		require.True(t, covered[route], "%s has a case but no rows", route)
	}
	t.Logf("leak matrix: %d rows over %d routes", len(rows), len(routes))
}

// TestStaleVectorPayloadNeverLeaks lies in the vector payloads on purpose: they say U4
// may see documents that Postgres says U4 may not. Search and chat must re-check every
// hit against Postgres, so U4 sees nothing of them.
func TestStaleVectorPayloadNeverLeaks(t *testing.T) {
	t.Parallel()
	lite, vs := vectortest.StartLite(t, t.TempDir())
	w := newWorld(t, map[string]string{"YW_QDRANT_URL": "http://" + lite.Addr()})
	ctx := context.Background()
	g4 := w.newGroup(t, w.key["U4"])
	// D1 (owner-only) now claims to be shared with U4's group; D3 (private in G1) and
	// D2 (shared in G1) claim U4 owns them.
	require.NoError(t, vs.SetPayloadByFilter(ctx, index.Alias, vector.MatchDocument(w.id["D1"]),
		map[string]any{vector.FieldGroupID: g4, vector.FieldPrivate: false}))
	for _, d := range []string{"D2", "D3"} {
		require.NoError(t, vs.SetPayloadByFilter(ctx, index.Alias, vector.MatchDocument(w.id[d]),
			map[string]any{vector.FieldOwnerID: w.id["U4"]}))
	}
	u4 := access.Principal{UserID: w.id["U4"], GroupIDs: []string{g4}}
	requireStale := func() {
		t.Helper()
		points, _, err := vs.Scroll(ctx, index.Alias, access.VectorFilter(u4), vector.ScrollOptions{})
		require.NoError(t, err)
		seen := map[string]bool{}
		for _, p := range points {
			seen[p.Payload.DocumentID] = true
		}
		for _, d := range []string{"D1", "D2", "D3"} {
			require.True(t, seen[w.id[d]], "the vector pre-filter must admit %s for U4, or this test proves nothing", d)
		}
	}
	requireStale()

	for _, req := range []map[string]any{
		{"query": w.canaryQuestion(), "limit": 50},
		{"query": w.canaryQuestion(), "limit": 50, "group_id": g4},
	} {
		body := w.do(t, "POST", "/v1/search", w.key["U4"], req, http.StatusOK, nil)
		w.requireNoLeak(t, "U4", body)
		require.JSONEq(t, `{"hits":[]}`, body)
	}
	res := w.ask(t, w.key["U4"], "", w.canaryQuestion())
	w.requireNoLeak(t, "U4", res.TurnJSON+res.Events)
	require.Empty(t, res.Cited)
	for _, d := range []string{"D1", "D2", "D3"} {
		w.do(t, "GET", "/v1/documents/"+w.id[d], w.key["U4"], nil, http.StatusNotFound, nil)
	}
	// U1 still finds D1 and D2, so the searches above could have found something. (D3's
	// lying payload hides it from its owner: a stale payload may hide, never show.)
	body := w.do(t, "POST", "/v1/search", w.key["U1"], map[string]any{"query": w.canaryQuestion(), "limit": 50}, http.StatusOK, nil)
	for _, d := range []string{"D1", "D2"} {
		require.Contains(t, body, w.canary[d])
	}
	requireStale()
}
