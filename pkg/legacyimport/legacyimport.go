// Package legacyimport imports a deployment of the legacy Python product (FastAPI,
// SQLAlchemy on PostgreSQL, one Qdrant collection) into this platform: users with
// their API keys, groups and memberships, chats with their decrypted messages, and
// documents — re-ingested from their files when the upload root is given, else
// rebuilt from the chunk texts the legacy collection holds and embedded again with
// the current embedder. Documents in no group then go to their owners' personal
// groups through the group-migration job, which also writes the group ids into
// every vector payload.
//
// The legacy deployment is only read (its database sessions are read-only). Every
// row the import creates is recorded in legacy_import_map with its legacy id, in
// the same transaction as the row, so a run that crashed or was cancelled resumes
// where it stopped and a second run imports nothing twice. A dry run reads the same
// way, writes nothing, and reports what a real run would import and every problem
// it found. A real run is recorded as a job of kind legacy-import, with progress
// and a cancel flag like the re-index jobs.
package legacyimport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// DefaultCollection is the legacy deployment's collection.
const DefaultCollection = "documents"

// Options are what the operator says about the legacy deployment.
type Options struct {
	// DB is the legacy PostgreSQL URL.
	DB string
	// Qdrant is the legacy Qdrant's gRPC endpoint (http://host:6334), and
	// QdrantAPIKey its API key, if it has one.
	Qdrant       string
	QdrantAPIKey string
	// Collection is the legacy collection; "" is DefaultCollection.
	Collection string
	// Uploads is the legacy upload root; "" rebuilds every document from the text
	// of its chunks.
	Uploads string
	// MessageSecrets open the chat messages; more than one covers a secret that
	// changed over time.
	MessageSecrets []string
	// AllowUndecryptable imports messages no secret opens as a marked placeholder,
	// instead of refusing the run.
	AllowUndecryptable bool
	// DryRun reads and reports, and writes nothing.
	DryRun bool
}

// Validate reports every problem with the options.
func (o Options) Validate() error {
	var errs []error
	if strings.TrimSpace(o.DB) == "" {
		errs = append(errs, errors.New("--db is required: the legacy deployment's PostgreSQL URL"))
	} else if _, _, err := sourceURL(o.DB); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(o.Qdrant) == "" {
		errs = append(errs, errors.New("--qdrant is required: the legacy Qdrant's gRPC endpoint, e.g. http://qdrant:6334"))
	} else if err := (vector.Config{URL: o.Qdrant}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--qdrant: %w", err))
	}
	if o.Uploads != "" {
		if st, err := os.Stat(o.Uploads); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("--uploads %s is not a readable directory", o.Uploads))
		}
	}
	return errors.Join(errs...)
}

func (o Options) collection() string {
	if o.Collection == "" {
		return DefaultCollection
	}
	return o.Collection
}

// Target is the platform the import writes to. A dry run needs only Store.
type Target struct {
	Store *store.Store
	// Index embeds and indexes the documents rebuilt from chunk texts.
	Index *index.Index
	// EmbedMetrics records those embedding requests; nil records nothing.
	EmbedMetrics *embed.Metrics
	// Documents stores re-ingested files through the normal upload path: the
	// object store, a queued document, an ingest job. Its quota defaults should be
	// unlimited: what users had before the upgrade is theirs.
	Documents *service.Documents
	// Reindex starts the group-migration job.
	Reindex *service.Reindex
	// Audit records the import.
	Audit *service.Auditor
	// Progress, when set, is told of every checkpoint of a real run.
	Progress func(Progress)
	// PollEvery is how often the import looks at documents being re-ingested and
	// at the group-migration job; 0 is 500ms.
	PollEvery time.Duration
	Logger    *slog.Logger
}

// Progress is a real run's state at a checkpoint.
type Progress struct {
	Job   store.ReindexJob
	Phase string
}

// Phases of a real run, in order.
const (
	PhaseUsers          = "users"
	PhaseGroups         = "groups"
	PhaseChats          = "chats"
	PhaseDocuments      = "documents"
	PhaseIngesting      = "ingesting"
	PhaseGroupMigration = "group-migration"
	PhaseDone           = "done"
)

// ErrBlocked means a real run refused to start because of a problem that would
// lose data (see Report.Blocking).
var ErrBlocked = errors.New("the import cannot start")

// ErrCancelled means the job was cancelled; what was imported stays, and the next
// run goes on from there.
var ErrCancelled = errors.New("the import was cancelled")

// ErrBusy means another import is running.
var ErrBusy = errors.New("another import is running")

// Run imports the legacy deployment (or, with DryRun, only reports). The report
// is returned with the error too, whenever the plan was made.
func Run(ctx context.Context, opts Options, t Target) (*Report, error) {
	return runWith(ctx, opts, t, nil)
}

// runWith is Run with a hook called after each imported row; an error it returns
// stops the run as a crash would (tests).
func runWith(ctx context.Context, opts Options, t Target, afterUnit func(kind string) error) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if t.Logger == nil {
		t.Logger = slog.New(slog.DiscardHandler)
	}
	if t.PollEvery <= 0 {
		t.PollEvery = 500 * time.Millisecond
	}
	src, err := openSource(ctx, opts.DB)
	if err != nil {
		return nil, err
	}
	defer src.close()
	vs, err := vector.New(ctx, vector.Config{URL: opts.Qdrant, APIKey: opts.QdrantAPIKey}, t.Logger)
	if err != nil {
		return nil, fmt.Errorf("connect to the legacy Qdrant (--qdrant takes its gRPC endpoint, port 6334 by default, not the REST port 6333): %w", err)
	}
	defer vs.Close()
	im := &importer{opts: opts, t: t, src: src, vs: vs, dec: newDecrypter(opts.MessageSecrets),
		log: t.Logger.With("component", "legacy-import"), afterUnit: afterUnit}
	p, err := im.plan(ctx)
	if err != nil {
		return nil, err
	}
	rep := &p.report
	if opts.DryRun {
		return rep, nil
	}
	if len(rep.Blocking) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrBlocked, strings.Join(rep.Blocking, "; "))
	}
	if t.Index == nil || t.Documents == nil || t.Reindex == nil || t.Audit == nil {
		return rep, errors.New("legacy import: a real run needs the index, the documents, re-index and audit services")
	}
	release, ok, err := t.Store.TryImportLock(ctx)
	if err != nil {
		return rep, err
	}
	if !ok {
		return rep, ErrBusy
	}
	defer release()
	return rep, im.run(ctx, p)
}

// importer is one run.
type importer struct {
	opts Options
	t    Target
	src  *source
	vs   *vector.Store
	dec  *decrypter
	log  *slog.Logger

	job   store.ReindexJob
	cp    checkpoint
	phase string
	// afterUnit, when set (tests), is called after each imported row.
	afterUnit func(kind string) error
}
