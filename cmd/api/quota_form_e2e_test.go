package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api"
	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// hostileBoundary separates the parts of the hand-made multipart bodies below.
const hostileBoundary = "yw-hostile-form-boundary"

// fieldsBody is a multipart upload made only of form fields: part after part named
// name holding value, size bytes in all, generated as it is read so the test itself
// holds none of it. After gateAt bytes it stops until release is closed or the
// request ends, so the server must answer from the first gateAt bytes or not at all.
type fieldsBody struct {
	part    []byte
	size    int64
	sent    int64
	gateAt  int64
	release chan struct{}
	ended   <-chan struct{}
	tail    []byte
}

func newFieldsBody(ctx context.Context, name, value string, size, gateAt int64) *fieldsBody {
	part := fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", hostileBoundary, name, value)
	return &fieldsBody{part: []byte(part), size: size, gateAt: gateAt, release: make(chan struct{}), ended: ctx.Done(),
		tail: []byte("--" + hostileBoundary + "--\r\n")}
}

var errGateClosed = errors.New("the test stopped sending")

func (b *fieldsBody) Read(p []byte) (int, error) {
	if b.sent >= b.gateAt {
		select {
		case <-b.release:
		case <-b.ended:
		}
		return 0, errGateClosed
	}
	if b.sent >= b.size {
		n := copy(p, b.tail)
		b.tail = b.tail[n:]
		if len(b.tail) == 0 {
			return n, io.EOF
		}
		return n, nil
	}
	n := 0
	for n < len(p) && b.sent < b.size && b.sent < b.gateAt {
		off := int(b.sent % int64(len(b.part)))
		c := copy(p[n:], b.part[off:])
		n += c
		b.sent += int64(c)
	}
	return n, nil
}

// heapStats reads the Go runtime's heap counters of this process, where the API runs.
func heapStats() (allocated, live uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// peakHeap samples the heap's objects (live and not yet collected) until stop is
// called, and returns the highest value seen.
func peakHeap() (stop func() uint64) {
	done := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if _, live := heapStats(); live > peak {
				peak = live
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// postForm sends a hand-made multipart body and returns the answer, checked against
// the contract; the request body is not replayed, so it may be endless. The API has
// until ctx ends to answer.
func postForm(ctx context.Context, t *testing.T, k *contract, base, key string, body io.Reader, contentType string) (*http.Response, api.Problem) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/v1/documents", body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "the API must answer without the rest of the body")
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	k.check(t, req, resp, raw)
	var p api.Problem
	if resp.StatusCode >= 400 {
		require.NoError(t, json.Unmarshal(raw, &p), "%s", raw)
	}
	return resp, p
}

// TestQuotaHostileFormIsRefusedEarlyAndCheaply: a signed-in user sends a 16 MiB upload
// made only of tags fields of 4,096 commas each. The API must refuse it having read
// only the first of those 16 MiB, and its heap must not grow with the request: the
// bytes the whole process allocates while it answers (an upper bound of how much its
// heap can grow) stay under 32 MiB. Not parallel: the heap is the whole process's.
func TestQuotaHostileFormIsRefusedEarlyAndCheaply(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-hostile-form-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error", "YW_RATE_LIMIT_RPS": "1000", "YW_RATE_LIMIT_BURST": "1000"})
	c := apitest.NewClient(t, base)
	k := loadContract(t, base)
	alice := newUser(t, c, admin, "alice")
	multipartType := "multipart/form-data; boundary=" + hostileBoundary

	const size, gate, heapBound = 16 << 20, 1 << 20, 32 << 20
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	body := newFieldsBody(ctx, "tags", strings.Repeat(",", 4096), size, gate)
	runtime.GC()
	allocBefore, liveBefore := heapStats()
	stopPeak := peakHeap()
	start := time.Now()
	resp, p := postForm(ctx, t, k, base, alice, body, multipartType)
	took := time.Since(start)
	peak := stopPeak()
	allocAfter, _ := heapStats()
	close(body.release)
	allocated := allocAfter - allocBefore
	t.Logf("16 MiB tags-only upload: %d after %s having sent %d bytes; allocated %.1f MiB, heap peak %.1f MiB above the start",
		resp.StatusCode, took.Round(time.Millisecond), body.sent, float64(allocated)/(1<<20), (float64(peak)-float64(liveBefore))/(1<<20))
	require.Contains(t, []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge}, resp.StatusCode, p.Detail)
	require.NotEmpty(t, p.Errors)
	require.Equal(t, "tags", p.Errors[0].Field, "the refusal names the field: %+v", p)
	require.Less(t, allocated, uint64(heapBound), "answering a hostile form may not cost the API more than a bounded amount of memory")

	// The other bounds of the form, each named in the refusal.
	for _, tc := range []struct {
		name, body, field string
		status            int
	}{
		{"too many tags", field("tags", manyTagsList(33)), "tags", http.StatusBadRequest},
		{"a tag too long", field("tags", strings.Repeat("t", 65)), "tags", http.StatusBadRequest},
		{"a field too long", field("tags", strings.Repeat("t", 10<<10)), "tags", http.StatusRequestEntityTooLarge},
		{"fields too long together", strings.Repeat(field("note", strings.Repeat("n", 8<<10)), 3), "note", http.StatusRequestEntityTooLarge},
		{"too many fields", strings.Repeat(field("note", "x"), 9), "note", http.StatusBadRequest},
		{"private twice", field("private", "true") + field("private", "false"), "private", http.StatusBadRequest},
		{"private not a bool", field("private", "maybe"), "private", http.StatusBadRequest},
		{"group_id not a group", field("group_id", "not-a-uuid"), "group_id", http.StatusNotFound},
		{"a huge part header", "--" + hostileBoundary + "\r\nX-Padding: " + strings.Repeat("p", 200<<10) + "\r\n\r\nx\r\n", "body", http.StatusRequestEntityTooLarge},
		{"no parts at all", "this is not a multipart body\r\n", "file", http.StatusBadRequest},
		{"part headers that never end", "--" + hostileBoundary + "\r\nContent-Disposition: form-data; name=\"tags\"\r\n", "body", http.StatusBadRequest},
		{"a part cut short", "--" + hostileBoundary + "\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\nabc", "body", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, p := postForm(ctx, t, k, base, alice, strings.NewReader(tc.body+"--"+hostileBoundary+"--\r\n"), multipartType)
			require.Equal(t, tc.status, resp.StatusCode, p.Detail)
			require.NotEmpty(t, p.Errors, p.Detail)
			require.Equal(t, tc.field, p.Errors[0].Field, p.Detail)
			for _, internal := range []string{"multipart:", "NextPart", "EOF", "boundary"} {
				require.NotContains(t, p.Detail, internal, "no parser internals in the message")
			}
		})
	}
	resp, p = postForm(ctx, t, k, base, alice, strings.NewReader("x"), "multipart/form-data")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "body", p.Errors[0].Field)

	// A well-formed upload still works, its fields before or after the files.
	var buf bytes.Buffer
	buf.WriteString(field("tags", "a, b") + fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"note.txt\"\r\nContent-Type: text/plain\r\n\r\nA perfectly ordinary note.\r\n", hostileBoundary) +
		field("tags", "c") + field("private", "true") + "--" + hostileBoundary + "--\r\n")
	resp, _ = postForm(ctx, t, k, base, alice, &buf, multipartType)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
}

func field(name, value string) string {
	return fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", hostileBoundary, name, value)
}

func manyTagsList(n int) string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag%d", i)
	}
	return strings.Join(tags, ",")
}
