package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/legacyimport"
	"github.com/youworker/youworker/pkg/platform"
	"github.com/youworker/youworker/pkg/postgres"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
)

// secretsFlag collects a repeatable --message-secret.
type secretsFlag []string

func (s *secretsFlag) String() string { return fmt.Sprintf("%d secrets", len(*s)) }

func (s *secretsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// importLegacy runs `reindexer import-legacy`: a dry run needs only the database;
// a real run opens the platform (NATS for the re-ingested files, the vector store
// and embedder for the documents rebuilt from text) and runs in this process,
// printing its progress, while a running reindexer (and ingest workers) do the
// group migration and the ingestion it queues. Secrets may come from the
// environment instead of flags, which other users of the host can read.
func importLegacy(ctx context.Context, cfg config.Config, logger *slog.Logger, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("import-legacy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var opts legacyimport.Options
	var secrets secretsFlag
	fs.StringVar(&opts.DB, "db", getenv("YW_LEGACY_DATABASE_URL"), "the legacy PostgreSQL URL (or YW_LEGACY_DATABASE_URL)")
	fs.StringVar(&opts.Qdrant, "qdrant", "", "the legacy Qdrant's gRPC endpoint, http://host:6334")
	fs.StringVar(&opts.Collection, "collection", legacyimport.DefaultCollection, "the legacy collection")
	fs.StringVar(&opts.Uploads, "uploads", "", "the legacy upload root")
	fs.Var(&secrets, "message-secret", "the legacy message secret (or YW_LEGACY_MESSAGE_SECRET); repeat for older ones")
	fs.BoolVar(&opts.AllowUndecryptable, "allow-undecryptable", false, "import messages no secret opens as a placeholder")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "report what would be imported and every problem; write nothing")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v\n%s", errUsage, err, usage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: import-legacy takes no argument %q\n%s", errUsage, fs.Arg(0), usage)
	}
	if s := getenv("YW_LEGACY_MESSAGE_SECRET"); s != "" {
		secrets = append(secrets, s)
	}
	opts.MessageSecrets = secrets
	opts.QdrantAPIKey = getenv("YW_LEGACY_QDRANT_API_KEY")
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}

	var target legacyimport.Target
	target.Logger = logger
	if opts.DryRun {
		pool, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
		if err != nil {
			return err
		}
		defer pool.Close()
		if err := postgres.CheckSchema(ctx, pool); err != nil {
			return err
		}
		target.Store = store.New(pool)
	} else {
		p, err := platform.Open(ctx, cfg, logger, platform.Options{Program: "reindexer-import", MaxConns: 6})
		if err != nil {
			return err
		}
		defer p.Close()
		audit := service.NewAuditor(p.Store, logger)
		target.Store, target.Index, target.EmbedMetrics, target.Audit = p.Store, p.Index, p.EmbedMetrics, audit
		// Unlimited quota defaults: what users had before the upgrade is theirs.
		target.Documents = service.NewDocuments(p.Store, p.Objects, audit, service.DocumentsConfig{MaxUploadBytes: cfg.MaxUploadBytes}, logger)
		target.Reindex = service.NewReindex(p.Store, audit, service.ReindexConfig{}, logger)
		last := ""
		target.Progress = func(pr legacyimport.Progress) {
			j := pr.Job
			line := progressLine(service.ReindexJob{Status: j.Status,
				Progress: service.JobProgress{Total: j.Progress.Total, Done: j.Progress.Done, Failed: j.Progress.Failed}})
			if pr.Phase != "" && j.Status == store.JobRunning {
				line += " " + pr.Phase
			}
			if line != last {
				fmt.Fprintln(stdout, line)
				last = line
			}
		}
	}
	rep, err := legacyimport.Run(ctx, opts, target)
	if rep != nil {
		if _, werr := rep.WriteTo(stdout); werr != nil {
			return werr
		}
	}
	switch {
	case err != nil:
		return err
	case opts.DryRun && len(rep.Blocking) > 0:
		return fmt.Errorf("%w: %s", legacyimport.ErrBlocked, strings.Join(rep.Blocking, "; "))
	case opts.DryRun:
		fmt.Fprintln(stdout, "dry run: nothing was written")
	default:
		fmt.Fprintln(stdout, rep.JobID)
	}
	return nil
}
