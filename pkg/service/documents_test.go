package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/corpustest"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/ingest"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

// docsFixture is the ingestion service on a rolled-back transaction, with a real
// object store (embedded JetStream), the real chunk index on the embedded vector
// store with the lexical embedder, and the real ingest worker to process uploads.
type docsFixture struct {
	docs     *Documents
	search   *Search
	store    *store.Store
	tx       *pgxpool.Pool // raw SQL on the fixture's own database
	objects  *recordingObjects
	index    *index.Index
	worker   *ingest.Worker
	tmpDir   string
	notified atomic.Int32
}

const testMaxUpload = 64 << 10

func newDocsFixture(t *testing.T) *docsFixture {
	t.Helper()
	lexical, err := embed.NewLexical(0)
	require.NoError(t, err)
	return newDocsFixtureWith(t, lexical)
}

// newDocsFixtureWith is newDocsFixture with the chunk index filled by embedder.
func newDocsFixtureWith(t *testing.T, embedder embed.Embedder) *docsFixture {
	t.Helper()
	ctx := context.Background()
	// A database of its own rather than a rolled-back transaction: the ingest worker
	// runs steps concurrently, which a single transaction cannot serve.
	tx, _ := pgtest.NewDB(t)
	st := store.New(tx)
	qs := queuetest.Start(t)
	objs, err := queue.NewObjects(ctx, qs.JS)
	require.NoError(t, err)
	ix, err := index.Open(ctx, vectortest.Lite(t), embedder, logging.Discard())
	require.NoError(t, err)
	f := &docsFixture{store: st, tx: tx, objects: &recordingObjects{Objects: objs}, index: ix, tmpDir: t.TempDir()}
	f.docs = NewDocuments(st, f.objects, NewAuditor(st, logging.Discard()), DocumentsConfig{
		MaxUploadBytes: testMaxUpload, TmpDir: f.tmpDir, Notify: func() { f.notified.Add(1) }}, logging.Discard())
	f.search = NewSearch(st, ix)
	f.worker = ingest.New(st, objs, ix, ingest.Config{Limits: parse.DefaultLimits()}, logging.Discard())
	return f
}

// recordingObjects is the real object store, remembering what was put and able to
// fail a chosen Put, as a full disk or a NATS outage would.
type recordingObjects struct {
	*queue.Objects
	mu      sync.Mutex
	puts    []string
	failPut int // fail the n-th Put (1-based); 0 never
	// truncate stores only the first bytes of every object, as a broken store would.
	truncate bool
	onPut    func(name string)
}

func (o *recordingObjects) Put(ctx context.Context, name string, r io.Reader) (queue.ObjectInfo, error) {
	o.mu.Lock()
	o.puts = append(o.puts, name)
	n, onPut := len(o.puts), o.onPut
	o.mu.Unlock()
	if n == o.failPut {
		return queue.ObjectInfo{}, errors.New("object store unavailable")
	}
	if o.truncate {
		r = io.LimitReader(r, 4)
	}
	info, err := o.Objects.Put(ctx, name, r)
	if err == nil && onPut != nil {
		onPut(name)
	}
	return info, err
}

func (o *recordingObjects) putNames() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.puts...)
}

// user creates a user with a unique name (parallel transactions must not contend
// on the unique name index) and returns their principal.
func (f *docsFixture) user(t *testing.T, name string, groups ...string) access.Principal {
	t.Helper()
	u, err := f.store.CreateUser(context.Background(), name+"_"+randSuffix(t), false)
	require.NoError(t, err)
	p := access.Principal{UserID: u.ID, Name: u.Name}
	for _, g := range groups {
		_, err := f.store.AddMember(context.Background(), g, u.ID, "member")
		require.NoError(t, err)
		p.GroupIDs = append(p.GroupIDs, g)
	}
	return p
}

func (f *docsFixture) group(t *testing.T) string {
	t.Helper()
	id, err := f.store.InsertGroup(context.Background(), "team_"+randSuffix(t), "")
	require.NoError(t, err)
	return id
}

func randSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// stage stages one file and fails the test if it is refused.
func (f *docsFixture) stage(t *testing.T, name string, data []byte) *StagedFile {
	t.Helper()
	s, err := f.docs.Stage(context.Background(), name, bytes.NewReader(data))
	require.NoError(t, err)
	t.Cleanup(s.Discard)
	return s
}

// upload stages and commits files as one request.
func (f *docsFixture) upload(t *testing.T, p access.Principal, opts UploadOptions, files map[string]string) []Document {
	t.Helper()
	var staged []*StagedFile
	for name, text := range files {
		staged = append(staged, f.stage(t, name, []byte(text)))
	}
	docs, err := f.docs.CommitUpload(context.Background(), p, staged, opts)
	require.NoError(t, err)
	return docs
}

// row reads a document's stored row, for what only storage knows.
func (f *docsFixture) row(t *testing.T, id string) store.Document {
	t.Helper()
	doc, err := f.store.GetDocument(context.Background(), id)
	require.NoError(t, err)
	return doc
}

// ingest runs the ingest job of a document through the real worker, as the queue would.
func (f *docsFixture) ingest(t *testing.T, id string) store.Document {
	t.Helper()
	payload, err := job.Encode(job.IngestJob{DocumentID: id})
	require.NoError(t, err)
	require.NoError(t, f.worker.Handle(context.Background(), &queue.Msg{Subject: job.SubjectIngest, Data: payload}))
	doc, err := f.store.GetDocument(context.Background(), id)
	require.NoError(t, err)
	return doc
}

type outboxRow struct {
	Subject, MsgID string
	Payload        []byte
}

// outbox returns the jobs written in this test's transaction, in order.
func (f *docsFixture) outbox(t *testing.T) []outboxRow {
	t.Helper()
	rows, err := f.tx.Query(context.Background(), `SELECT subject, msg_id, payload FROM outbox ORDER BY id`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		return o, r.Scan(&o.Subject, &o.MsgID, &o.Payload)
	})
	require.NoError(t, err)
	return out
}

func (f *docsFixture) countDocuments(t *testing.T, ownerID string) int {
	t.Helper()
	var n int
	require.NoError(t, f.tx.QueryRow(context.Background(), `SELECT count(*) FROM documents WHERE owner_id = $1`, ownerID).Scan(&n))
	return n
}

func requireCode(t *testing.T, err error, code Code, field string) *Error {
	t.Helper()
	var e *Error
	require.ErrorAs(t, err, &e, "got %v", err)
	require.Equal(t, code, e.Code, e.Message)
	if field != "" {
		require.NotEmpty(t, e.Fields, e.Message)
		require.Equal(t, field, e.Fields[0].Field, e.Message)
	}
	return e
}

func tmpFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestStageEnforcesTheSizeLimit(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()

	atLimit := bytes.Repeat([]byte("a"), testMaxUpload)
	s, err := f.docs.Stage(ctx, "limit.txt", bytes.NewReader(atLimit))
	require.NoError(t, err, "a file of exactly the limit is accepted")
	require.Equal(t, int64(testMaxUpload), s.Size)
	s.Discard()

	_, err = f.docs.Stage(ctx, "big.txt", bytes.NewReader(append(atLimit, 'b')))
	e := requireCode(t, err, CodeTooLarge, "file")
	require.Contains(t, e.Message, "big.txt")
	require.Contains(t, e.Message, "65536")

	// The HTTP layer's body limit surfaces as the same code.
	_, err = f.docs.Stage(ctx, "cut.txt", io.MultiReader(strings.NewReader("abc"), errReader{fmt.Errorf("multipart: NextPart: %w", &http.MaxBytesError{Limit: 1 << 20})}))
	requireCode(t, err, CodeTooLarge, "")
	// Any other broken upload is the client's problem, not a 500.
	_, err = f.docs.Stage(ctx, "cut.txt", errReader{errors.New("unexpected EOF")})
	requireCode(t, err, CodeInvalid, "")
	// A client that went away is reported as the cancellation it is.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = f.docs.Stage(cctx, "cut.txt", errReader{errors.New("connection reset")})
	require.ErrorIs(t, err, context.Canceled)

	require.Empty(t, tmpFiles(t, f.tmpDir), "refused uploads leave no temporary file behind")
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestStageDetectsTypeFromContent(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()

	memo := corpustest.Read(t, "fake-memo.pdf")
	s := f.stage(t, "memo.txt", memo)
	require.Equal(t, parse.FormatPDF, s.Format, "the content decides, not the name")
	require.Equal(t, int64(len(memo)), s.Size)
	require.Len(t, s.SHA256, 64)
	md := f.stage(t, "notes.md", []byte("# Title\n\nBody"))
	require.Equal(t, parse.FormatMarkdown, md.Format)

	for _, tc := range []struct{ file, name, named string }{
		{"simple.zip", "simple.zip", "ZIP archive"},
		{"fake.doc", "fake.doc", "legacy Word .doc"},
		{"tests-example.xls", "tests-example.xls", "legacy Excel .xls"},
		{"password_protected.xlsx", "password_protected.xlsx", "password-protected"},
		{"fake-text.txt", "tool.xyz", ".xyz"},
	} {
		_, err := f.docs.Stage(ctx, tc.name, bytes.NewReader(corpustest.Read(t, tc.file)))
		e := requireCode(t, err, CodeUnsupported, "file")
		require.Contains(t, e.Message, tc.named, "the refusal names the type")
		require.Contains(t, e.Fields[0].Message, tc.name, "the refusal names the file")
	}
	require.Len(t, tmpFiles(t, f.tmpDir), 2, "only the accepted uploads stay staged")
}

func TestStageCleansFilenames(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	cases := []struct{ in, want string }{
		{"report.txt", "report.txt"},
		{"../../etc/passwd.txt", "passwd.txt"},
		{`C:\Users\me\Desktop\plan.md`, "plan.md"},
		{"  spaced name.txt  ", "spaced name.txt"},
		{"bell\a\x00null\ttab.txt", "bellnulltab.txt"},
		{"bad\xffutf8.txt", "badutf8.txt"},
		{"résumé 履歴書.txt", "résumé 履歴書.txt"},
		{strings.Repeat("é", 251) + ".txt", strings.Repeat("é", 251) + ".txt"},
	}
	for _, tc := range cases {
		s, err := f.docs.Stage(context.Background(), tc.in, strings.NewReader("some text"))
		require.NoError(t, err, "%q", tc.in)
		require.Equal(t, tc.want, s.Filename, "%q", tc.in)
		s.Discard()
	}
	for _, bad := range []string{"", "   ", ".", "/", "\x01\x02", strings.Repeat("x", 252) + ".txt"} {
		_, err := f.docs.Stage(context.Background(), bad, strings.NewReader("some text"))
		requireCode(t, err, CodeInvalid, "file")
	}
	require.Empty(t, tmpFiles(t, f.tmpDir))
}

func TestCommitUploadStoresQueuesAndNotifies(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	alice := f.user(t, "alice")

	_, err := f.docs.CommitUpload(ctx, alice, nil, UploadOptions{})
	requireCode(t, err, CodeInvalid, "file")

	text := []byte("Quarterly revenue grew in every region.")
	s := f.stage(t, "../q3.txt", text)
	docs, err := f.docs.CommitUpload(ctx, alice, []*StagedFile{s}, UploadOptions{Tags: []string{" finance ", "q3", "finance", ""}})
	require.NoError(t, err)
	require.Len(t, docs, 1)
	d := docs[0]
	require.Equal(t, "q3.txt", d.Filename)
	require.Equal(t, store.StatusQueued, d.Status)
	require.Equal(t, "text/plain", d.MIME)
	require.Equal(t, alice.UserID, d.OwnerID)
	require.Nil(t, d.GroupID)
	require.Equal(t, []string{"finance", "q3"}, d.Tags, "tags are trimmed, deduplicated, blanks dropped")
	require.Equal(t, int64(len(text)), d.SizeBytes)
	require.False(t, d.Duplicate)
	require.EqualValues(t, 1, f.notified.Load(), "the relay is woken for the new job")

	jobs := f.outbox(t)
	require.Len(t, jobs, 1)
	require.Equal(t, job.SubjectIngest, jobs[0].Subject)
	require.Equal(t, job.IngestJob{DocumentID: d.ID, Generation: 1}.MsgID(), jobs[0].MsgID)
	var ij job.IngestJob
	require.NoError(t, job.Decode(jobs[0].Payload, &ij))
	require.Equal(t, d.ID, ij.DocumentID)

	// The stored bytes are the upload's.
	got, rc, err := f.docs.Content(ctx, alice, d.ID)
	require.NoError(t, err)
	body, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.Equal(t, text, body)
	require.Equal(t, d.ID, got.ID)

	audit, err := f.store.ListAudit(ctx, store.AuditFilter{Action: "document.upload", Limit: 10})
	require.NoError(t, err)
	require.NotEmpty(t, audit)
}

func TestCommitUploadDuplicatesByHash(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	alice := f.user(t, "alice")
	bob := f.user(t, "bob")
	report := []byte("The annual report, final version.")

	first, err := f.docs.CommitUpload(ctx, alice, []*StagedFile{f.stage(t, "report.txt", report)}, UploadOptions{})
	require.NoError(t, err)
	putsBefore := len(f.objects.putNames())

	// The same bytes under another name, next to a new file: the known one comes back
	// as a duplicate in its place, the new one is stored.
	other := []byte("Minutes of the board meeting.")
	docs, err := f.docs.CommitUpload(ctx, alice, []*StagedFile{f.stage(t, "other.txt", other), f.stage(t, "renamed.txt", report)}, UploadOptions{})
	require.NoError(t, err)
	require.Len(t, docs, 2)
	require.False(t, docs[0].Duplicate)
	require.Equal(t, "other.txt", docs[0].Filename)
	require.True(t, docs[1].Duplicate)
	require.Equal(t, first[0].ID, docs[1].ID)
	require.Equal(t, "report.txt", docs[1].Filename, "a duplicate is the existing document, name included")
	require.Len(t, f.objects.putNames(), putsBefore+1, "the duplicate's bytes are not stored again")

	// The same bytes twice in one request: one document, the second part a duplicate.
	twice := []byte("Sent twice by a double click.")
	docs, err = f.docs.CommitUpload(ctx, alice, []*StagedFile{f.stage(t, "a.txt", twice), f.stage(t, "b.txt", twice)}, UploadOptions{})
	require.NoError(t, err)
	require.Len(t, docs, 2)
	require.False(t, docs[0].Duplicate)
	require.True(t, docs[1].Duplicate)
	require.Equal(t, docs[0].ID, docs[1].ID)

	// Duplicates start no job: three documents, three ingest jobs.
	require.Equal(t, 3, f.countDocuments(t, alice.UserID))
	require.Len(t, f.outbox(t), 3)

	// Nothing new at all: the relay is not woken.
	n := f.notified.Load()
	docs, err = f.docs.CommitUpload(ctx, alice, []*StagedFile{f.stage(t, "again.txt", report)}, UploadOptions{})
	require.NoError(t, err)
	require.True(t, docs[0].Duplicate)
	require.Equal(t, n, f.notified.Load())

	// Another owner's identical bytes are their own document.
	docs, err = f.docs.CommitUpload(ctx, bob, []*StagedFile{f.stage(t, "report.txt", report)}, UploadOptions{})
	require.NoError(t, err)
	require.False(t, docs[0].Duplicate)
	require.NotEqual(t, first[0].ID, docs[0].ID)

	// Once deleted, the same bytes make a new document.
	require.NoError(t, f.docs.Delete(ctx, alice, first[0].ID))
	docs, err = f.docs.CommitUpload(ctx, alice, []*StagedFile{f.stage(t, "report.txt", report)}, UploadOptions{})
	require.NoError(t, err)
	require.False(t, docs[0].Duplicate)
	require.NotEqual(t, first[0].ID, docs[0].ID)
}

func TestCommitUploadIsAllOrNothing(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	alice := f.user(t, "alice")

	// The object store fails on the third file: the two stored first are removed,
	// and no row or job is written.
	f.objects.failPut = 3
	files := []*StagedFile{f.stage(t, "1.txt", []byte("one")), f.stage(t, "2.txt", []byte("two")), f.stage(t, "3.txt", []byte("three"))}
	_, err := f.docs.CommitUpload(ctx, alice, files, UploadOptions{})
	require.ErrorContains(t, err, "object store unavailable")
	require.Equal(t, 0, f.countDocuments(t, alice.UserID))
	require.Empty(t, f.outbox(t))
	names := f.objects.putNames()
	require.Len(t, names, 3)
	for _, name := range names {
		_, err := f.objects.Get(ctx, name)
		require.ErrorIs(t, err, queue.ErrObjectNotFound, "%s must be cleaned up", name)
	}
	require.Zero(t, f.notified.Load())
}

func TestCommitUploadRefusesStoredBytesThatDiffer(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	alice := f.user(t, "alice")

	f.objects.truncate = true
	_, err := f.docs.CommitUpload(ctx, alice, []*StagedFile{f.stage(t, "long.txt", []byte("longer than four bytes"))}, UploadOptions{})
	require.ErrorContains(t, err, "stored bytes differ from the upload")
	require.Equal(t, 0, f.countDocuments(t, alice.UserID))
	require.Empty(t, f.outbox(t))

	// A staged file that vanished before the commit is an error, not an empty document.
	f.objects.truncate = false
	gone := f.stage(t, "gone.txt", []byte("staged, then lost"))
	gone.Discard()
	_, err = f.docs.CommitUpload(ctx, alice, []*StagedFile{gone}, UploadOptions{})
	require.ErrorContains(t, err, "reopen staged upload")
	require.Equal(t, 0, f.countDocuments(t, alice.UserID))

	// Without a relay to wake, uploads still work.
	quiet := NewDocuments(f.store, f.objects, NewAuditor(f.store, logging.Discard()), DocumentsConfig{MaxUploadBytes: testMaxUpload}, logging.Discard())
	docs, err := quiet.CommitUpload(ctx, alice, []*StagedFile{f.stage(t, "ok.txt", []byte("fine"))}, UploadOptions{})
	require.NoError(t, err)
	require.Len(t, docs, 1)
}

func TestCommitUploadRaceWithAConcurrentUploadCleansUp(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	alice := f.user(t, "alice")
	data := []byte("Uploaded from two tabs at once.")
	staged := f.stage(t, "tabs.txt", data)

	// While our bytes are being stored, the same file lands from another request.
	f.objects.onPut = func(string) {
		_, err := f.store.InsertDocument(ctx, store.NewDocument{ID: "5f0b0c4e-0a7b-4c39-9a84-9b0e6a0f1c11", OwnerID: alice.UserID,
			Filename: "tabs.txt", MIME: "text/plain", Format: "text", SizeBytes: int64(len(data)), SHA256: staged.SHA256, ObjectKey: "documents/other"})
		require.NoError(t, err)
	}
	_, err := f.docs.CommitUpload(ctx, alice, []*StagedFile{staged}, UploadOptions{})
	requireCode(t, err, CodeConflict, "")
	names := f.objects.putNames()
	require.Len(t, names, 1)
	_, err = f.objects.Get(ctx, names[0])
	require.ErrorIs(t, err, queue.ErrObjectNotFound, "the losing request's bytes are removed")
}

func TestCommitUploadChecksGroupAndTags(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	team := f.group(t)
	strangers := f.group(t)
	alice := f.user(t, "alice", team)
	s := f.stage(t, "plan.txt", []byte("The plan for next year."))

	for _, g := range []string{strangers, "not-a-uuid", "00000000-0000-0000-0000-000000000001"} {
		_, err := f.docs.CommitUpload(ctx, alice, []*StagedFile{s}, UploadOptions{GroupID: g})
		e := requireCode(t, err, CodeNotFound, "group_id")
		require.Equal(t, "group_id: no such group", e.Message, "a group one is not in looks like no group at all")
	}
	for _, tags := range [][]string{
		{strings.Repeat("t", 65)},
		{"line\nbreak"},
		func() []string {
			var many []string
			for i := range 33 {
				many = append(many, "tag"+string(rune('a'+i%26))+strings.Repeat("x", i/26))
			}
			return many
		}(),
	} {
		_, err := f.docs.CommitUpload(ctx, alice, []*StagedFile{s}, UploadOptions{Tags: tags})
		requireCode(t, err, CodeInvalid, "tags")
	}
	require.Equal(t, 0, f.countDocuments(t, alice.UserID), "a refused upload stores nothing")
	require.Empty(t, f.objects.putNames(), "validation happens before any byte is stored")

	docs, err := f.docs.CommitUpload(ctx, alice, []*StagedFile{s}, UploadOptions{GroupID: team, Private: true,
		Tags: []string{strings.Repeat("é", 64)}})
	require.NoError(t, err)
	require.Equal(t, team, *docs[0].GroupID)
	require.True(t, docs[0].Private)
}

func TestGetAndContentAreHiddenFromOutsiders(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	team := f.group(t)
	alice := f.user(t, "alice", team)
	bob := f.user(t, "bob", team)
	eve := f.user(t, "eve")

	shared := f.upload(t, alice, UploadOptions{GroupID: team}, map[string]string{"shared.txt": "Shared with the team."})[0]
	private := f.upload(t, alice, UploadOptions{GroupID: team, Private: true}, map[string]string{"private.txt": "Only for me."})[0]
	mine := f.upload(t, alice, UploadOptions{}, map[string]string{"mine.txt": "Not in any group."})[0]

	// The team sees the shared document and its bytes.
	got, err := f.docs.Get(ctx, bob, shared.ID)
	require.NoError(t, err)
	require.Equal(t, "shared.txt", got.Filename)
	_, rc, err := f.docs.Content(ctx, bob, shared.ID)
	require.NoError(t, err)
	body, _ := io.ReadAll(rc)
	rc.Close()
	require.Equal(t, "Shared with the team.", string(body))

	// Nobody else sees anything, exactly as if it did not exist.
	for _, tc := range []struct {
		who access.Principal
		id  string
	}{{bob, private.ID}, {bob, mine.ID}, {eve, shared.ID}, {eve, mine.ID}, {alice, "6c1f9c8e-6b0e-4a8e-8d5b-3d7e2b9f0a44"}} {
		_, err := f.docs.Get(ctx, tc.who, tc.id)
		requireCode(t, err, CodeNotFound, "")
		_, _, err = f.docs.Content(ctx, tc.who, tc.id)
		requireCode(t, err, CodeNotFound, "")
	}

	// Bytes missing from the object store are a server error, not a 404.
	require.NoError(t, f.objects.Delete(ctx, f.row(t, mine.ID).ObjectKey))
	_, _, err = f.docs.Content(ctx, alice, mine.ID)
	require.Error(t, err)
	require.Empty(t, ErrorCode(err))

	// A malformed id is simply not found. (Last: in a test transaction the failed
	// statement aborts the transaction.)
	_, err = f.docs.Get(ctx, alice, "nope")
	requireCode(t, err, CodeNotFound, "")
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	team := f.group(t)
	alice := f.user(t, "alice", team)
	bob := f.user(t, "bob", team)

	var ids []string
	for i, text := range []string{"first text", "second text", "third text", "fourth text"} {
		opts := UploadOptions{}
		if i%2 == 1 {
			opts.GroupID = team
		}
		ids = append(ids, f.upload(t, alice, opts, map[string]string{"doc.txt": text})[0].ID)
	}
	_, err := f.store.MarkFailed(ctx, ids[0], 0, "empty", "no text")
	require.NoError(t, err)
	page, err := f.docs.List(ctx, alice, ListOptions{Limit: 500})
	require.NoError(t, err)
	require.Len(t, page.Items, 4, "a limit past the maximum is clamped")

	// Paging: two at a time until next is nil, every document once, in the order of
	// the whole list. (Rows of one transaction share their creation time, so the
	// order among them is the id tie-break.)
	all, err := f.docs.List(ctx, alice, ListOptions{})
	require.NoError(t, err)
	require.ElementsMatch(t, ids, docIDs(all.Items))
	require.Nil(t, all.Next)
	var seen []string
	cursor := ""
	for range 3 {
		page, err := f.docs.List(ctx, alice, ListOptions{Limit: 2, Cursor: cursor})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Items), 2)
		for _, d := range page.Items {
			seen = append(seen, d.ID)
		}
		if page.Next == nil {
			break
		}
		cursor = *page.Next
	}
	require.Equal(t, docIDs(all.Items), seen)

	page, err = f.docs.List(ctx, alice, ListOptions{Status: store.StatusFailed})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, ids[0], page.Items[0].ID)
	page, err = f.docs.List(ctx, alice, ListOptions{GroupID: team})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{ids[1], ids[3]}, docIDs(page.Items))

	// Bob sees only the team's documents; a list of nothing is empty, not null.
	page, err = f.docs.List(ctx, bob, ListOptions{})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{ids[1], ids[3]}, docIDs(page.Items))
	page, err = f.docs.List(ctx, bob, ListOptions{Status: store.StatusReady})
	require.NoError(t, err)
	require.NotNil(t, page.Items)
	require.Empty(t, page.Items)

	_, err = f.docs.List(ctx, alice, ListOptions{Status: "done"})
	requireCode(t, err, CodeInvalid, "status")
	_, err = f.docs.List(ctx, alice, ListOptions{GroupID: "team"})
	requireCode(t, err, CodeInvalid, "group_id")
	_, err = f.docs.List(ctx, alice, ListOptions{Cursor: "not-a-cursor"})
	requireCode(t, err, CodeInvalid, "cursor")
}

func docIDs(docs []Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

func TestDeleteHidesAtOnceAndQueuesThePurgeOnce(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	team := f.group(t)
	alice := f.user(t, "alice", team)
	bob := f.user(t, "bob", team)
	d := f.upload(t, alice, UploadOptions{GroupID: team}, map[string]string{"gone.txt": "Soon gone."})[0]
	jobsBefore := len(f.outbox(t))

	// A team member may see it but not delete it.
	requireCode(t, f.docs.Delete(ctx, bob, d.ID), CodeNotFound, "")
	_, err := f.docs.Get(ctx, alice, d.ID)
	require.NoError(t, err)

	n := f.notified.Load()
	require.NoError(t, f.docs.Delete(ctx, alice, d.ID))
	require.Equal(t, n+1, f.notified.Load())
	for _, p := range []access.Principal{alice, bob} {
		_, err := f.docs.Get(ctx, p, d.ID)
		requireCode(t, err, CodeNotFound, "")
		page, err := f.docs.List(ctx, p, ListOptions{})
		require.NoError(t, err)
		require.Empty(t, page.Items)
	}
	jobs := f.outbox(t)
	require.Len(t, jobs, jobsBefore+1)
	last := jobs[len(jobs)-1]
	require.Equal(t, job.SubjectDelete, last.Subject)
	require.Equal(t, job.DeleteJob{DocumentID: d.ID}.MsgID(), last.MsgID)
	var dj job.DeleteJob
	require.NoError(t, job.Decode(last.Payload, &dj))
	require.Equal(t, job.DeleteJob{DocumentID: d.ID, OwnerID: alice.UserID}, dj)

	// Deleting again changes nothing and queues nothing.
	requireCode(t, f.docs.Delete(ctx, alice, d.ID), CodeNotFound, "")
	require.Len(t, f.outbox(t), jobsBefore+1)

	audit, err := f.store.ListAudit(ctx, store.AuditFilter{Action: "document.delete", Limit: 10})
	require.NoError(t, err)
	require.Len(t, audit, 1)
}

func TestPurgeUserDataQueuesEveryDocument(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	alice := f.user(t, "alice")
	docs := f.upload(t, alice, UploadOptions{}, map[string]string{"a.txt": "alpha text", "b.txt": "beta text"})
	require.NoError(t, f.docs.Delete(ctx, alice, docs[0].ID))

	require.NoError(t, f.docs.PurgeUserData(ctx, f.store, alice.UserID))
	page, err := f.docs.List(ctx, alice, ListOptions{})
	require.NoError(t, err)
	require.Empty(t, page.Items)
	deletes := map[string]bool{}
	for _, j := range f.outbox(t) {
		if j.Subject == job.SubjectDelete {
			deletes[j.MsgID] = true
		}
	}
	// The stream drops the repeated message id of the document deleted before.
	require.Equal(t, map[string]bool{job.DeleteJob{DocumentID: docs[0].ID}.MsgID(): true, job.DeleteJob{DocumentID: docs[1].ID}.MsgID(): true}, deletes)
}

func TestRetryOnlyFailedDocuments(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	team := f.group(t)
	alice := f.user(t, "alice", team)
	bob := f.user(t, "bob", team)
	d := f.upload(t, alice, UploadOptions{GroupID: team}, map[string]string{"x.txt": "retry me"})[0]

	_, err := f.docs.Retry(ctx, alice, d.ID)
	e := requireCode(t, err, CodeConflict, "")
	require.Contains(t, e.Message, "queued")

	failed := f.upload(t, alice, UploadOptions{GroupID: team}, map[string]string{"blank.txt": "  \n\t\n  "})[0]
	got := f.ingest(t, failed.ID)
	require.Equal(t, store.StatusFailed, got.Status)
	require.Equal(t, "empty", got.Error.Code)

	_, err = f.docs.Retry(ctx, bob, failed.ID)
	requireCode(t, err, CodeNotFound, "")

	n := f.notified.Load()
	again, err := f.docs.Retry(ctx, alice, failed.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusQueued, again.Status)
	require.Nil(t, again.Error)
	generation := f.row(t, again.ID).Generation
	require.Equal(t, got.Generation+1, generation)
	require.Equal(t, n+1, f.notified.Load())
	jobs := f.outbox(t)
	require.Equal(t, job.IngestJob{DocumentID: failed.ID, Generation: generation}.MsgID(), jobs[len(jobs)-1].MsgID,
		"a retry gets a new message id, so the stream does not drop it as a duplicate")

	// Queued again: a second retry is a conflict; a ready document too.
	_, err = f.docs.Retry(ctx, alice, failed.ID)
	requireCode(t, err, CodeConflict, "")
	ready := f.ingest(t, d.ID)
	require.Equal(t, store.StatusReady, ready.Status)
	_, err = f.docs.Retry(ctx, alice, d.ID)
	requireCode(t, err, CodeConflict, "")
}

func TestUpdateSharing(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	ctx := context.Background()
	team := f.group(t)
	other := f.group(t)
	alice := f.user(t, "alice", team, other)
	bob := f.user(t, "bob", team)
	d := f.upload(t, alice, UploadOptions{}, map[string]string{"plan.txt": "The plan."})[0]
	v0 := f.row(t, d.ID).ACLVersion

	strPtr := func(s string) *string { return &s }
	boolPtr := func(b bool) *bool { return &b }

	// Only the owner may change sharing, and only to a group of theirs.
	_, err := f.docs.UpdateSharing(ctx, bob, d.ID, SharingChange{GroupID: strPtr(team)})
	requireCode(t, err, CodeNotFound, "")
	stranger := f.group(t)
	_, err = f.docs.UpdateSharing(ctx, alice, d.ID, SharingChange{GroupID: strPtr(stranger)})
	requireCode(t, err, CodeNotFound, "group_id")

	// Share with the team: Bob sees it at once, and an ACL job carries the new version.
	got, err := f.docs.UpdateSharing(ctx, alice, d.ID, SharingChange{GroupID: strPtr(team)})
	require.NoError(t, err)
	require.Equal(t, team, *got.GroupID)
	require.False(t, got.Private)
	require.Equal(t, v0+1, f.row(t, got.ID).ACLVersion)
	_, err = f.docs.Get(ctx, bob, d.ID)
	require.NoError(t, err)
	requireACLJob(t, f, d.ID, v0+1)

	// Make it private (group kept): Bob loses it at once.
	got, err = f.docs.UpdateSharing(ctx, alice, d.ID, SharingChange{Private: boolPtr(true)})
	require.NoError(t, err)
	require.Equal(t, team, *got.GroupID)
	require.True(t, got.Private)
	requireACLJob(t, f, d.ID, v0+2)
	_, err = f.docs.Get(ctx, bob, d.ID)
	requireCode(t, err, CodeNotFound, "")

	// Bob never sees its owner-only features even when it is shared again.
	got, err = f.docs.UpdateSharing(ctx, alice, d.ID, SharingChange{GroupID: strPtr(other), Private: boolPtr(false)})
	require.NoError(t, err)
	require.Equal(t, other, *got.GroupID)
	requireACLJob(t, f, d.ID, v0+3)
	_, err = f.docs.Get(ctx, bob, d.ID)
	requireCode(t, err, CodeNotFound, "")

	// Unshare.
	got, err = f.docs.UpdateSharing(ctx, alice, d.ID, SharingChange{GroupID: strPtr("")})
	require.NoError(t, err)
	require.Nil(t, got.GroupID)
	requireACLJob(t, f, d.ID, v0+4)

	audit, err := f.store.ListAudit(ctx, store.AuditFilter{Action: "document.share", Limit: 10})
	require.NoError(t, err)
	require.Len(t, audit, 4)
}

func requireACLJob(t *testing.T, f *docsFixture, docID string, version int64) {
	t.Helper()
	jobs := f.outbox(t)
	last := jobs[len(jobs)-1]
	require.Equal(t, job.SubjectACL, last.Subject)
	require.Equal(t, job.ACLJob{DocumentID: docID, Version: version}.MsgID(), last.MsgID)
	var aj job.ACLJob
	require.NoError(t, job.Decode(last.Payload, &aj))
	require.Equal(t, job.ACLJob{DocumentID: docID, Version: version}, aj)
}

// A body that breaks off is the client's 400 with a plain message: the reader's
// own text (network or multipart internals) stays out of it.
func TestStageKeepsReadErrorsOutOfTheMessage(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	broken := io.MultiReader(strings.NewReader("the first bytes"), iotest.ErrReader(errors.New("read tcp 10.0.0.7:443: connection reset by peer")))
	_, err := f.docs.Stage(context.Background(), "cut.txt", broken)
	e := requireCode(t, err, CodeInvalid, "")
	require.NotContains(t, e.Message, "10.0.0.7")
	require.ErrorContains(t, err, "connection reset", "the cause stays wrapped for the log")
}
