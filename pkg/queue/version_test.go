package queue

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
)

func TestRequireServerVersion(t *testing.T) {
	for version, ok := range map[string]bool{
		"2.10.0": true, "2.10.22": true, "2.11.3": true, "3.0.0": true, "2.12.0-RC.1": true,
		"2.9.10": false, "2.9.25": false, "1.4.1": false, "": false, "two": false, "2.10": false,
	} {
		err := requireServerVersion(version)
		if ok {
			require.NoError(t, err, version)
			continue
		}
		require.Error(t, err, version)
		require.Contains(t, err.Error(), "NATS 2.10 or newer", version)
	}
}

// TestConnectNamesTheVersionNeeded: a NATS server older than the programs need is
// refused at once with both versions named. Machines of this project run an old
// NATS on the default port; elsewhere there is nothing to connect to and the test
// has nothing to show.
func TestConnectNamesTheVersionNeeded(t *testing.T) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
	if err != nil {
		t.Skip("no NATS server on 127.0.0.1:4222")
	}
	conn.Close()
	nc, err := nats.Connect("nats://127.0.0.1:4222", nats.Timeout(2*time.Second))
	if err != nil {
		t.Skipf("the server on 127.0.0.1:4222 does not speak NATS to us: %v", err)
	}
	version := nc.ConnectedServerVersion()
	nc.Close()
	if requireServerVersion(version) == nil {
		t.Skipf("the server on 127.0.0.1:4222 runs NATS %s, new enough", version)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err = Connect(ctx, "nats://127.0.0.1:4222", "version-test", nil, ConnectOptions{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "the server runs NATS "+version)
	require.Contains(t, err.Error(), "needs NATS 2.10 or newer")
}
