package main

import (
	"testing"

	"github.com/youworker/youworker/pkg/worker/workertest"
)

// TestRunsOnItsOwnAgainstExternalServices: the reindexer worker serves the same
// probes and metrics as every worker, and its readiness reflects only what it needs
// to serve (database, NATS, vector store): a model server being down makes re-embeds
// wait, never takes the worker out of service.
func TestRunsOnItsOwnAgainstExternalServices(t *testing.T) {
	workertest.RequireStandalone(t, run)
}
