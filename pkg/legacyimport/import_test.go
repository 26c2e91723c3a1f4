package legacyimport

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/legacyimport/legacytest"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// standardCounts is what the Standard deployment holds to import.
var standardCounts = Counts{Users: 4, LegacyKeys: 3, Groups: 2, Memberships: 4, Sessions: 3, Messages: 8, Turns: 3,
	Documents: 5, FromFiles: 1, FromText: 4, Chunks: 6}

func requireProblem(t *testing.T, rep *Report, object string, id int64, text string) {
	t.Helper()
	for _, p := range rep.Problems {
		if p.Object == object && p.ID == id && strings.Contains(p.Text, text) {
			return
		}
	}
	t.Fatalf("no problem of %s %d saying %q among:\n%v", object, id, text, rep.Problems)
}

func TestDryRunReportsEverythingAndWritesNothing(t *testing.T) {
	t.Parallel()
	s := legacytest.NewStandard(t)
	r := newRig(t)
	opts := options(s)
	opts.DryRun = true
	rep, err := Run(context.Background(), opts, Target{Store: r.st})
	require.NoError(t, err)
	require.True(t, rep.DryRun)
	require.Equal(t, standardCounts, rep.ToImport)
	require.Equal(t, Counts{}, rep.Already)
	require.Equal(t, MessageCounts{Decrypted: 7, Plain: 1, OtherRole: 1}, rep.Messages)
	require.Equal(t, 13, rep.Points)
	require.Equal(t, map[string]int64{"tool_runs": 1, "ingestion_runs": 1, "audit_logs": 0}, rep.History)
	require.Empty(t, rep.Blocking)

	requireProblem(t, rep, "user", s.Carol, `imported as "carol-smith"`)
	requireProblem(t, rep, "user", s.Dave, "had no API key")
	requireProblem(t, rep, "group", s.Sales, "its longest-standing member, user")
	requireProblem(t, rep, "group", s.OldProject, "has no members")
	requireProblem(t, rep, "document", s.Archive, "goes to its owner's personal group")
	requireProblem(t, rep, "document", s.Notes, "4 points of an earlier ingestion")
	requireProblem(t, rep, "document", s.Lost, "not imported")
	requireProblem(t, rep, "session", s.SessionTool, `role "tool"`)
	requireProblem(t, rep, "collection", 0, "1 points belong to no legacy document")
	for _, p := range rep.Problems {
		require.NotContains(t, p.Text, s.AliceKey, "no key is ever shown")
	}

	var out strings.Builder
	_, err = rep.WriteTo(&out)
	require.NoError(t, err)
	require.Contains(t, out.String(), "A real run would import")
	require.Contains(t, out.String(), "users:       4 (3 with their legacy API key)")
	require.NotContains(t, out.String(), s.AliceKey)

	for _, table := range []string{"users", "groups", "chat_sessions", "documents", "legacy_import_map", "legacy_credentials", "reindex_jobs"} {
		require.Zero(t, r.count("SELECT count(*) FROM "+table), "a dry run writes nothing to %s", table)
	}
}

func TestImportEndToEnd(t *testing.T) {
	t.Parallel()
	s := legacytest.NewStandard(t)
	r := newRig(t)
	ctx := context.Background()
	var phases []string
	target := r.target()
	target.Progress = func(p Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	}
	rep, err := Run(ctx, options(s), target)
	require.NoError(t, err)
	require.Equal(t, standardCounts, rep.ToImport)
	require.Equal(t, []string{PhaseUsers, PhaseGroups, PhaseChats, PhaseDocuments, PhaseIngesting, PhaseGroupMigration, PhaseDone}, phases)
	job, err := r.st.GetReindexJob(ctx, rep.JobID)
	require.NoError(t, err)
	require.Equal(t, store.KindLegacyImport, job.Kind)
	require.Equal(t, store.JobCompleted, job.Status)
	require.Equal(t, store.JobProgress{Total: 14, Done: 14}, job.Progress)
	require.EqualValues(t, 4, job.Result["users"])
	require.EqualValues(t, 1, job.Result["documents_from_files"])
	require.EqualValues(t, 4, job.Result["documents_from_text"])
	require.NotContains(t, job.Params["source"], "password", "the source is recorded without credentials")
	gm, err := r.st.GetReindexJob(ctx, rep.GroupMigrationJobID)
	require.NoError(t, err)
	require.Equal(t, store.KindGroupMigration, gm.Kind)
	require.Equal(t, store.JobCompleted, gm.Status)

	// Users: names fitted to the rules, the admin flag kept.
	alice, bob, carol, dave := r.principal(s.Alice), r.principal(s.Bob), r.principal(s.Carol), r.principal(s.Dave)
	require.Equal(t, "alice", alice.Name)
	require.True(t, alice.IsAdmin)
	require.Equal(t, "carol-smith", carol.Name)
	require.False(t, bob.IsAdmin || carol.IsAdmin || dave.IsAdmin)

	// Groups, roles kept, the last-admin rule respected; the group without members
	// is not there.
	eng, sales := r.id(store.LegacyGroup, s.Engineering), r.id(store.LegacyGroup, s.Sales)
	members := func(gid string) map[string]string {
		ms, err := r.st.Members(ctx, gid)
		require.NoError(t, err)
		out := map[string]string{}
		for _, m := range ms {
			out[m.Name] = m.Role
		}
		return out
	}
	require.Equal(t, map[string]string{"alice": "admin", "bob": "member"}, members(eng))
	require.Equal(t, map[string]string{"carol-smith": "admin", "dave": "member"}, members(sales))
	require.Zero(t, r.count(`SELECT count(*) FROM groups WHERE name = 'Old project'`))

	// Chats: both sessions with the same external_id, messages decrypted in order,
	// each question with its answer a completed turn with the session's model.
	chats := r.app.Services.Chat
	sessions, err := chats.ListSessions(ctx, alice, 50, "")
	require.NoError(t, err)
	require.Len(t, sessions.Items, 2)
	detail, err := chats.GetSession(ctx, alice, r.id(store.LegacySession, s.SessionAlice))
	require.NoError(t, err)
	require.Equal(t, "Quarterly numbers", detail.Session.Title)
	var texts []string
	for _, m := range detail.Messages {
		texts = append(texts, m.Content)
		require.NotNil(t, m.TurnID)
	}
	require.Equal(t, legacytest.AliceChat, texts)
	turn, err := chats.GetTurn(ctx, alice, *detail.Messages[1].TurnID)
	require.NoError(t, err)
	require.Equal(t, store.TurnCompleted, turn.Status)
	require.Equal(t, "llama3.1", turn.Model)
	require.Equal(t, legacytest.AliceChat[1], *turn.Answer)
	require.NotNil(t, turn.Usage)
	require.Equal(t, 42, turn.Usage.PromptTokens)
	bobChat, err := chats.GetSession(ctx, bob, r.id(store.LegacySession, s.SessionBob))
	require.NoError(t, err)
	require.Len(t, bobChat.Messages, 2)
	require.Equal(t, "Welcome, Bob.", bobChat.Messages[0].Content)
	require.Nil(t, bobChat.Messages[0].TurnID, "an answer without a question is a message on its own")
	_, err = chats.GetSession(ctx, alice, r.id(store.LegacySession, s.SessionBob))
	require.Equal(t, service.CodeNotFound, service.ErrorCode(err), "alice does not see bob's chat")

	// Documents: the file re-ingested, the others rebuilt from text; groups, privacy
	// and tags kept; ungrouped ones in their owners' personal groups.
	handbook := r.waitReady(r.id(store.LegacyDocument, s.Handbook))
	require.True(t, handbook.OriginalAvailable)
	require.Equal(t, eng, *handbook.GroupID)
	require.ElementsMatch(t, []string{"hr", "policy"}, handbook.Tags)
	require.Equal(t, "handbook.txt", handbook.Filename)
	notes := r.waitReady(r.id(store.LegacyDocument, s.Notes))
	require.False(t, notes.OriginalAvailable)
	require.Equal(t, 3, notes.ChunkCount, "the stale points of an earlier ingestion are left out")
	personal, err := r.st.PersonalGroupOf(ctx, alice.UserID)
	require.NoError(t, err)
	require.Equal(t, personal, *notes.GroupID, "a document without a group lands in its owner's personal group")
	salaries := r.waitReady(r.id(store.LegacyDocument, s.Salaries))
	require.True(t, salaries.Private)
	require.Equal(t, eng, *salaries.GroupID)
	archive := r.waitReady(r.id(store.LegacyDocument, s.Archive))
	bobPersonal, err := r.st.PersonalGroupOf(ctx, bob.UserID)
	require.NoError(t, err)
	require.Equal(t, bobPersonal, *archive.GroupID)
	pipeline := r.waitReady(r.id(store.LegacyDocument, s.Pipeline))
	require.Equal(t, sales, *pipeline.GroupID)
	_, err = r.st.LegacyTarget(ctx, store.LegacyDocument, s.Lost)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, _, err = r.app.Services.Documents.Content(ctx, alice, notes.ID)
	require.Equal(t, service.CodeOriginalUnavailable, service.ErrorCode(err))

	// The owner's export holds the recovered text where there is no original file.
	var zipped bytes.Buffer
	require.NoError(t, r.app.Services.Data.Export(ctx, alice, "", &zipped))
	zr, err := zip.NewReader(bytes.NewReader(zipped.Bytes()), int64(zipped.Len()))
	require.NoError(t, err)
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		files[f.Name] = string(b)
	}
	require.Contains(t, files["documents/"+notes.ID+"-notes.md.recovered.txt"], "The "+legacytest.NotesWord+" launch moves to May.")
	require.Contains(t, files["documents/"+handbook.ID+"-handbook.txt"], "Employee handbook.")

	// The payloads carry the group ids the group migration wrote.
	points, _, err := r.vs.Scroll(ctx, index.Alias, vector.MatchDocument(notes.ID), vector.ScrollOptions{})
	require.NoError(t, err)
	require.Len(t, points, 3)
	for _, p := range points {
		require.Equal(t, personal, p.Payload.GroupID)
		require.Equal(t, alice.UserID, p.Payload.OwnerID)
	}

	// Search finds imported chunks, each only for who may see it.
	bob, alice = r.principal(s.Bob), r.principal(s.Alice) // with their personal groups
	require.Equal(t, []string{notes.ID}, r.searchDocs(alice, legacytest.NotesWord))
	require.Equal(t, []string{handbook.ID}, r.searchDocs(bob, legacytest.HandbookWord))
	require.Empty(t, r.searchDocs(bob, legacytest.NotesWord), "alice's ungrouped notes stay hers")
	require.Equal(t, []string{salaries.ID}, r.searchDocs(bob, legacytest.SalariesWord))
	require.Empty(t, r.searchDocs(alice, legacytest.SalariesWord), "bob's private document stays his")
	require.Empty(t, r.searchDocs(alice, legacytest.PipelineWord))
	require.Equal(t, []string{pipeline.ID}, r.searchDocs(r.principal(s.Dave), legacytest.PipelineWord))

	// A second run imports nothing.
	again, err := Run(ctx, options(s), r.target())
	require.NoError(t, err)
	require.Equal(t, Counts{}, again.ToImport)
	require.Equal(t, Counts{Users: 4, Groups: 2, Sessions: 3, Documents: 5}, again.Already)
	require.Equal(t, 4, r.count(`SELECT count(*) FROM users`))
	require.Equal(t, 3, r.count(`SELECT count(*) FROM chat_sessions`))
	require.Equal(t, 5, r.count(`SELECT count(*) FROM documents`))
}

func TestLegacyKeysWorkAndAreUpgradedAtFirstUse(t *testing.T) {
	t.Parallel()
	s := legacytest.NewStandard(t)
	r := newRig(t)
	ctx := context.Background()
	_, err := Run(ctx, options(s), r.target())
	require.NoError(t, err)
	users := r.app.Services.Users
	aliceID := r.id(store.LegacyUser, s.Alice)
	require.Equal(t, 3, r.count(`SELECT count(*) FROM legacy_credentials`))
	require.Zero(t, r.count(`SELECT count(*) FROM api_keys`), "no key of the current format exists before the first use")

	p, err := users.Authenticate(ctx, s.AliceKey)
	require.NoError(t, err)
	require.Equal(t, aliceID, p.UserID)
	require.True(t, p.IsAdmin)
	require.NotEmpty(t, p.KeyID)
	require.Zero(t, r.count(`SELECT count(*) FROM legacy_credentials WHERE user_id = $1`, aliceID), "the legacy hash is replaced")
	keys, err := users.Keys(ctx, p)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, s.AliceKey[:12], keys[0].Prefix)
	require.Equal(t, service.LegacyKeyName, keys[0].Name)
	require.Equal(t, 1, r.count(`SELECT count(*) FROM audit_log WHERE action = 'key.legacy_upgrade' AND actor_id = $1`, aliceID))
	again, err := users.Authenticate(ctx, s.AliceKey)
	require.NoError(t, err)
	require.Equal(t, p.KeyID, again.KeyID, "from now on it is an ordinary key")
	require.Equal(t, 1, r.count(`SELECT count(*) FROM audit_log WHERE action = 'key.legacy_upgrade'`))

	// A key too short for a lookup prefix keeps working as a legacy credential.
	carol, err := users.Authenticate(ctx, s.CarolKey)
	require.NoError(t, err)
	require.Equal(t, r.id(store.LegacyUser, s.Carol), carol.UserID)
	require.Equal(t, 1, r.count(`SELECT count(*) FROM legacy_credentials WHERE user_id = $1`, carol.UserID))

	for _, bad := range []string{"", s.AliceKey + "x", "alice-legacy-key-0123456789abcdeX", "carol-pX"} {
		_, err := users.Authenticate(ctx, bad)
		require.Equal(t, service.CodeUnauthenticated, service.ErrorCode(err), "%q", bad)
	}
	// Rotating carol's keys ends her legacy key too.
	_, err = users.RotateKeys(ctx, "carol-smith")
	require.NoError(t, err)
	_, err = users.Authenticate(ctx, s.CarolKey)
	require.Equal(t, service.CodeUnauthenticated, service.ErrorCode(err))
	// Bob's key works once more after alice's upgrade: each key is its own.
	_, err = users.Authenticate(ctx, s.BobKey)
	require.NoError(t, err)
}

func TestImportResumesAfterACrashAndImportsNothingTwice(t *testing.T) {
	t.Parallel()
	s := legacytest.NewStandard(t)
	r := newRig(t)
	ctx := context.Background()
	units := 0
	crashAt := 7 // 4 users, 2 groups, then the first session
	_, err := runWith(ctx, options(s), r.target(), func(string) error {
		if units++; units == crashAt {
			return errCrash
		}
		return nil
	})
	require.ErrorIs(t, err, errCrash)
	require.Equal(t, 4, r.count(`SELECT count(*) FROM users`))
	require.Equal(t, 1, r.count(`SELECT count(*) FROM chat_sessions`))
	require.Equal(t, 1, r.count(`SELECT count(*) FROM reindex_jobs WHERE kind = 'legacy-import' AND status = 'failed'`))

	// A crashed process leaves its job running: the next run takes it over.
	stale, err := r.st.CreateReindexJob(ctx, store.KindLegacyImport, map[string]any{"fingerprint": mustFingerprint(t, s)}, nil)
	require.NoError(t, err)
	_, _, err = r.st.ClaimReindexJob(ctx, stale.ID)
	require.NoError(t, err)

	rep, err := Run(ctx, options(s), r.target())
	require.NoError(t, err)
	require.Equal(t, stale.ID, rep.JobID)
	require.Equal(t, Counts{Users: 4, Groups: 2, Sessions: 1}, rep.Already)
	require.Equal(t, Counts{Sessions: 2, Messages: 4, Turns: 1, Documents: 5, FromFiles: 1, FromText: 4, Chunks: 6}, rep.ToImport)
	job, err := r.st.GetReindexJob(ctx, stale.ID)
	require.NoError(t, err)
	require.Equal(t, store.JobCompleted, job.Status)
	require.Equal(t, store.JobProgress{Total: 14, Done: 14}, job.Progress)

	// Exactly one of everything.
	require.Equal(t, 4, r.count(`SELECT count(*) FROM users`))
	require.Equal(t, 3, r.count(`SELECT count(*) FROM legacy_import_map WHERE kind = 'session'`))
	require.Equal(t, 3, r.count(`SELECT count(*) FROM chat_sessions`))
	require.Equal(t, 8, r.count(`SELECT count(*) FROM messages`))
	require.Equal(t, 3, r.count(`SELECT count(*) FROM turns`))
	require.Equal(t, 5, r.count(`SELECT count(*) FROM documents`))
	require.Equal(t, 4, r.count(`SELECT count(*) FROM memberships m JOIN legacy_import_map l ON l.kind = 'group' AND l.target_id = m.group_id`))
	for _, legacy := range []int64{s.Handbook, s.Notes, s.Salaries, s.Pipeline, s.Archive} {
		doc := r.waitReady(r.id(store.LegacyDocument, legacy))
		n, err := r.vs.Count(ctx, index.Alias, vector.MatchDocument(doc.ID))
		require.NoError(t, err)
		require.EqualValues(t, doc.ChunkCount, n, "one point per chunk of %s", doc.Filename)
	}
}

func mustFingerprint(t *testing.T, s *legacytest.Standard) string {
	t.Helper()
	src, err := openSource(context.Background(), s.DBURL)
	require.NoError(t, err)
	defer src.close()
	fp, err := src.fingerprint(context.Background())
	require.NoError(t, err)
	return fp
}

func TestADocumentLeftHalfImportedIsFinished(t *testing.T) {
	t.Parallel()
	s := legacytest.NewStandard(t)
	r := newRig(t)
	ctx := context.Background()
	_, err := Run(ctx, options(s), r.target())
	require.NoError(t, err)
	// A run that stopped between recording a document and indexing it.
	notes := r.id(store.LegacyDocument, s.Notes)
	_, err = r.pool.Exec(ctx, `UPDATE documents SET status = 'processing', stage = 'embedding', ready_at = NULL WHERE id = $1`, notes)
	require.NoError(t, err)
	require.NoError(t, r.vs.DeleteByFilter(ctx, index.Alias, vector.MatchDocument(notes)))

	rep, err := Run(ctx, options(s), r.target())
	require.NoError(t, err)
	require.Equal(t, Counts{}, rep.ToImport)
	doc := r.waitReady(notes)
	require.Equal(t, 3, doc.ChunkCount)
	require.Equal(t, []string{notes}, r.searchDocs(r.principal(s.Alice), legacytest.NotesWord))
}

func TestCancelStopsTheImportAndTheNextRunGoesOn(t *testing.T) {
	t.Parallel()
	s := legacytest.NewStandard(t)
	r := newRig(t)
	ctx := context.Background()
	var jobID string
	target := r.target()
	target.Progress = func(p Progress) { jobID = p.Job.ID }
	units := 0
	rep, err := runWith(ctx, options(s), target, func(string) error {
		if units++; units == 2 {
			_, err := r.app.Services.Reindex.Cancel(ctx, access.System, jobID)
			require.NoError(t, err)
		}
		return nil
	})
	require.ErrorIs(t, err, ErrCancelled)
	job, err := r.st.GetReindexJob(ctx, rep.JobID)
	require.NoError(t, err)
	require.Equal(t, store.JobCancelled, job.Status)
	require.Equal(t, 2, r.count(`SELECT count(*) FROM users`), "it stopped at the next row")

	// A job a crashed run left running, cancelled since: the next run ends it and
	// goes on with a job of its own.
	stale, err := r.st.CreateReindexJob(ctx, store.KindLegacyImport, map[string]any{"fingerprint": mustFingerprint(t, s)}, nil)
	require.NoError(t, err)
	_, _, err = r.st.ClaimReindexJob(ctx, stale.ID)
	require.NoError(t, err)
	_, err = r.st.RequestReindexCancel(ctx, stale.ID)
	require.NoError(t, err)

	rep, err = Run(ctx, options(s), r.target())
	require.NoError(t, err)
	require.NotEqual(t, stale.ID, rep.JobID)
	require.Equal(t, 2, rep.Already.Users)
	require.Equal(t, 4, r.count(`SELECT count(*) FROM users`))
	stale, err = r.st.GetReindexJob(ctx, stale.ID)
	require.NoError(t, err)
	require.Equal(t, store.JobCancelled, stale.Status)
}

func TestWrongMessageSecretBlocksTheRun(t *testing.T) {
	t.Parallel()
	s := legacytest.NewStandard(t)
	r := newRig(t)
	ctx := context.Background()
	opts := options(s)
	opts.MessageSecrets = []string{"not-the-secret"}
	opts.DryRun = true
	rep, err := Run(ctx, opts, Target{Store: r.st})
	require.NoError(t, err)
	require.Equal(t, 7, rep.Messages.Undecryptable)
	require.Len(t, rep.Blocking, 1)
	require.Contains(t, rep.Blocking[0], "7 messages do not decrypt")

	opts.DryRun = false
	_, err = Run(ctx, opts, r.target())
	require.ErrorIs(t, err, ErrBlocked)
	require.Zero(t, r.count(`SELECT count(*) FROM users`))

	// An older secret given too opens them: a deployment whose secret changed.
	opts.MessageSecrets = []string{"not-the-secret", legacytest.Secret}
	opts.DryRun = true
	rep, err = Run(ctx, opts, Target{Store: r.st})
	require.NoError(t, err)
	require.Zero(t, rep.Messages.Undecryptable)

	// Or the operator imports them as a placeholder.
	opts = options(s)
	opts.MessageSecrets = nil
	opts.AllowUndecryptable = true
	_, err = Run(ctx, opts, r.target())
	require.NoError(t, err)
	require.Equal(t, 7, r.count(`SELECT count(*) FROM messages WHERE content = $1`, undecryptablePlaceholder))
	require.Equal(t, 1, r.count(`SELECT count(*) FROM messages WHERE content = $1`, legacytest.AliceChat[2]), "plain text needs no secret")
}

func TestAnotherDeploymentIsRefused(t *testing.T) {
	t.Parallel()
	s := legacytest.NewStandard(t)
	r := newRig(t)
	ctx := context.Background()
	_, err := Run(ctx, options(s), r.target())
	require.NoError(t, err)
	other := legacytest.NewStandard(t)
	other.Exec(`UPDATE users SET username = 'someone-else' WHERE id = $1`, other.Alice)
	_, err = Run(ctx, options(other), r.target())
	require.ErrorIs(t, err, ErrBlocked)
	require.True(t, errors.Is(err, ErrBlocked))
	require.Contains(t, err.Error(), "another legacy deployment")
}

func TestAReingestedFileThatFailsIsReported(t *testing.T) {
	t.Parallel()
	d := legacytest.New(t)
	u := d.User("erin", false, "erin-legacy-key-0123456789abcdef")
	d.Document(legacytest.Doc{User: u, Name: "empty.txt", MIME: "text/plain", File: []byte{}})
	r := newRig(t)
	rep, err := Run(context.Background(), Options{DB: d.DBURL, Qdrant: d.QdrantURL, Uploads: d.Uploads}, r.target())
	require.NoError(t, err)
	require.Equal(t, 1, rep.ToImport.FromFiles)
	requireProblem(t, rep, "document", 0, "1 re-ingested files failed to process")
	job, err := r.st.GetReindexJob(context.Background(), rep.JobID)
	require.NoError(t, err)
	require.Equal(t, store.JobCompleted, job.Status)
	require.EqualValues(t, 1, job.Result["documents_failed"])
}
