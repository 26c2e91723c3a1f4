package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/legacyimport"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/worker"
)

const usage = `usage:
  reindexer                                              run the worker (re-index and ACL sync jobs)
  reindexer trigger KIND [--embed-model M] [--wait]      start a job (group-migration, acl-sync, re-embed, verify);
                                                         prints its id as the last line; --wait follows it and
                                                         exits 0 only when it completed
  reindexer status ID                                    show a job
  reindexer cancel ID                                    ask a job to stop
  reindexer import-legacy --db URL --qdrant URL [--collection documents] [--uploads DIR]
                          [--message-secret S]... [--allow-undecryptable] [--dry-run]
                                                         import the legacy Python deployment (see the README's
                                                         upgrade guide); --dry-run reports and writes nothing
`

var errUsage = errors.New("bad usage")

// errJobUnsuccessful makes `trigger --wait` exit 1 when the job failed or was cancelled.
var errJobUnsuccessful = errors.New("the job did not complete")

// pollEvery is how often `trigger --wait` reads the job's progress.
const pollEvery = 200 * time.Millisecond

// run starts the worker, or runs one operator command. It returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return worker.Main(ctx, app.ReindexerOptions, getenv, stdout, stderr)
	}
	cfg, err := config.Load(getenv)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "configuration error:\n%v\n", err)
		return 2
	}
	logger := logging.New(stderr, cfg.LogLevel, cfg.LogFormat).With("program", "reindexer")
	if args[0] == "import-legacy" {
		err = importLegacy(ctx, cfg, logger, args[1:], getenv, stdout)
	} else {
		err = command(ctx, cfg, logger, args, stdout)
	}
	var se *service.Error
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errJobUnsuccessful) || errors.Is(err, legacyimport.ErrBlocked) ||
		errors.Is(err, legacyimport.ErrCancelled) || errors.Is(err, legacyimport.ErrBusy):
		fmt.Fprintln(stderr, "error:", err)
		return 1
	case errors.As(err, &se) || errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "error:", err)
		return 2
	}
	logger.Error("reindexer failed", "error", err)
	return 1
}

// command runs one CLI command against the database.
func command(ctx context.Context, cfg config.Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	switch args[0] {
	case "trigger", "status", "cancel":
	default:
		return fmt.Errorf("%w: unknown command %q\n%s", errUsage, args[0], usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	model := fs.String("embed-model", "", "re-embed with this Ollama embedding model")
	wait := fs.Bool("wait", false, "follow the job until it ends")
	// Flags may come before or after the positional argument.
	var positional []string
	rest := args[1:]
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return fmt.Errorf("%w: %v\n%s", errUsage, err, usage)
		}
		if rest = fs.Args(); len(rest) > 0 {
			positional, rest = append(positional, rest[0]), rest[1:]
		}
	}
	if len(positional) != 1 {
		return fmt.Errorf("%w: %s needs exactly one argument\n%s", errUsage, args[0], usage)
	}
	admin, err := app.OpenAdmin(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer admin.Close()
	jobs := admin.Reindex
	switch args[0] {
	case "trigger":
		j, err := jobs.Start(ctx, access.System, positional[0], service.ReindexParams{EmbedModel: *model})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "queued %s job\n%s\n", j.Kind, j.ID)
		if !*wait {
			return nil
		}
		return follow(ctx, jobs, j, stdout)
	case "status":
		j, err := jobs.Get(ctx, access.System, positional[0])
		if err != nil {
			return err
		}
		printJob(stdout, j)
		return nil
	default:
		j, err := jobs.Cancel(ctx, access.System, positional[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "cancel requested; the job is %s\n", j.Status)
		return nil
	}
}

// follow prints a progress line whenever the job moves, until it ends; the last
// line is the job's id.
func follow(ctx context.Context, jobs *service.Reindex, j service.ReindexJob, stdout io.Writer) error {
	last := ""
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		if line := progressLine(j); line != last {
			fmt.Fprintln(stdout, line)
			last = line
		}
		if !j.Active() {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		var err error
		if j, err = jobs.Get(ctx, access.System, j.ID); err != nil {
			return err
		}
	}
	result, _ := json.Marshal(j.Result)
	fmt.Fprintf(stdout, "%s job %s: %s\n", j.Kind, j.Status, result)
	if j.Error != nil {
		fmt.Fprintf(stdout, "error: %s\n", *j.Error)
	}
	fmt.Fprintln(stdout, j.ID)
	if j.Status != store.JobCompleted {
		return fmt.Errorf("%w: it ended %s", errJobUnsuccessful, j.Status)
	}
	return nil
}

// progressLine renders a job's progress as a bar: [#####-----]  50% 5000/10000 running.
func progressLine(j service.ReindexJob) string {
	const width = 30
	p := j.Progress
	frac := 0.0
	if p.Total > 0 {
		frac = min(1, float64(p.Done)/float64(p.Total))
	}
	if j.Status == store.JobCompleted {
		frac = 1
	}
	n := int(frac * width)
	line := fmt.Sprintf("[%s%s] %3.0f%% %d/%d %s", strings.Repeat("#", n), strings.Repeat("-", width-n), frac*100, p.Done, p.Total, j.Status)
	if p.Failed > 0 {
		line += fmt.Sprintf(" (%d failed)", p.Failed)
	}
	return line
}

func printJob(w io.Writer, j service.ReindexJob) {
	fmt.Fprintf(w, "id:       %s\nkind:     %s\nstatus:   %s\nprogress: %s\n", j.ID, j.Kind, j.Status, progressLine(j))
	params, _ := json.Marshal(j.Params)
	result, _ := json.Marshal(j.Result)
	fmt.Fprintf(w, "params:   %s\nresult:   %s\ncreated:  %s\n", params, result, j.CreatedAt.Format(time.RFC3339))
	if j.Error != nil {
		fmt.Fprintf(w, "error:    %s\n", *j.Error)
	}
}
