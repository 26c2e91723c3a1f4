package service

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/store"
)

// withQuota returns the fixture's ingestion service with these default quotas.
func (f *docsFixture) withQuota(q QuotaDefaults) *Documents {
	return NewDocuments(f.store, f.objects, NewAuditor(f.store, logging.Discard()),
		DocumentsConfig{MaxUploadBytes: testMaxUpload, TmpDir: f.tmpDir, Quota: q}, logging.Discard())
}

func (f *docsFixture) commit(t *testing.T, d *Documents, p access.Principal, files ...string) ([]Document, error) {
	t.Helper()
	var staged []*StagedFile
	for i, text := range files {
		staged = append(staged, f.stage(t, fmt.Sprintf("f%d.txt", i), []byte(text)))
	}
	return d.CommitUpload(context.Background(), p, staged, UploadOptions{})
}

func TestUploadQuotaLimitsBytesAndDocuments(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	docs := f.withQuota(QuotaDefaults{Bytes: 100, Documents: 3})
	alice := f.user(t, "alice")

	forty := strings.Repeat("a", 40)
	first, err := f.commit(t, docs, alice, forty, strings.Repeat("b", 40))
	require.NoError(t, err)
	q, err := docs.Quota(ctx, alice)
	require.NoError(t, err)
	require.Equal(t, int64(80), q.BytesUsed)
	require.Equal(t, int64(2), q.DocumentsUsed)
	require.Equal(t, int64(100), *q.BytesLimit)
	require.Equal(t, int64(3), *q.DocumentsLimit)

	// 80 + 40 bytes is over 100: refused before anything is stored, saying why.
	puts := len(f.objects.putNames())
	_, err = f.commit(t, docs, alice, strings.Repeat("c", 40))
	e := requireCode(t, err, CodeQuotaExceeded, "file")
	require.Contains(t, e.Message, "you use 80 B of your 100 B")
	require.Contains(t, e.Message, "needs 40 B more")
	require.Len(t, f.objects.putNames(), puts, "a refused upload stores no byte")
	require.Equal(t, 2, f.countDocuments(t, alice.UserID))

	// The same bytes again cost nothing, even at the limit.
	again, err := f.commit(t, docs, alice, forty)
	require.NoError(t, err)
	require.True(t, again[0].Duplicate)

	// A third document fits in bytes and count; a fourth does not fit in count.
	_, err = f.commit(t, docs, alice, "small")
	require.NoError(t, err)
	_, err = f.commit(t, docs, alice, "tiny")
	e = requireCode(t, err, CodeQuotaExceeded, "file")
	require.Contains(t, e.Message, "you have 3 of the 3 documents")

	// Deleting frees the quota at once, before the purge job runs.
	require.NoError(t, docs.Delete(ctx, alice, first[0].ID))
	q, err = docs.Quota(ctx, alice)
	require.NoError(t, err)
	require.Equal(t, int64(45), q.BytesUsed)
	require.Equal(t, int64(2), q.DocumentsUsed)
	_, err = f.commit(t, docs, alice, "tiny")
	require.NoError(t, err)

	// An admin's own limit for the user wins over the default; 0 is unlimited.
	zero, hundredK := int64(0), int64(100_000)
	_, err = f.store.UpdateUser(ctx, alice.UserID, store.UserChange{
		QuotaBytes: store.QuotaSetting{Set: true, Value: &hundredK}, QuotaDocuments: store.QuotaSetting{Set: true, Value: &zero}})
	require.NoError(t, err)
	_, err = f.commit(t, docs, alice, strings.Repeat("d", 60_000), "and one more", "and another")
	require.NoError(t, err)
	q, err = docs.Quota(ctx, alice)
	require.NoError(t, err)
	require.Nil(t, q.DocumentsLimit, "0 is unlimited")
	require.Equal(t, hundredK, *q.BytesLimit)

	// Back to the default: over it now, so the next upload is refused.
	_, err = f.store.UpdateUser(ctx, alice.UserID, store.UserChange{
		QuotaBytes: store.QuotaSetting{Set: true}, QuotaDocuments: store.QuotaSetting{Set: true}})
	require.NoError(t, err)
	_, err = f.commit(t, docs, alice, "x")
	requireCode(t, err, CodeQuotaExceeded, "file")

	// Another user has a quota of their own.
	bob := f.user(t, "bob")
	_, err = f.commit(t, docs, bob, forty, forty+"!")
	require.NoError(t, err)
}

func TestUploadQuotaHoldsForConcurrentUploads(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	docs := f.withQuota(QuotaDefaults{Bytes: 1000, Documents: 3})
	alice := f.user(t, "alice")

	// Every upload passes the quick check and stores its bytes before any commits, the
	// worst interleaving: only the check in the commit's transaction stands between them.
	const n = 8
	var arrived sync.WaitGroup
	arrived.Add(n)
	allStored := make(chan struct{})
	go func() { arrived.Wait(); close(allStored) }()
	f.objects.onPut = func(string) {
		arrived.Done()
		select {
		case <-allStored:
		case <-time.After(10 * time.Second):
		}
	}
	staged := make([]*StagedFile, n)
	for i := range staged {
		staged[i] = f.stage(t, fmt.Sprintf("c%d.txt", i), []byte(fmt.Sprintf("concurrent upload number %d", i)))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = docs.CommitUpload(context.Background(), alice, []*StagedFile{staged[i]}, UploadOptions{})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		requireCode(t, err, CodeQuotaExceeded, "file")
	}
	require.Equal(t, 3, ok, "exactly as many uploads as the quota allows")
	require.Equal(t, 3, f.countDocuments(t, alice.UserID))
	kept := 0
	for _, name := range f.objects.putNames() {
		if _, err := f.objects.Info(context.Background(), name); err == nil {
			kept++
		}
	}
	require.Equal(t, 3, kept, "the refused uploads' bytes are removed")
}

func TestBeginUploadBoundsUploadsInProgress(t *testing.T) {
	t.Parallel()
	d := NewDocuments(nil, nil, nil, DocumentsConfig{UploadsPerUser: 2}, logging.Discard())
	alice, bob := access.Principal{UserID: "alice"}, access.Principal{UserID: "bob"}
	r1, err := d.BeginUpload(alice)
	require.NoError(t, err)
	r2, err := d.BeginUpload(alice)
	require.NoError(t, err)
	_, err = d.BeginUpload(alice)
	e := requireCode(t, err, CodeTooManyUploads, "")
	require.Contains(t, e.Message, "2 uploads in progress")
	rb, err := d.BeginUpload(bob)
	require.NoError(t, err, "each user has their own slots")
	r1()
	r1() // releasing twice frees one slot only
	r3, err := d.BeginUpload(alice)
	require.NoError(t, err)
	_, err = d.BeginUpload(alice)
	requireCode(t, err, CodeTooManyUploads, "")
	r2()
	r3()
	rb()

	unbounded := NewDocuments(nil, nil, nil, DocumentsConfig{}, logging.Discard())
	for range 100 {
		_, err := unbounded.BeginUpload(alice)
		require.NoError(t, err)
	}
}

func TestUploadFormChecksEachFieldAsItArrives(t *testing.T) {
	t.Parallel()
	team := "5f0b0c4e-0a7b-4c39-9a84-9b0e6a0f1c11"
	p := access.Principal{UserID: "alice", GroupIDs: []string{team}}

	form := NewUploadForm(p)
	require.NoError(t, form.Add("tags", " demo, handbook ,,demo"))
	require.NoError(t, form.Add("tags", "q3"))
	require.NoError(t, form.Add("tags", strings.Repeat(",", 4096)), "separators alone add no tag")
	require.NoError(t, form.Add("group_id", team))
	require.NoError(t, form.Add("private", "true"))
	require.NoError(t, form.Add("colour", "ignored"))
	require.Equal(t, UploadOptions{GroupID: team, Private: true, Tags: []string{"demo", "handbook", "q3"}}, form.Options())

	for _, tc := range []struct {
		fields [][2]string
		code   Code
		field  string
	}{
		{[][2]string{{"private", "maybe"}}, CodeInvalid, "private"},
		{[][2]string{{"private", "true"}, {"private", "false"}}, CodeInvalid, "private"},
		{[][2]string{{"group_id", "not-a-uuid"}}, CodeNotFound, "group_id"},
		{[][2]string{{"group_id", "00000000-0000-0000-0000-000000000001"}}, CodeNotFound, "group_id"},
		{[][2]string{{"group_id", team}, {"group_id", team}}, CodeInvalid, "group_id"},
		{[][2]string{{"tags", strings.Repeat("t", MaxTagRunes+1)}}, CodeInvalid, "tags"},
		{[][2]string{{"tags", "line\nbreak"}}, CodeInvalid, "tags"},
		{[][2]string{{"tags", "bad\xffutf8"}}, CodeInvalid, "tags"},
		{[][2]string{{"tags", manyTags(20)}, {"tags", manyTags(40)}}, CodeInvalid, "tags"},
	} {
		form := NewUploadForm(p)
		var err error
		for _, kv := range tc.fields {
			if err = form.Add(kv[0], kv[1]); err != nil {
				break
			}
		}
		requireCode(t, err, tc.code, tc.field)
	}
	require.NoError(t, NewUploadForm(p).Add("tags", manyTags(MaxTags)))
}

func manyTags(n int) string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag%d", i)
	}
	return strings.Join(tags, ",")
}

func TestCommitUploadOnAFullStore(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	srv := queuetest.Start(t, queuetest.WithConfig(func(c *queue.Config) { c.UploadMaxBytes = 1 << 20 }))
	objs, err := queue.NewObjects(ctx, srv.JS)
	require.NoError(t, err)
	docs := NewDocuments(f.store, objs, NewAuditor(f.store, logging.Discard()),
		DocumentsConfig{MaxUploadBytes: testMaxUpload, TmpDir: f.tmpDir}, logging.Discard())
	alice := f.user(t, "alice")

	// Twenty files of 60 KB are more than the 1 MiB store holds: the upload fails
	// clearly part way, and the files it had stored are removed again.
	var staged []*StagedFile
	for i := range 20 {
		staged = append(staged, f.stage(t, fmt.Sprintf("big%d.txt", i), bytes.Repeat([]byte(fmt.Sprintf("%02d ", i)), 20_000)))
	}
	_, err = docs.CommitUpload(ctx, alice, staged, UploadOptions{})
	e := requireCode(t, err, CodeStorageFull, "file")
	require.Contains(t, e.Message, "nothing of this upload was stored")
	require.Equal(t, 0, f.countDocuments(t, alice.UserID))
	used, _, err := objs.Usage(ctx)
	require.NoError(t, err)
	require.Less(t, used, int64(32<<10), "what the failed upload had stored is gone, but for small delete markers")

	_, err = docs.CommitUpload(ctx, alice, staged[:5], UploadOptions{})
	require.NoError(t, err, "with room again, uploads work")
}
