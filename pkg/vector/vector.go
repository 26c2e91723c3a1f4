// Package vector is the Qdrant adapter: the only code that talks to the
// vector index. It is built on the official go-client and runs unchanged
// against a real Qdrant and against the embedded qdrantlite server.
//
// Collections are addressed through aliases (for example "yw_chunks" pointing
// at "yw_chunks_<suffix>") so a re-embedding can build a new collection and
// switch the alias atomically. Point payloads mirror the ACL fields kept in
// PostgreSQL; filters are plain *qdrant.Filter values so the access package
// can build the authorization filter in one place.
package vector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ErrNotFound is returned when a collection, alias or point does not exist.
var ErrNotFound = errors.New("vector: not found")

// ErrDimensionMismatch is returned when a vector's length differs from the
// collection's dimension, or a collection exists with another dimension.
var ErrDimensionMismatch = errors.New("vector: dimension mismatch")

// ErrConflict is returned when a collection exists with settings that differ
// from the ones requested, or already exists where it was to be created.
var ErrConflict = errors.New("vector: conflict")

// ErrInvalid is returned when the vector store refuses a request as malformed
// (gRPC InvalidArgument) for a reason other than a dimension mismatch.
var ErrInvalid = errors.New("vector: invalid request")

// DefaultPort is Qdrant's gRPC port.
const DefaultPort = 6334

// maxMessageBytes matches the embedded server's limit and stays within
// Qdrant's default request size limit (32 MiB).
const maxMessageBytes = 32 << 20

// Config locates the Qdrant gRPC endpoint.
type Config struct {
	// URL is the gRPC endpoint: "http://host:6334", "https://host:6334"
	// (TLS) or "host:6334". The port defaults to 6334.
	URL string
	// APIKey is sent as the "api-key" header when set.
	APIKey string
}

// String redacts the API key so a Config can be logged.
func (c Config) String() string {
	key := ""
	if c.APIKey != "" {
		key = "[redacted]"
	}
	return fmt.Sprintf("vector.Config{URL:%q APIKey:%q}", c.URL, key)
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	if _, _, _, err := c.endpoint(); err != nil {
		return err
	}
	return nil
}

func (c Config) endpoint() (host string, port int, tls bool, err error) {
	raw := strings.TrimSpace(c.URL)
	if raw == "" {
		return "", 0, false, errors.New("vector: URL is required")
	}
	hostport := raw
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return "", 0, false, fmt.Errorf("vector: URL %q: %w", raw, err)
		}
		switch u.Scheme {
		case "http", "grpc":
		case "https", "grpcs":
			tls = true
		default:
			return "", 0, false, fmt.Errorf("vector: URL %q: scheme must be http or https", raw)
		}
		if u.Path != "" && u.Path != "/" {
			return "", 0, false, fmt.Errorf("vector: URL %q: must not have a path", raw)
		}
		hostport = u.Host
	}
	h, p, splitErr := net.SplitHostPort(hostport)
	if splitErr != nil {
		h, p = hostport, strconv.Itoa(DefaultPort)
	}
	if h == "" {
		return "", 0, false, fmt.Errorf("vector: URL %q has no host", raw)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, false, fmt.Errorf("vector: URL %q has an invalid port", raw)
	}
	return strings.Trim(h, "[]"), port, tls, nil
}

// Store is the vector index adapter. It is safe for concurrent use.
type Store struct {
	client *qdrant.Client
	logger *slog.Logger
}

// New connects to Qdrant and checks that it answers.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Store, error) {
	host, port, tls, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	opts := []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(maxMessageBytes),
		grpc.MaxCallSendMsgSize(maxMessageBytes),
	)}
	if cfg.APIKey != "" {
		// Sent by our own interceptor rather than Config.APIKey: the client
		// would otherwise warn through the global logger on plaintext.
		key := cfg.APIKey
		opts = append(opts, grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, o ...grpc.CallOption) error {
			return invoker(metadata.AppendToOutgoingContext(ctx, "api-key", key), method, req, reply, cc, o...)
		}))
	}
	// The client's compatibility check stays on: it warns when the server's
	// minor version is more than one away from the client's (go.mod pins the
	// client; deploy pins a Qdrant in that range).
	client, err := qdrant.NewClient(&qdrant.Config{
		Host:        host,
		Port:        port,
		UseTLS:      tls,
		GrpcOptions: opts,
		PoolSize:    1,
	})
	if err != nil {
		return nil, fmt.Errorf("vector: create client: %w", err)
	}
	s := &Store{client: client, logger: logger.With("component", "vector")}
	reply, err := client.HealthCheck(ctx)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("vector: connect to %s:%d: %w", host, port, translate(err))
	}
	s.logger.Info("connected to vector store", "addr", fmt.Sprintf("%s:%d", host, port), "version", reply.GetVersion())
	return s, nil
}

// Close releases the connection.
func (s *Store) Close() error {
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("vector: close: %w", err)
	}
	return nil
}

// Health reports whether the vector store answers.
func (s *Store) Health(ctx context.Context) error {
	if _, err := s.client.HealthCheck(ctx); err != nil {
		return fmt.Errorf("vector: health check: %w", translate(err))
	}
	return nil
}

// translate maps gRPC errors to the package's sentinels by status code alone,
// keeping the server's message, which names the collection or the expected
// dimension. Messages are for people: they differ between Qdrant releases
// and the embedded server, codes do not.
func translate(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(unwrapQdrant(err))
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("%w: %s", ErrNotFound, st.Message())
	case codes.AlreadyExists:
		return fmt.Errorf("%w: %s", ErrConflict, st.Message())
	case codes.InvalidArgument:
		return fmt.Errorf("%w: %s", ErrInvalid, st.Message())
	}
	return err
}

// checkDimension turns a refused request carrying a vector of length dim into
// ErrDimensionMismatch when the collection's dimension differs. Qdrant
// reports a wrong dimension as InvalidArgument like any other bad request, so
// the collection is asked rather than the message read.
func (s *Store) checkDimension(ctx context.Context, collection string, dim int, err error) error {
	if !errors.Is(err, ErrInvalid) || dim == 0 {
		return err
	}
	info, ierr := s.client.GetCollectionInfo(ctx, collection)
	if ierr != nil {
		return err
	}
	if got := int(info.GetConfig().GetParams().GetVectorsConfig().GetParams().GetSize()); got != dim {
		return fmt.Errorf("%w: collection %s has dimension %d, got %d: %w", ErrDimensionMismatch, collection, got, dim, err)
	}
	return err
}

func unwrapQdrant(err error) error {
	var qe *qdrant.QdrantError
	if errors.As(err, &qe) {
		return qe.Unwrap()
	}
	return err
}
