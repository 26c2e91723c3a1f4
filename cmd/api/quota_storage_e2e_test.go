package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api"
	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// quota is the quota object of GET /v1/me and the admin's user views.
type quota struct {
	BytesUsed      int64  `json:"bytes_used"`
	BytesLimit     *int64 `json:"bytes_limit"`
	DocumentsUsed  int64  `json:"documents_used"`
	DocumentsLimit *int64 `json:"documents_limit"`
}

type meWithQuota struct {
	ID    string `json:"id"`
	Quota quota  `json:"quota"`
}

func myQuota(t *testing.T, c *apitest.Client, key string) meWithQuota {
	t.Helper()
	var me meWithQuota
	c.Do("GET", "/v1/me", key, nil, http.StatusOK, &me)
	return me
}

// textOf is a distinct text file of exactly n bytes.
func textOf(n int, seed string) []byte {
	return bytes.Repeat([]byte(seed+" "), n/(len(seed)+1)+1)[:n]
}

func uploadOne(t *testing.T, c *apitest.Client, key, name string, data []byte, want int) (document, api.Problem) {
	t.Helper()
	var out struct {
		Documents []document `json:"documents"`
	}
	var p api.Problem
	var target any = &out
	if want >= 400 {
		target = &p
	}
	c.Upload("/v1/documents", key, []apitest.File{{Name: name, Data: data}}, nil, want, target)
	if want >= 400 {
		return document{}, p
	}
	return out.Documents[0], p
}

func TestQuotaPerUserStorageEndToEnd(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-quota-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_RATE_LIMIT_RPS": "1000", "YW_RATE_LIMIT_BURST": "1000",
		"YW_QUOTA_BYTES": "3000", "YW_QUOTA_DOCUMENTS": "3"})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")

	me := myQuota(t, c, alice)
	require.Equal(t, quota{BytesLimit: ptr(int64(3000)), DocumentsLimit: ptr(int64(3))}, me.Quota, "the configured defaults apply")

	first, _ := uploadOne(t, c, alice, "one.txt", textOf(1000, "first"), http.StatusAccepted)
	uploadOne(t, c, alice, "two.txt", textOf(1000, "second"), http.StatusAccepted)
	require.Equal(t, quota{BytesUsed: 2000, BytesLimit: ptr(int64(3000)), DocumentsUsed: 2, DocumentsLimit: ptr(int64(3))}, myQuota(t, c, alice).Quota)

	// Over the byte quota: refused, saying how much is used and allowed; nothing stored.
	_, p := uploadOne(t, c, alice, "big.txt", textOf(1500, "big"), http.StatusRequestEntityTooLarge)
	require.Equal(t, "quota_exceeded", p.Code)
	require.Contains(t, p.Detail, "you use 1.95 KiB of your 2.93 KiB")
	require.Equal(t, int64(2), myQuota(t, c, alice).Quota.DocumentsUsed)

	// The same bytes again cost nothing; a third document fits; a fourth does not.
	dup, _ := uploadOne(t, c, alice, "again.txt", textOf(1000, "first"), http.StatusAccepted)
	require.True(t, dup.Duplicate)
	uploadOne(t, c, alice, "three.txt", textOf(500, "third"), http.StatusAccepted)
	_, p = uploadOne(t, c, alice, "four.txt", textOf(10, "fourth"), http.StatusRequestEntityTooLarge)
	require.Equal(t, "quota_exceeded", p.Code)
	require.Contains(t, p.Detail, "you have 3 of the 3 documents")

	// Deleting frees the quota at once.
	c.Do("DELETE", "/v1/documents/"+first.ID, alice, nil, http.StatusAccepted, nil)
	require.Equal(t, quota{BytesUsed: 1500, BytesLimit: ptr(int64(3000)), DocumentsUsed: 2, DocumentsLimit: ptr(int64(3))}, myQuota(t, c, alice).Quota)
	uploadOne(t, c, alice, "four.txt", textOf(10, "fourth"), http.StatusAccepted)

	// An admin gives alice limits of her own: 0 is unlimited, null is the default again.
	aliceID := myQuota(t, c, alice).ID
	var view struct {
		ID             string `json:"id"`
		QuotaBytes     *int64 `json:"quota_bytes"`
		QuotaDocuments *int64 `json:"quota_documents"`
		Quota          quota  `json:"quota"`
	}
	c.Do("PATCH", "/v1/admin/users/"+aliceID, admin, map[string]any{"quota_bytes": 0, "quota_documents": 10}, http.StatusOK, &view)
	require.Equal(t, int64(0), *view.QuotaBytes)
	require.Nil(t, view.Quota.BytesLimit, "0 is unlimited")
	require.Equal(t, int64(10), *view.Quota.DocumentsLimit)
	require.Nil(t, myQuota(t, c, alice).Quota.BytesLimit)
	uploadOne(t, c, alice, "big.txt", textOf(5000, "big"), http.StatusAccepted)
	var users struct {
		Users []struct {
			ID    string `json:"id"`
			Quota quota  `json:"quota"`
		} `json:"users"`
	}
	c.Do("GET", "/v1/admin/users", admin, nil, http.StatusOK, &users)
	for _, u := range users.Users {
		if u.ID == aliceID {
			require.Equal(t, int64(6510), u.Quota.BytesUsed, "admins see what each user uses")
		}
	}
	c.Do("PATCH", "/v1/admin/users/"+aliceID, admin, map[string]any{"quota_bytes": nil}, http.StatusOK, &view)
	require.Nil(t, view.QuotaBytes)
	require.Equal(t, int64(3000), *view.Quota.BytesLimit)
	require.Equal(t, int64(10), *view.QuotaDocuments, "absent fields stay")
	_, p = uploadOne(t, c, alice, "five.txt", textOf(10, "fifth"), http.StatusRequestEntityTooLarge)
	require.Equal(t, "quota_exceeded", p.Code)

	// Only admins, only valid values, never an admin's own rights.
	adminID := myQuota(t, c, admin).ID
	c.Do("PATCH", "/v1/admin/users/"+aliceID, alice, map[string]any{"quota_bytes": 0}, http.StatusNotFound, nil)
	c.Do("PATCH", "/v1/admin/users/"+aliceID, admin, map[string]any{"quota_bytes": -1}, http.StatusBadRequest, nil)
	c.Do("PATCH", "/v1/admin/users/"+aliceID, admin, map[string]any{"quota_documents": 1.5}, http.StatusBadRequest, nil)
	c.Do("PATCH", "/v1/admin/users/"+aliceID, admin, map[string]any{"is_admin": "yes"}, http.StatusBadRequest, nil)
	c.Do("PATCH", "/v1/admin/users/"+adminID, admin, map[string]any{"is_admin": false}, http.StatusConflict, nil)
	c.Do("PATCH", "/v1/admin/users/00000000-0000-0000-0000-000000000001", admin, map[string]any{"is_admin": true}, http.StatusNotFound, nil)
	c.Do("PATCH", "/v1/admin/users/"+aliceID, admin, map[string]any{"is_admin": true}, http.StatusOK, &view)
	c.Do("GET", "/v1/admin/users", alice, nil, http.StatusOK, nil)
}

// TestQuotaHoldsForConcurrentUploads: uploads of one user sent at the same moment
// cannot together slip past the quota.
func TestQuotaHoldsForConcurrentUploads(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-quota-race-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_RATE_LIMIT_RPS": "1000", "YW_RATE_LIMIT_BURST": "1000",
		"YW_QUOTA_DOCUMENTS": "2", "YW_UPLOADS_PER_USER": "16"})
	c := apitest.NewClient(t, base)
	bob := newUser(t, c, admin, "bob")

	const n = 10
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var body bytes.Buffer
			fmt.Fprintf(&body, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"race-%d.txt\"\r\n\r\nConcurrent upload number %d.\r\n--%s--\r\n",
				hostileBoundary, i, i, hostileBoundary)
			req, err := http.NewRequest("POST", base+"/v1/documents", &body)
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "multipart/form-data; boundary="+hostileBoundary)
			req.Header.Set("Authorization", "Bearer "+bob)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	accepted := 0
	for _, s := range statuses {
		require.Contains(t, []int{http.StatusAccepted, http.StatusRequestEntityTooLarge}, s)
		if s == http.StatusAccepted {
			accepted++
		}
	}
	require.Equal(t, 2, accepted, "exactly the quota: %v", statuses)
	require.Equal(t, int64(2), myQuota(t, c, bob).Quota.DocumentsUsed)
}

// TestQuotaUploadsInProgressPerUser: a user with the most uploads in progress gets
// 429 too_many_uploads for another, and a slot again once one ends.
func TestQuotaUploadsInProgressPerUser(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-upload-slots-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_RATE_LIMIT_RPS": "1000", "YW_RATE_LIMIT_BURST": "1000",
		"YW_UPLOADS_PER_USER": "1"})
	c := apitest.NewClient(t, base)
	carol := newUser(t, c, admin, "carol")
	dave := newUser(t, c, admin, "dave")
	k := loadContract(t, base)
	multipartType := "multipart/form-data; boundary=" + hostileBoundary

	// A slow upload: its body stops after the first field until the test lets it go on.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slow := &pausedReader{head: strings.NewReader(field("tags", "slow")), release: make(chan struct{}), ended: ctx.Done(),
		tail: strings.NewReader(fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.txt\"\r\n\r\nA slow upload.\r\n--%s--\r\n", hostileBoundary, hostileBoundary))}
	slowDone := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/documents", slow)
		req.Header.Set("Content-Type", multipartType)
		req.Header.Set("Authorization", "Bearer "+carol)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slowDone <- 0
			return
		}
		resp.Body.Close()
		slowDone <- resp.StatusCode
	}()

	// An upload with no file is refused as such once admitted (400), and is refused
	// at the door (429) while carol's slot is taken: poll until the slow upload holds it.
	probe := func(key string) (int, api.Problem) {
		resp, p := postForm(ctx, t, k, base, key, strings.NewReader("--"+hostileBoundary+"--\r\n"), multipartType)
		if resp.StatusCode == http.StatusTooManyRequests {
			require.NotEmpty(t, resp.Header.Get("Retry-After"))
		}
		return resp.StatusCode, p
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, p := probe(carol)
		if status == http.StatusTooManyRequests {
			require.Equal(t, "too_many_uploads", p.Code)
			break
		}
		require.Equal(t, http.StatusBadRequest, status)
		require.True(t, time.Now().Before(deadline), "a second upload while one is in progress was never refused")
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	status, _ := probe(dave)
	require.Equal(t, http.StatusBadRequest, status, "other users are not affected")

	// The slow upload finishes; carol may upload again.
	close(slow.release)
	require.Equal(t, http.StatusAccepted, <-slowDone)
	for {
		status, _ := probe(carol)
		if status == http.StatusBadRequest {
			break
		}
		require.True(t, time.Now().Before(deadline), "the slot was never given back")
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

func ptr[T any](v T) *T { return &v }

// pausedReader yields head, then waits until release is closed (or ended, which
// fails the read), then yields tail.
type pausedReader struct {
	head, tail io.Reader
	release    chan struct{}
	ended      <-chan struct{}
	waited     bool
}

func (r *pausedReader) Read(p []byte) (int, error) {
	if n, err := r.head.Read(p); n > 0 || err != io.EOF {
		return n, err
	}
	if !r.waited {
		select {
		case <-r.release:
			r.waited = true
		case <-r.ended:
			return 0, errGateClosed
		}
	}
	return r.tail.Read(p)
}
