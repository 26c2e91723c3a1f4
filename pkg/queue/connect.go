package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// connectMaxElapsed bounds how long Connect keeps retrying the first
// connection: long enough for NATS to come up next to a program started by
// the same compose file, short enough that a wrong URL fails the start.
const connectMaxElapsed = time.Minute

// ConnectOptions say who the client is and how it reaches the server. The zero
// value connects without credentials or TLS beyond what the URL says.
type ConnectOptions struct {
	// User and Password identify the program's NATS user. Credentials in the
	// URL (nats://user:password@host) work too.
	User, Password string
	// CredsFile is a decentralized-auth credentials file (JWT and seed).
	CredsFile string
	// TLS, when set, makes the connection use TLS with this configuration
	// (the CA that signs the server's certificate, the client's own).
	TLS *tls.Config
	// InboxPrefix replaces _INBOX as the prefix of the client's reply
	// subjects, so a server can allow each program its own replies only.
	InboxPrefix string
}

// ErrUnauthorized is returned by Connect when the server refuses the
// client's credentials; retrying with the same ones cannot succeed.
var ErrUnauthorized = errors.New("nats refused the credentials")

// ErrUntrustedServer is returned by Connect when the server's TLS certificate
// is not signed by a trusted CA or does not name the host dialled; retrying
// cannot succeed either.
var ErrUntrustedServer = errors.New("the NATS server's certificate is not trusted")

// Connect opens a NATS connection named name (shown in the server's
// connection list) and a JetStream handle on it. The first connection is
// retried with backoff until ctx ends or a minute has passed, except when the
// server refuses the credentials (ErrUnauthorized) or its certificate cannot be
// trusted (ErrUntrustedServer); once connected, the client
// reconnects forever, buffering publishes meanwhile, because a worker that
// gives up on NATS can do nothing useful. The caller closes the connection
// (preferably with Drain) at shutdown.
func Connect(ctx context.Context, url, name string, logger *slog.Logger, co ConnectOptions) (*nats.Conn, jetstream.JetStream, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "nats")
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(5 * time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(500*time.Millisecond, 2*time.Second),
		nats.ReconnectBufSize(16 << 20),
		nats.PingInterval(20 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			logger.Debug("nats connection closed")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Error("nats async error", "subject", subject, "error", err)
		}),
	}
	if co.User != "" {
		opts = append(opts, nats.UserInfo(co.User, co.Password))
	}
	if co.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(co.CredsFile))
	}
	if co.TLS != nil {
		opts = append(opts, nats.Secure(co.TLS))
	}
	if co.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(co.InboxPrefix))
	}

	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	b.MaxElapsedTime = connectMaxElapsed
	var nc *nats.Conn
	err := backoff.RetryNotify(func() error {
		var err error
		nc, err = nats.Connect(url, opts...)
		if err != nil && isAuthError(err) {
			return backoff.Permanent(fmt.Errorf("%w: %w", ErrUnauthorized, err))
		}
		if cv := new(tls.CertificateVerificationError); errors.As(err, &cv) {
			return backoff.Permanent(fmt.Errorf("%w: %w", ErrUntrustedServer, err))
		}
		return err
	}, backoff.WithContext(b, ctx), func(err error, next time.Duration) {
		logger.Warn("nats connect failed, retrying", "error", err, "retry_in", next)
	})
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, nil, fmt.Errorf("connect to nats: %w (last error: %v)", ctxErr, err)
		}
		return nil, nil, fmt.Errorf("connect to nats: %w", err)
	}
	if err := requireServerVersion(nc.ConnectedServerVersion()); err != nil {
		url := nc.ConnectedUrlRedacted()
		nc.Close()
		return nil, nil, fmt.Errorf("nats at %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("open jetstream: %w", err)
	}
	logger.Info("nats connected", "url", nc.ConnectedUrlRedacted(), "name", name)
	return nc, js, nil
}

// isAuthError tells a refusal of the credentials from a server that is not
// there yet: the first is final, the second worth waiting for.
func isAuthError(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired) ||
		strings.Contains(strings.ToLower(err.Error()), "authorization violation")
}

// minServerVersion is the oldest NATS server the programs work with: the job
// consumers filter on several subjects, which servers learned in 2.10.
var minServerVersion = [3]int{2, 10, 0}

// requireServerVersion refuses a server older than minServerVersion, naming both
// versions, rather than letting the first consumer fail with a message that does
// not say what to upgrade.
func requireServerVersion(version string) error {
	v, ok := parseVersion(version)
	if !ok {
		return fmt.Errorf("cannot tell the server's version from %q; YouWorker needs NATS %d.%d or newer", version, minServerVersion[0], minServerVersion[1])
	}
	for i := range v {
		if v[i] != minServerVersion[i] {
			if v[i] < minServerVersion[i] {
				return fmt.Errorf("the server runs NATS %s; YouWorker needs NATS %d.%d or newer (JetStream consumers with several filter subjects)",
					version, minServerVersion[0], minServerVersion[1])
			}
			return nil
		}
	}
	return nil
}

// parseVersion reads major.minor.patch, ignoring a pre-release or build suffix.
func parseVersion(s string) ([3]int, bool) {
	var v [3]int
	core, _, _ := strings.Cut(strings.TrimPrefix(s, "v"), "-")
	core, _, _ = strings.Cut(core, "+")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

// Health reports whether NATS is reachable and JetStream answers with the
// jobs stream in place, for readiness probes. It does not wait for a
// reconnect: a disconnected client is not ready.
func Health(ctx context.Context, js jetstream.JetStream) error {
	if js == nil {
		return errors.New("nats: not configured")
	}
	if st := js.Conn().Status(); st != nats.CONNECTED {
		return fmt.Errorf("nats: connection %s", st)
	}
	if _, err := js.Stream(ctx, StreamJobs); err != nil {
		return fmt.Errorf("nats: stream %s: %w", StreamJobs, err)
	}
	return nil
}
