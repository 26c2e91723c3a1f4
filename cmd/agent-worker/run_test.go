package main

import (
	"testing"

	"github.com/youworker/youworker/pkg/worker/workertest"
)

// TestRunsOnItsOwnAgainstExternalServices starts the agent worker as a separate program on
// an external NATS and vector store, and checks it serves probes and stops cleanly.
func TestRunsOnItsOwnAgainstExternalServices(t *testing.T) {
	workertest.RequireStandalone(t, run)
}
