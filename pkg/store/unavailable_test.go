package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/store"
)

// A database that is restarting answers "try again shortly" (the API's 503), not
// an internal error; a fault of the request does not. The chaos harness restarts
// PostgreSQL under running APIs, which answered 500 until then.
func TestUnavailableTellsAnOutageFromAFault(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Nothing listens on port 1: the connect error pgx gives for a server down.
	_, refused := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	require.Error(t, refused)
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("authenticate: find keys: %w", refused), true},
		{&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{fmt.Errorf("begin transaction: %w", &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}), true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "23505"}, false},
		{store.ErrNotFound, false},
		{errors.New("disk on fire"), false},
		{nil, false},
	} {
		require.Equal(t, c.want, store.Unavailable(c.err), "%v", c.err)
	}
}
