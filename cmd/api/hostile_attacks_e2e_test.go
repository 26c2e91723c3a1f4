package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hostileAttacks are the rows of the hostile-client suite, in the order they run.
// Each attack asserts how the platform refuses it; the suite watches everything else.
func hostileAttacks() []attack {
	return []attack{
		{name: "junk methods and huge paths", again: true, run: junkAttack},
		{name: "slowloris headers", again: true, run: slowlorisAttack},
		{name: "trickled JSON bodies", again: true, run: trickleAttack},
		{name: "turns above the cap", prepare: prepareTurns, run: turnsAttack},
		{name: "streams above the cap", prepare: prepareStreams, run: streamsAttack},
		{name: "bad keys from one address", again: true, run: badKeysAttack},
		{name: "16 MiB upload of tags fields", again: true, run: tagsFormAttack},
		{name: "uploads past the quota", run: quotaAttack},
		{name: "CSV of one ~100 MB field", prepare: liftQuota, run: hostileCSVAttack, heapBound: transferHeapBound},
		{name: "full upload store", prepare: prepareFullStore, run: fullStoreAttack, heapBound: transferHeapBound},
		{name: "copied cookie after sign-out", again: true, prepare: prepareCookie, run: copiedCookieAttack},
		{name: "model server down", modelDown: true, run: modelDownAttack},
	}
}

func liftQuota(t *testing.T, s *hostileSuite, a *attacker) { s.liftQuota(t, a) }

// junkAttack: made-up methods, small and huge, made-up and huge paths, real paths
// with the wrong method. A second round adds no series to /metrics.
func junkAttack(t *testing.T, s *hostileSuite, _ *attacker) {
	junkRound(t, s.base, "a"+randomHex(3))
	_, first := metricsShape(t, s.base)
	junkRound(t, s.base, "b"+randomHex(3))
	_, second := metricsShape(t, s.base)
	require.Equal(t, first, second, "junk adds no series")
}

// slowlorisAttack: connections that send their headers a byte at a time are cut
// off after the header timeout, none of them served.
func slowlorisAttack(t *testing.T, s *hostileSuite, a *attacker) {
	head := []byte("GET /healthz HTTP/1.1\r\n")
	trickle := []byte("Host: slow.example\r\nX-Forwarded-For: " + a.addr + "\r\nX-Pad: " + strings.Repeat("a", 4000) + "\r\n\r\n")
	clients := make([]*slowClient, slowlorisConns)
	for i := range clients {
		clients[i] = dialSlow(t, s.base, head, trickle, 1, 50*time.Millisecond)
	}
	for _, sc := range clients {
		got, _ := sc.awaitEnd(t, 5*time.Second)
		require.NotContains(t, got, "200 OK", "the request never completed")
	}
}

// trickleAttack: JSON bodies sent a byte at a time get 408 after the read timeout,
// and create nothing.
func trickleAttack(t *testing.T, s *hostileSuite, a *attacker) {
	before := s.sessionCount(t, a.key)
	body := []byte(`{"title":"` + strings.Repeat("t", 60) + `"}`)
	head := fmt.Appendf(nil, "POST /v1/chat/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nX-Forwarded-For: %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", a.key, a.addr, len(body))
	clients := make([]*slowClient, 8)
	for i := range clients {
		clients[i] = dialSlow(t, s.base, head, body, 1, 100*time.Millisecond) // 7 s to send it all
	}
	for _, sc := range clients {
		got, _ := sc.awaitEnd(t, 5*time.Second)
		resp, text := parseResponse(t, got)
		require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, text)
		require.Contains(t, text, `"code":"request_timeout"`)
	}
	require.Equal(t, before, s.sessionCount(t, a.key), "nothing was created")
}

func prepareTurns(t *testing.T, s *hostileSuite, a *attacker) {
	for range 12 {
		var sess struct {
			ID string `json:"id"`
		}
		s.c.Do("POST", "/v1/chat/sessions", a.key, nil, http.StatusCreated, &sess)
		a.sessions = append(a.sessions, sess.ID)
	}
}

// turnsAttack: twelve turns at the same instant, each held running by the model;
// exactly the cap is accepted, and the slots come back when the turns end.
func turnsAttack(t *testing.T, s *hostileSuite, a *attacker) {
	results := burst(t, len(a.sessions), func(i int) *http.Request {
		return from(jsonRequest(t, s.base, "POST", "/v1/chat/sessions/"+a.sessions[i]+"/messages", a.key,
			map[string]any{"content": holdPrefix + strconv.Itoa(i)}), a.addr)
	})
	turns := acceptedTurns(t, results)
	if len(turns) != turnCap {
		var states []string // a turn that ended early would explain a slot too many
		for _, id := range turns {
			tv := getChatTurn(t, s.c, a.key, id)
			states = append(states, fmt.Sprintf("%s %s %+v", id, tv.Status, tv.Error))
		}
		require.Failf(t, "exactly the cap is accepted", "%d accepted: %v", len(turns), states)
	}
	for _, id := range turns {
		s.c.Do("POST", "/v1/chat/turns/"+id+"/cancel", a.key, nil, http.StatusAccepted, nil)
	}
	for _, id := range turns {
		s.waitTurn(t, a.key, id, "cancelled")
	}
	var posted struct {
		Turn chatTurn `json:"turn"`
	}
	s.c.Do("POST", "/v1/chat/sessions/"+a.sessions[0]+"/messages", a.key, map[string]any{"content": "still there?"}, http.StatusAccepted, &posted)
	s.waitTurn(t, a.key, posted.Turn.ID, "completed")
}

func prepareStreams(t *testing.T, s *hostileSuite, a *attacker) {
	var sess struct {
		ID string `json:"id"`
	}
	s.c.Do("POST", "/v1/chat/sessions", a.key, nil, http.StatusCreated, &sess)
	var posted struct {
		Turn chatTurn `json:"turn"`
	}
	s.c.Do("POST", "/v1/chat/sessions/"+sess.ID+"/messages", a.key, map[string]any{"content": holdPrefix + "stream"}, http.StatusAccepted, &posted)
	a.turn = posted.Turn.ID
}

// streamsAttack: ten event streams of a running turn at the same instant; exactly
// the cap opens, and a stream that ends gives its slot back.
func streamsAttack(t *testing.T, s *hostileSuite, a *attacker) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := openStreams(ctx, s.base, a.key, a.addr, a.turn, 10)
	defer func() {
		for _, r := range got.open {
			r.Body.Close()
		}
	}()
	require.Len(t, got.open, streamCap, "%v", got.refused)
	for _, r := range got.refused {
		requireProblemCode(t, r, http.StatusTooManyRequests, "too_many_streams")
	}
	got.open[0].Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := openStream(ctx, t, s.base, a.key, a.turn)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		require.True(t, time.Now().Before(deadline), "the slot of a closed stream must come back")
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	s.c.Do("POST", "/v1/chat/turns/"+a.turn+"/cancel", a.key, nil, http.StatusAccepted, nil)
	s.waitTurn(t, a.key, a.turn, "cancelled")
}

// badKeysAttack: a flood of made-up keys from one address. Once the address has
// used up its failures it gets 429 before any key is looked up, a good key too.
func badKeysAttack(t *testing.T, s *hostileSuite, a *attacker) {
	const flood, workers = 200, 20
	jobs := make(chan struct{}, flood)
	for range flood {
		jobs <- struct{}{}
	}
	close(jobs)
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for range workers {
		wg.Go(func() {
			for range jobs {
				status := 0
				req, err := http.NewRequest("GET", s.base+"/v1/me", nil)
				if err == nil {
					req.Header.Set("Authorization", "Bearer yw_"+randomHex(20))
					if resp, err := client.Do(from(req, a.addr)); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						status = resp.StatusCode
					}
				}
				mu.Lock()
				counts[status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, flood, counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests], "only 401 and 429: %v", counts)
	// The burst of failures is looked up, plus what was in flight when it ran out.
	require.GreaterOrEqual(t, counts[http.StatusUnauthorized], authFailureBurst, "%v", counts)
	require.LessOrEqual(t, counts[http.StatusUnauthorized], authFailureBurst+workers, "%v", counts)
	resp := s.c.Send(from(s.c.Request("GET", "/v1/me", a.key, nil), a.addr), http.StatusTooManyRequests, nil)
	require.Contains(t, resp.Body, `"code":"rate_limited"`)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
}

// tagsFormAttack: a 16 MiB upload made only of tags fields is refused, naming the
// field, having read no more than its first MiB; nothing is stored.
func tagsFormAttack(t *testing.T, s *hostileSuite, a *attacker) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	body := newFieldsBody(ctx, "tags", strings.Repeat(",", 4096), 16<<20, 1<<20)
	defer close(body.release)
	resp, p := postForm(ctx, t, s.k, s.base, a.key, body, "multipart/form-data; boundary="+hostileBoundary)
	require.Contains(t, []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge}, resp.StatusCode, p.Detail)
	require.NotEmpty(t, p.Errors)
	require.Equal(t, "tags", p.Errors[0].Field)
	require.Equal(t, int64(1), myQuota(t, s.c, a.key).Quota.DocumentsUsed, "nothing was stored")
}

// quotaAttack: with its upload slots taken a user is refused at the door
// (too_many_uploads); uploads past its quota are refused whole (quota_exceeded),
// one by one or in a burst; nothing of them is stored.
func quotaAttack(t *testing.T, s *hostileSuite, a *attacker) {
	uploadOne(t, s.c, a.key, "within.txt", textOf(40_000, "within"+randomHex(3)), http.StatusAccepted)
	used := myQuota(t, s.c, a.key).Quota
	over := func(i int) string { // a file the quota has no room left for
		return fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"over-%d.txt\"\r\n\r\n%s\r\n--%s--\r\n",
			hostileBoundary, i, textOf(30_000, fmt.Sprintf("over%d%s", i, randomHex(3))), hostileBoundary)
	}
	multipartType := "multipart/form-data; boundary=" + hostileBoundary
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Two uploads that stop after their first field hold both slots.
	release := make(chan struct{})
	held := make(chan int, uploadSlots)
	for i := range uploadSlots {
		go func() {
			body := &pausedReader{head: strings.NewReader(field("tags", "held")), release: release, ended: ctx.Done(), tail: strings.NewReader(over(i))}
			req, _ := http.NewRequestWithContext(ctx, "POST", s.base+"/v1/documents", body)
			req.Header.Set("Content-Type", multipartType)
			req.Header.Set("Authorization", "Bearer "+a.key)
			resp, err := http.DefaultClient.Do(from(req, a.addr))
			if err != nil {
				held <- 0
				return
			}
			resp.Body.Close()
			held <- resp.StatusCode
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, p := postForm(ctx, t, s.k, s.base, a.key, strings.NewReader("--"+hostileBoundary+"--\r\n"), multipartType)
		if resp.StatusCode == http.StatusTooManyRequests {
			require.Equal(t, "too_many_uploads", p.Code)
			break
		}
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "an upload without a file, admitted: %+v", p)
		require.True(t, time.Now().Before(deadline), "a third upload while two are in progress was never refused")
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	close(release)
	for range uploadSlots {
		require.Equal(t, http.StatusRequestEntityTooLarge, <-held, "a held upload past the quota is refused once read")
	}

	results := burst(t, 10, func(i int) *http.Request {
		req, err := http.NewRequest("POST", s.base+"/v1/documents", strings.NewReader(over(100+i)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", multipartType)
		req.Header.Set("Authorization", "Bearer "+a.key)
		return from(req, a.addr)
	})
	for _, r := range results {
		if r.status == http.StatusTooManyRequests {
			requireProblemCode(t, r, r.status, "too_many_uploads")
			continue
		}
		requireProblemCode(t, r, http.StatusRequestEntityTooLarge, "quota_exceeded")
	}
	require.Equal(t, used, myQuota(t, s.c, a.key).Quota, "nothing of the refused uploads is stored")
}

// hostileCSVAttack: a CSV whose second row is one quoted field of ~100 MB. The
// upload is accepted; the worker must fail the document as too large without
// holding the field (the heap watch), and say so.
func hostileCSVAttack(t *testing.T, s *hostileSuite, a *attacker) {
	head, tail := "id,notes\r\n1,\"", "\"\r\n2,short\r\n"
	content := io.MultiReader(strings.NewReader(head),
		io.LimitReader(repeat("the same field goes on and on ", 256), hostileCSVBytes-int64(len(head)+len(tail))),
		strings.NewReader(tail))
	status, body := s.streamUpload(t, a.key, "ledger.csv", content, hostileCSVBytes)
	require.Equal(t, http.StatusAccepted, status, body)
	d := waitFor(t, s.c, a.key, decodeDocs(t, body)[0].ID)
	t.Logf("the ~100 MB CSV field: %s %v", d.Status, d.Error)
	require.Equal(t, "failed", d.Status)
	require.Equal(t, "too_large", d.Error["code"])
	require.NotEmpty(t, d.Error["message"])
}

func prepareFullStore(t *testing.T, s *hostileSuite, a *attacker) {
	s.liftQuota(t, a)
	var created struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Key string `json:"key"`
	}
	s.c.Do("POST", "/v1/admin/users", s.admin, map[string]any{"name": "neighbour-" + randomHex(3)}, http.StatusCreated, &created)
	s.liftQuota(t, &attacker{id: created.User.ID})
	a.neighbour = created.Key
}

// fullStoreAttack: uploads fill the upload store to its cap. Then every upload is
// refused with 507 storage_full, nothing of it stored, while chat keeps working
// (the bystander); deleting documents makes room again once their bytes are purged.
func fullStoreAttack(t *testing.T, s *hostileSuite, a *attacker) {
	filler := func(i int) (io.Reader, int64) {
		first := fmt.Sprintf("Filler %d %s.\n", i, randomHex(8))
		return io.MultiReader(strings.NewReader(first), repeat(strings.Repeat(" ", 63)+"\n", 64)), fillerBytes
	}
	var stored []string
	for i := 0; ; i++ {
		require.Less(t, i, uploadStoreBytes/fillerBytes+2, "the store never filled")
		content, size := filler(i)
		status, body := s.streamUpload(t, a.key, fmt.Sprintf("filler-%d.txt", i), content, size)
		if status == http.StatusInsufficientStorage {
			require.Contains(t, body, `"code":"storage_full"`)
			break
		}
		require.Equal(t, http.StatusAccepted, status, body)
		stored = append(stored, decodeDocs(t, body)[0].ID)
	}
	before := myQuota(t, s.c, a.neighbour).Quota
	content, size := filler(-1)
	status, body := s.streamUpload(t, a.neighbour, "someone-else.txt", content, size)
	require.Equal(t, http.StatusInsufficientStorage, status, "everyone is refused while the store is full: %s", body)
	require.Contains(t, body, "nothing of this upload was stored")
	require.Equal(t, before, myQuota(t, s.c, a.neighbour).Quota, "nothing of a refused upload is stored")

	for _, id := range stored {
		s.c.Do("DELETE", "/v1/documents/"+id, a.key, nil, http.StatusAccepted, nil)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := s.streamUpload(t, a.key, "probe.txt", strings.NewReader("room again "+randomHex(8)), 27)
		if status == http.StatusAccepted {
			s.c.Do("DELETE", "/v1/documents/"+decodeDocs(t, body)[0].ID, a.key, nil, http.StatusAccepted, nil)
			break
		}
		require.Equal(t, http.StatusInsufficientStorage, status, body)
		require.True(t, time.Now().Before(deadline), "the deleted documents' bytes were never purged")
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

func prepareCookie(t *testing.T, s *hostileSuite, a *attacker) {
	a.cookie, a.csrf = signIn(t, s.c, s.base, a.key)
	a.other, _ = signIn(t, s.c, s.base, a.key)
}

// copiedCookieAttack: a copy of a session cookie kept from before its sign-out gets
// 401, however often it is tried, until its address has used up its failed
// sign-ins and gets 429 before any lookup; it creates nothing, and the user's other
// session still works (from another address).
func copiedCookieAttack(t *testing.T, s *hostileSuite, a *attacker) {
	withCookie := func(method, path string, ck *http.Cookie, token string) *http.Request {
		r := from(s.c.Request(method, path, "", nil), a.addr)
		r.AddCookie(ck)
		if token != "" {
			r.Header.Set("X-CSRF-Token", token)
		}
		return r
	}
	copied := &http.Cookie{Name: a.cookie.Name, Value: a.cookie.Value}
	s.c.Send(withCookie("GET", "/v1/me", copied, ""), http.StatusOK, nil)
	before := s.sessionCount(t, a.key)
	s.c.Send(withCookie("DELETE", "/ui/session", a.cookie, a.csrf), http.StatusNoContent, nil)

	refused := func(results []burstResult) (unauthenticated int) {
		for _, r := range results {
			if r.status == http.StatusTooManyRequests {
				requireProblemCode(t, r, r.status, "rate_limited")
				continue
			}
			requireProblemCode(t, r, http.StatusUnauthorized, "unauthenticated")
			unauthenticated++
		}
		return unauthenticated
	}
	reads := refused(burst(t, 50, func(int) *http.Request { return withCookie("GET", "/v1/me", copied, "") }))
	require.GreaterOrEqual(t, reads, authFailureBurst, "the copy is refused as such until the address is limited")
	refused(burst(t, 20, func(int) *http.Request { return withCookie("POST", "/v1/chat/sessions", copied, a.csrf) }))
	s.c.Send(withCookie("GET", "/v1/me", copied, ""), http.StatusTooManyRequests, nil)
	require.Equal(t, before, s.sessionCount(t, a.key), "the copy created nothing")
	other := s.c.Request("GET", "/v1/me", "", nil)
	other.AddCookie(a.other)
	s.c.Send(other, http.StatusOK, nil)
}

// modelDownAttack: the model server stops answering. The replica stays ready and
// says what is degraded; the bystander's turns are answered from its documents,
// saying so (the bystander checks), and everything else keeps working. When the
// server is back, so is the model.
func modelDownAttack(t *testing.T, s *hostileSuite, a *attacker) {
	degraded := s.by.degraded.Load()
	s.model.down.Store(true)
	defer s.model.down.Store(false)
	st := statusUntil(t, s.c, a.key, func(st statusBody) bool { return !st.Components.LLM.OK }, "the model server down")
	require.Equal(t, "degraded", st.Status)
	requireReadyToServe(t, s.c)
	deadline := time.Now().Add(30 * time.Second)
	for s.by.degraded.Load() == degraded {
		require.True(t, time.Now().Before(deadline), "the bystander got no answer without the model")
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	s.model.down.Store(false)
	statusUntil(t, s.c, a.key, func(st statusBody) bool { return st.Components.LLM.OK }, "the model server back")
}
