// Package natsperm states what each YouWorker program may do on NATS — the
// subjects it may publish to and subscribe to — and renders them as the
// nats-server's authorization block, one user per program. A program that is
// taken over can then do only what that program does: the agent worker cannot
// read uploaded files or queue delete jobs, the ingest worker cannot forge chat
// turn events, and a client with no credentials is refused.
//
// The permissions follow the subjects package queue uses (see its doc comment
// for the streams, consumers and bucket):
//
//   - api: declares every stream, consumer and the upload bucket (queue.Setup;
//     workers only look them up), stores and reads uploads, publishes every job
//     kind (its outbox relay) and turn cancellations, and reads turn events (and
//     publishes turn.cancelled for a turn cancelled before it ran).
//   - ingest-worker: consumes the ingest consumer, reads, writes (documents
//     fetched from a URL) and deletes uploads, dead-letters its jobs.
//   - agent-worker: consumes the chat consumer, publishes turn events, hears
//     turn cancellations, shares the model queue's news with other agent
//     workers, dead-letters its jobs.
//   - reindexer: consumes the reindex consumer, dead-letters its jobs and
//     relays the re-index, ACL and ingest jobs of the outbox (what the operator
//     commands enqueue, import-legacy's documents among them), leaving delete
//     and chat jobs to the API's relay.
//
// Every program reads the jobs stream's and consumers' state (readiness and
// the queue depth metrics) and receives replies on an inbox prefix of its own
// (InboxPrefix): with a shared _INBOX.> any program could subscribe to the
// replies and deliveries of the others — uploaded files and turn events among
// them.
//
// Authorization renders the block for given passwords, for servers a test or
// harness starts itself: add it to each server's configuration (beside listen,
// jetstream and cluster; queuetest.StartWithConfig does so for one embedded
// server) and start each program with YW_NATS_USER set to its name and
// YW_NATS_PASSWORD to its password:
//
//	conf, err := natsperm.Authorization(map[string]string{
//		natsperm.API: apiPassword, natsperm.IngestWorker: ingestPassword,
//		natsperm.AgentWorker: agentPassword, natsperm.Reindexer: reindexerPassword,
//	})
//
// AuthorizationFromEnv renders it with each password read from an environment
// variable of the server (PasswordEnv), which is how deploy/ configures NATS:
// deploy/nats/auth.conf is that rendering, the deploy checks keep it current,
// and `make nats-auth` rewrites it.
package natsperm

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The programs, by the names they connect with and their NATS user names.
const (
	API          = "api"
	IngestWorker = "ingest-worker"
	AgentWorker  = "agent-worker"
	Reindexer    = "reindexer"
)

// Programs are every program that connects to NATS, in a stable order.
var Programs = []string{API, IngestWorker, AgentWorker, Reindexer}

// Names of the JetStream resources, as package queue declares them. They are
// repeated here rather than imported so that the permissions read as one list
// of literal subjects; TestPermissionsNameTheQueuesResources keeps them equal.
const (
	streamJobs    = "YW_JOBS"
	streamTurns   = "YW_TURNS"
	streamDLQ     = "YW_DLQ"
	bucketUploads = "yw_uploads"
	streamUploads = "OBJ_" + bucketUploads
)

// Permissions are the subjects a program may publish to and subscribe to.
type Permissions struct {
	Publish   []string
	Subscribe []string
}

// InboxPrefix is the prefix of the program's reply subjects (the client's
// custom inbox prefix). A program uses it whatever its NATS user is called, so
// a server configured by other means than Authorization must let the program's
// user subscribe to InboxPrefix(program)+".>". Programs not listed in Programs
// (tests, benchmarks) get one too, so every client connects the same way.
func InboxPrefix(program string) string {
	return "_INBOX_" + program
}

// PasswordEnv is the environment variable the NATS server reads a program's
// password from in the configuration AuthorizationFromEnv renders, e.g.
// YW_NATS_PASSWORD_INGEST_WORKER.
func PasswordEnv(program string) string {
	return "YW_NATS_PASSWORD_" + strings.ToUpper(strings.ReplaceAll(program, "-", "_"))
}

// For returns the permissions of program, or an error naming the programs
// that exist.
func For(program string) (Permissions, error) {
	jsAPI := func(op string, names ...string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = "$JS.API." + op + "." + n
		}
		return out
	}
	// What every program needs: replies on its own inbox, the jobs stream's
	// and consumers' state (readiness, queue depth, the oldest waiting job).
	common := Permissions{
		Publish: concat(
			[]string{"$JS.API.INFO"},
			jsAPI("STREAM.INFO", streamJobs),
			jsAPI("CONSUMER.INFO", streamJobs+".*"),
			jsAPI("STREAM.MSG.GET", streamJobs),
		),
		Subscribe: []string{InboxPrefix(program) + ".>"},
	}
	// A consumer of one durable: fetch, ack, heartbeat and nak its jobs, hear
	// the server's max-deliveries advisories, dead-letter and remove a job.
	consumer := func(durable string, subjects ...string) Permissions {
		p := Permissions{
			Publish: concat(
				jsAPI("CONSUMER.MSG.NEXT", streamJobs+"."+durable),
				[]string{"$JS.ACK." + streamJobs + "." + durable + ".>"},
				jsAPI("STREAM.MSG.DELETE", streamJobs),
			),
			Subscribe: []string{"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + streamJobs + "." + durable},
		}
		for _, s := range subjects {
			p.Publish = append(p.Publish, "dlq."+s)
		}
		return p
	}
	// The upload bucket: look it up, read objects (direct gets of the
	// descriptions, an ordered push consumer over the chunks with flow
	// control), write and delete them (chunks and descriptions, purges).
	uploads := Permissions{
		Publish: concat(
			jsAPI("STREAM.INFO", streamUploads),
			jsAPI("DIRECT.GET", streamUploads, streamUploads+".>"),
			jsAPI("STREAM.MSG.GET", streamUploads),
			jsAPI("CONSUMER.CREATE", streamUploads+".>"),
			jsAPI("CONSUMER.DELETE", streamUploads+".>"),
			jsAPI("STREAM.PURGE", streamUploads),
			[]string{"$JS.FC." + streamUploads + ".>", "$O." + bucketUploads + ".>"},
		),
	}
	// The last event of a turn: the API replays from it, and a retried chat
	// job checks whether its turn's end reached the log (chat.Worker.ensureEnded).
	turnsLast := Permissions{Publish: concat(
		jsAPI("STREAM.INFO", streamTurns),
		jsAPI("STREAM.MSG.GET", streamTurns),
		jsAPI("DIRECT.GET", streamTurns, streamTurns+".>"),
	)}
	// The turn event log, read: ordered consumers over one turn or all of
	// them, and the last event of a turn.
	turnsRead := merge(turnsLast, Permissions{
		Publish: concat(
			jsAPI("CONSUMER.CREATE", streamTurns+".>"),
			jsAPI("CONSUMER.DELETE", streamTurns+".>"),
			jsAPI("CONSUMER.INFO", streamTurns+".>"),
			jsAPI("CONSUMER.MSG.NEXT", streamTurns+".>"),
		),
	})
	var p Permissions
	switch program {
	case API:
		declare := Permissions{Publish: concat(
			jsAPI("STREAM.CREATE", streamJobs, streamTurns, streamDLQ, streamUploads),
			jsAPI("STREAM.UPDATE", streamJobs, streamTurns, streamDLQ, streamUploads),
			jsAPI("STREAM.INFO", streamTurns, streamDLQ),
			jsAPI("CONSUMER.CREATE", streamJobs+".>"),
		)}
		p = merge(common, declare, uploads, turnsRead, Permissions{
			Publish: []string{"jobs.>", "turns.>", "yw.turn.cancel.*"},
		})
	case IngestWorker:
		p = merge(common, consumer("ingest", "jobs.ingest", "jobs.delete"), uploads)
	case AgentWorker:
		p = merge(common, consumer("chat", "jobs.chat"), turnsLast, Permissions{
			Publish:   []string{"turns.>", "yw.modelqueue.*"},
			Subscribe: []string{"yw.turn.cancel.*", "yw.modelqueue.*"},
		})
	case Reindexer:
		p = merge(common, consumer("reindex", "jobs.reindex", "jobs.acl"), Permissions{
			Publish: []string{"jobs.reindex", "jobs.acl", "jobs.ingest"},
		})
	default:
		return Permissions{}, fmt.Errorf("natsperm: unknown program %q; the programs are %s", program, strings.Join(Programs, ", "))
	}
	return p, nil
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// merge joins permission sets, each subject once, sorted so the rendered
// configuration is stable.
func merge(sets ...Permissions) Permissions {
	var p Permissions
	for _, s := range sets {
		p.Publish = append(p.Publish, s.Publish...)
		p.Subscribe = append(p.Subscribe, s.Subscribe...)
	}
	slices.Sort(p.Publish)
	slices.Sort(p.Subscribe)
	p.Publish = slices.Compact(p.Publish)
	p.Subscribe = slices.Compact(p.Subscribe)
	return p
}

// Authorization renders the nats-server authorization block with one user per
// program and the given passwords, quoted. Every program needs a password.
func Authorization(passwords map[string]string) (string, error) {
	values := map[string]string{}
	for _, program := range Programs {
		pw := passwords[program]
		if pw == "" {
			return "", fmt.Errorf("natsperm: no password for %s", program)
		}
		values[program] = strconv.Quote(pw)
	}
	for program := range passwords {
		if !slices.Contains(Programs, program) {
			return "", fmt.Errorf("natsperm: unknown program %q; the programs are %s", program, strings.Join(Programs, ", "))
		}
	}
	return render(values), nil
}

// AuthorizationFromEnv renders the authorization block with each program's
// password taken from the server's environment variable PasswordEnv(program),
// so the configuration file holds no secret. The server refuses to start when
// one of them is unset.
func AuthorizationFromEnv() string {
	values := map[string]string{}
	for _, program := range Programs {
		values[program] = "$" + PasswordEnv(program)
	}
	return render(values)
}

// render writes the block; passwords holds each program's password as it
// must appear in the file (a quoted string or a variable reference).
func render(passwords map[string]string) string {
	var b strings.Builder
	b.WriteString("# One user per YouWorker program, allowed only what that program does.\n")
	b.WriteString("# Rendered by package natsperm; do not edit (see its package comment).\n")
	b.WriteString("authorization {\n  users = [\n")
	for _, program := range Programs {
		p, _ := For(program) // every entry of Programs has permissions
		fmt.Fprintf(&b, "    {\n      user: %q\n      password: %s\n      permissions: {\n", program, passwords[program])
		writeList(&b, "publish", p.Publish)
		writeList(&b, "subscribe", p.Subscribe)
		b.WriteString("      }\n    }\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}

func writeList(b *strings.Builder, name string, subjects []string) {
	fmt.Fprintf(b, "        %s: {\n          allow: [\n", name)
	for _, s := range subjects {
		fmt.Fprintf(b, "            %q\n", s)
	}
	b.WriteString("          ]\n        }\n")
}
