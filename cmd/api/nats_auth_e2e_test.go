package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/natsperm"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/qdrantlite"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/vector/vectortest"
	"github.com/youworker/youworker/pkg/worker"
)

// natsUsers runs a NATS server whose only users are natsperm's, one per
// program, with random passwords, and returns its URL and the passwords.
func natsUsers(t *testing.T) (string, map[string]string) {
	t.Helper()
	passwords := map[string]string{}
	for _, program := range natsperm.Programs {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		passwords[program] = hex.EncodeToString(b)
	}
	conf, err := natsperm.Authorization(passwords)
	require.NoError(t, err)
	return queuetest.StartWithConfig(t, conf), passwords
}

// TestProgramsRunWithLeastPrivilegeNATSUsers runs the four programs as separate
// processes, each as its own NATS user with only natsperm's permissions (and with
// the vector store's API key), and drives what users do through them: an upload
// ingested, read back and deleted, a refused job dead-lettered, a chat turn
// streamed through the model queue and one cancelled while it runs, an ACL
// re-index. No program may hit a permission it lacks along the way.
func TestProgramsRunWithLeastPrivilegeNATSUsers(t *testing.T) {
	t.Parallel()
	url, passwords := natsUsers(t)
	_, dbURL := pgtest.NewDB(t)
	// The vector store demands its API key, as Qdrant with QDRANT__SERVICE__API_KEY does.
	qdrantKey := "qdrant-api-key-for-nats-auth-e2e"
	lite, err := qdrantlite.Start(context.Background(), qdrantlite.Config{Dir: t.TempDir(), Addr: "127.0.0.1:0", APIKey: qdrantKey}, vectortest.Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = lite.Close() })
	model := llmtest.New(t)
	admin := "bootstrap-admin-key-for-nats-auth-e2e"
	envOf := func(program string) map[string]string {
		return map[string]string{
			"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0", "YW_DATA_DIR": t.TempDir(),
			"YW_NATS_URL": url, "YW_NATS_USER": program, "YW_NATS_PASSWORD": passwords[program],
			"YW_QDRANT_URL": "http://" + lite.Addr(), "YW_QDRANT_API_KEY": qdrantKey, "YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "info",
			"YW_OLLAMA_URL": model.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_EMBED_MODEL": llmtest.EmbedModel,
		}
	}
	var (
		mu   sync.Mutex
		logs []*lineWriter // every program's stderr
	)
	record := func(w *lineWriter) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, w)
	}
	base := startProgram(t, `listening on (http://\S+)`, func(ctx context.Context, stdout, stderr *lineWriter) int {
		record(stderr)
		return run(ctx, nil, getenv(envOf(natsperm.API)), stdout, stderr)
	})
	for program, opts := range map[string]app.Options{
		natsperm.IngestWorker: app.IngestWorkerOptions, natsperm.AgentWorker: app.AgentWorkerOptions, natsperm.Reindexer: app.ReindexerOptions,
	} {
		startProgram(t, `probes on (http://\S+)`, func(ctx context.Context, stdout, stderr *lineWriter) int {
			record(stderr)
			return worker.Main(ctx, opts, getenv(envOf(program)), stdout, stderr)
		})
	}

	c := apitest.NewClient(t, base)
	var up struct {
		Documents []document `json:"documents"`
	}
	c.Upload("/v1/documents", admin, []apitest.File{{Name: "notes.md", Data: []byte("# Notes\n\nThe quarterly review is on Thursday in the blue room.\n")}}, nil, http.StatusAccepted, &up)
	doc := waitFor(t, c, admin, up.Documents[0].ID)
	require.Equal(t, "ready", doc.Status, "the ingest worker read the upload: %v", doc.Error)
	content := c.Do("GET", "/v1/documents/"+doc.ID+"/content", admin, nil, http.StatusOK, nil)
	require.Contains(t, content.Body, "blue room", "the API reads the upload back")

	// A job the ingest worker must refuse is dead-lettered by it: a delete job for a
	// document that is not deleted (under a message id of its own, so the real
	// delete job below is not dropped as its duplicate).
	nc, _ := asUser(t, url, natsperm.API, passwords[natsperm.API])
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	payload, err := job.Encode(job.DeleteJob{DocumentID: doc.ID})
	require.NoError(t, err)
	require.NoError(t, queue.NewPublisher(js, nil).Publish(ctx, job.SubjectDelete, "premature-delete:"+doc.ID, payload, nil))
	dlq, err := js.Stream(ctx, queue.StreamDLQ)
	require.NoError(t, err)
	for {
		info, err := dlq.Info(ctx)
		require.NoError(t, err)
		if info.State.Msgs == 1 {
			break
		}
		require.NoError(t, ctx.Err(), "the refused job was not dead-lettered")
		time.Sleep(50 * time.Millisecond)
	}

	var sess struct {
		ID string `json:"id"`
	}
	c.Do("POST", "/v1/chat/sessions", admin, map[string]any{"title": "review"}, http.StatusCreated, &sess)
	var posted struct {
		Turn struct {
			ID string `json:"id"`
		} `json:"turn"`
	}
	model.Reply(llmtest.Text("In the ", "blue room."))
	c.Do("POST", "/v1/chat/sessions/"+sess.ID+"/messages", admin, map[string]any{"content": "Where is the quarterly review?"}, http.StatusAccepted, &posted)
	events := readEvents(t, base, admin, posted.Turn.ID, 0, 0)
	require.NotEmpty(t, events)
	require.Equal(t, "turn.completed", events[len(events)-1].Type, "the agent worker's events reach the API")
	require.Equal(t, "In the blue room.", tokensOf(events))

	// The API tells the agent worker running a turn to stop.
	model.Reply(llmtest.Script{Tokens: []string{"thinking"}, Stall: true})
	asked := len(model.ChatRequests())
	c.Do("POST", "/v1/chat/sessions/"+sess.ID+"/messages", admin, map[string]any{"content": "And the one after?"}, http.StatusAccepted, &posted)
	deadline := time.Now().Add(30 * time.Second)
	for len(model.ChatRequests()) == asked {
		require.True(t, time.Now().Before(deadline), "the second turn never reached the model")
		time.Sleep(20 * time.Millisecond)
	}
	c.Do("POST", "/v1/chat/turns/"+posted.Turn.ID+"/cancel", admin, nil, http.StatusAccepted, nil)
	events = readEvents(t, base, admin, posted.Turn.ID, 0, 0)
	require.Equal(t, "turn.cancelled", events[len(events)-1].Type)

	var reindexJob struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	c.Do("POST", "/v1/admin/reindex", admin, map[string]any{"kind": "acl-sync"}, http.StatusAccepted, &reindexJob)
	deadline = time.Now().Add(60 * time.Second)
	for reindexJob.Status != "completed" {
		require.NotEqual(t, "failed", reindexJob.Status)
		require.True(t, time.Now().Before(deadline), "re-index job still %s", reindexJob.Status)
		time.Sleep(50 * time.Millisecond)
		c.Do("GET", "/v1/admin/reindex/"+reindexJob.ID, admin, nil, http.StatusOK, &reindexJob)
	}

	// The delete job reaches the ingest worker, which removes the stored file.
	c.Do("DELETE", "/v1/documents/"+doc.ID, admin, nil, http.StatusAccepted, nil)
	objects, err := queue.NewObjects(ctx, js)
	require.NoError(t, err)
	for {
		_, err := objects.Info(ctx, "documents/"+doc.ID)
		if errors.Is(err, queue.ErrObjectNotFound) {
			break
		}
		require.NoError(t, err)
		require.NoError(t, ctx.Err(), "the deleted document's file is still stored")
		time.Sleep(50 * time.Millisecond)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, l := range logs {
		require.NotContains(t, strings.ToLower(l.String()), "permissions violation", "a program was refused a permission it needs")
	}
}

// asUser connects as a program's NATS user and returns the connection and
// every asynchronous error the server sends it (the permission violations).
func asUser(t *testing.T, url, user, password string) (*nats.Conn, <-chan error) {
	t.Helper()
	errs := make(chan error, 64)
	nc, err := nats.Connect(url, nats.UserInfo(user, password), nats.MaxReconnects(0),
		nats.CustomInboxPrefix(natsperm.InboxPrefix(user)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc, errs
}

// requireDenied requires the server to refuse what act does with a permission
// violation naming subject.
func requireDenied(t *testing.T, nc *nats.Conn, errs <-chan error, subject string, act func()) {
	t.Helper()
	act()
	_ = nc.Flush()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case err := <-errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
				return
			}
		case <-timeout:
			t.Fatalf("%s was not refused", subject)
		}
	}
}

// TestNATSUsersMayDoOnlyTheirProgramsWork: a program taken over can do only
// what that program does, and a client without a program's credentials
// nothing at all.
func TestNATSUsersMayDoOnlyTheirProgramsWork(t *testing.T) {
	t.Parallel()
	url, passwords := natsUsers(t)
	apiConn, _ := asUser(t, url, natsperm.API, passwords[natsperm.API])
	apiJS, err := jetstream.New(apiConn)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, queue.Setup(ctx, apiJS, queue.Config{}), "the api user declares the queue")
	objects, err := queue.NewObjects(ctx, apiJS)
	require.NoError(t, err)
	_, err = objects.Put(ctx, "secret.txt", strings.NewReader("the merger closes on Friday"))
	require.NoError(t, err)

	for _, refused := range []struct{ user, password string }{
		{"intruder", "guess"}, {natsperm.AgentWorker, passwords[natsperm.IngestWorker]}, {"", ""},
	} {
		opts := []nats.Option{nats.MaxReconnects(0)}
		if refused.user != "" {
			opts = append(opts, nats.UserInfo(refused.user, refused.password))
		}
		_, err := nats.Connect(url, opts...)
		require.ErrorIs(t, err, nats.ErrAuthorization, "user %q", refused.user)
	}

	// The start of a program with a wrong password stops at once and says what to check.
	_, dbURL := pgtest.NewDB(t)
	out, errOut := newLineWriter(`(never)`), newLineWriter(`(never)`)
	code := worker.Main(ctx, app.AgentWorkerOptions, getenv(map[string]string{
		"YW_DATABASE_URL": dbURL, "YW_NATS_URL": url, "YW_NATS_USER": natsperm.AgentWorker, "YW_NATS_PASSWORD": "wrong",
		"YW_QDRANT_URL": "http://127.0.0.1:1", "YW_HTTP_ADDR": "127.0.0.1:0", "YW_DATA_DIR": t.TempDir(),
	}), out, errOut)
	require.Equal(t, 1, code)
	require.Contains(t, errOut.String(), "YW_NATS_PASSWORD")

	// The API started with a worker's credentials cannot declare the queue, and says so.
	out, errOut = newLineWriter(`(never)`), newLineWriter(`(never)`)
	// The server drops refused requests: they end when the start's context does.
	start, cancelStart := context.WithTimeout(ctx, 3*time.Second)
	defer cancelStart()
	code = run(start, nil, getenv(map[string]string{
		"YW_DATABASE_URL": dbURL, "YW_NATS_URL": url, "YW_NATS_USER": natsperm.IngestWorker, "YW_NATS_PASSWORD": passwords[natsperm.IngestWorker],
		"YW_QDRANT_URL": "http://127.0.0.1:1", "YW_HTTP_ADDR": "127.0.0.1:0", "YW_DATA_DIR": t.TempDir(),
	}), out, errOut)
	require.Equal(t, 1, code)
	require.Contains(t, errOut.String(), "only the api's NATS user may declare the streams")

	agent, agentErrs := asUser(t, url, natsperm.AgentWorker, passwords[natsperm.AgentWorker])
	agentJS, err := jetstream.New(agent)
	require.NoError(t, err)
	// A retried chat job reads its turn's last event, to publish an end that
	// never reached the log: allowed, and answered rather than left hanging.
	apiTurns := queue.NewTurns(apiJS, nil, logging.Discard())
	_, err = apiTurns.PublishEvent(ctx, "ended-turn", "turn.completed", []byte(`{}`))
	require.NoError(t, err)
	short, cancelShort := context.WithTimeout(ctx, 5*time.Second)
	last, err := queue.NewTurns(agentJS, nil, logging.Discard()).LastEventType(short, "ended-turn")
	cancelShort()
	require.NoError(t, err, "the agent worker reads a turn's last event")
	require.Equal(t, "turn.completed", last)
	requireDenied(t, agent, agentErrs, "$JS.API.STREAM.INFO.OBJ_yw_uploads", func() {
		short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		_, err := agentJS.ObjectStore(short, queue.BucketUploads)
		require.Error(t, err, "the agent worker cannot open the uploads")
	})
	for _, subject := range []string{"$O.yw_uploads.>", "_INBOX_api.>", "_INBOX_ingest-worker.>", "jobs.>"} {
		requireDenied(t, agent, agentErrs, subject, func() {
			_, err := agent.SubscribeSync(subject)
			require.NoError(t, err) // refused by the server, asynchronously
		})
	}
	for _, subject := range []string{"jobs.ingest", "jobs.delete", "jobs.reindex"} {
		requireDenied(t, agent, agentErrs, subject, func() { require.NoError(t, agent.Publish(subject, []byte(`{}`))) })
	}
	requireDenied(t, agent, agentErrs, "$JS.API.STREAM.UPDATE.YW_TURNS", func() {
		require.NoError(t, agent.Publish("$JS.API.STREAM.UPDATE.YW_TURNS", []byte(`{"name":"YW_TURNS","subjects":["turns.>"],"max_age":1}`)))
	})
	requireDenied(t, agent, agentErrs, "$JS.API.CONSUMER.MSG.NEXT.YW_JOBS.ingest", func() {
		require.NoError(t, agent.Publish("$JS.API.CONSUMER.MSG.NEXT.YW_JOBS.ingest", []byte(`{"batch":1}`)))
	})

	ingest, ingestErrs := asUser(t, url, natsperm.IngestWorker, passwords[natsperm.IngestWorker])
	for _, subject := range []string{"turns.some-turn", "jobs.chat", "yw.turn.cancel.some-turn", "$JS.API.STREAM.DELETE.YW_JOBS"} {
		requireDenied(t, ingest, ingestErrs, subject, func() { require.NoError(t, ingest.Publish(subject, []byte(`{}`))) })
	}
	requireDenied(t, ingest, ingestErrs, "turns.>", func() {
		_, err := ingest.SubscribeSync("turns.>")
		require.NoError(t, err)
	})

	reindexer, reindexerErrs := asUser(t, url, natsperm.Reindexer, passwords[natsperm.Reindexer])
	for _, subject := range []string{"turns.some-turn", "jobs.delete", "jobs.chat", "$O.yw_uploads.M.c2VjcmV0LnR4dA==", "$JS.API.STREAM.PURGE.OBJ_yw_uploads"} {
		requireDenied(t, reindexer, reindexerErrs, subject, func() { require.NoError(t, reindexer.Publish(subject, nil)) })
	}

	// What the users may do still works: the ingest worker reads the upload.
	ingestJS, err := jetstream.New(ingest)
	require.NoError(t, err)
	ingestObjects, err := queue.NewObjects(ctx, ingestJS)
	require.NoError(t, err)
	info, err := ingestObjects.Info(ctx, "secret.txt")
	require.NoError(t, err)
	require.Equal(t, int64(len("the merger closes on Friday")), info.Size)
}
