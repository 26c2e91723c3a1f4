package natsperm_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/natsperm"
	"github.com/youworker/youworker/pkg/queue"
)

// TestPermissionsNameTheQueuesResources keeps the literal subjects of the
// permissions in step with the names package queue declares: a renamed stream
// or job subject must change the permissions too.
func TestPermissionsNameTheQueuesResources(t *testing.T) {
	t.Parallel()
	all := map[string][]string{}
	for _, program := range natsperm.Programs {
		p, err := natsperm.For(program)
		require.NoError(t, err)
		all[program] = p.Publish
	}
	require.Contains(t, all[natsperm.API], "$JS.API.STREAM.CREATE."+queue.StreamJobs)
	require.Contains(t, all[natsperm.API], "$JS.API.STREAM.CREATE."+queue.StreamTurns)
	require.Contains(t, all[natsperm.API], "$JS.API.STREAM.CREATE."+queue.StreamDLQ)
	require.Contains(t, all[natsperm.API], "$O."+queue.BucketUploads+".>")
	require.Contains(t, all[natsperm.API], queue.SubjectJobsAll)
	require.Contains(t, all[natsperm.AgentWorker], queue.SubjectTurnsAll)
	for program, consumer := range map[string]string{
		natsperm.IngestWorker: queue.ConsumerIngest, natsperm.AgentWorker: queue.ConsumerChat, natsperm.Reindexer: queue.ConsumerReindex,
	} {
		require.Contains(t, all[program], "$JS.API.CONSUMER.MSG.NEXT."+queue.StreamJobs+"."+consumer)
		for _, subject := range queue.ConsumerSubjects(consumer) {
			require.Contains(t, all[program], queue.SubjectDLQPrefix+subject, "%s dead-letters its own jobs", program)
		}
		require.False(t, slices.ContainsFunc(all[program], func(s string) bool { return strings.HasPrefix(s, "$JS.API.STREAM.CREATE") }),
			"%s declares nothing", program)
	}
	for _, program := range []string{natsperm.IngestWorker, natsperm.AgentWorker, natsperm.Reindexer} {
		for _, subject := range []string{job.SubjectDelete, job.SubjectChat, queue.SubjectJobsAll} {
			require.NotContains(t, all[program], subject, "only the api queues %s", subject)
		}
	}
	require.NotContains(t, all[natsperm.AgentWorker], job.SubjectIngest)
	require.NotContains(t, all[natsperm.AgentWorker], "$O."+queue.BucketUploads+".>")
	_, err := natsperm.For("billing")
	require.ErrorContains(t, err, `unknown program "billing"`)
}

// TestRenderedConfigurationIsAcceptedByTheServer parses both renderings with
// nats-server's own configuration reader and finds each program's user with its
// password and permissions.
func TestRenderedConfigurationIsAcceptedByTheServer(t *testing.T) {
	passwords := map[string]string{}
	for _, program := range natsperm.Programs {
		passwords[program] = "pw-" + program + `-"quoted"`
		t.Setenv(natsperm.PasswordEnv(program), "env-"+program)
	}
	literal, err := natsperm.Authorization(passwords)
	require.NoError(t, err)
	for conf, want := range map[string]func(string) string{
		literal:                         func(p string) string { return passwords[p] },
		natsperm.AuthorizationFromEnv(): func(p string) string { return "env-" + p },
	} {
		path := filepath.Join(t.TempDir(), "nats.conf")
		require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
		opts, err := server.ProcessConfigFile(path)
		require.NoError(t, err, conf)
		require.Len(t, opts.Users, len(natsperm.Programs))
		for _, u := range opts.Users {
			require.Equal(t, want(u.Username), u.Password)
			p, err := natsperm.For(u.Username)
			require.NoError(t, err)
			require.Equal(t, p.Publish, u.Permissions.Publish.Allow)
			require.Equal(t, p.Subscribe, u.Permissions.Subscribe.Allow)
		}
	}

	_, err = natsperm.Authorization(map[string]string{natsperm.API: "x"})
	require.ErrorContains(t, err, "no password for ingest-worker")
}
