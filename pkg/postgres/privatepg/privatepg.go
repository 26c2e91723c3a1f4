// Package privatepg runs a PostgreSQL server of the program's own, as a child
// process, from the PostgreSQL installed on the machine or, when there is none, from
// an official build fetched once into a cache (download.go): `api -dev` and the
// tests use it when no server answers on the default address, so a newcomer
// without a running PostgreSQL still gets a working platform.
//
// The cluster lives in a directory of the caller's choosing, is created on first
// start and kept between runs. The server listens on a free port of 127.0.0.1 and
// keeps its unix socket in that directory, so it never collides with a system server.
package privatepg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Config says where the cluster lives and how it is used.
type Config struct {
	// Dir holds the cluster: created and initialised on first start, kept after.
	Dir string
	// Throwaway trades durability for speed (no fsync) for data nobody keeps: tests.
	Throwaway bool
	// BinDir holds initdb and postgres; empty: the installed PostgreSQL (see
	// FindBinDir), else a build fetched as Download says, when it is set.
	BinDir   string
	Download *Download
	// Port is the port to listen on; 0 picks a free one. A server restarted on the
	// port it had keeps the URL its clients were given (the chaos harness restarts
	// one under running programs).
	Port int
	// MaxConnections overrides the server's max_connections; 0 keeps the default
	// (200 for a throwaway cluster, else the server's own).
	MaxConnections int
}

// Server is a running private PostgreSQL.
type Server struct {
	dir     string
	binDir  string
	port    int
	cmd     *exec.Cmd
	logFile *os.File

	exited  chan struct{} // closed once the server process has exited
	waitErr error         // its exit status, set before exited is closed

	closeOnce sync.Once
	closeErr  error
}

// startAttempts covers the rare case of another program taking the free port
// between the moment it is chosen and the moment the server binds it.
const startAttempts = 3

// readyTimeout bounds crash recovery after an unclean stop as well as a normal start.
const readyTimeout = time.Minute

// Start initialises the cluster in cfg.Dir if it has none, starts the server and
// returns once it accepts connections.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("private PostgreSQL: no directory given")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("private PostgreSQL directory: %w", err)
	}
	binDir, err := resolveBinDir(ctx, cfg)
	if err != nil {
		return nil, err
	}
	o, err := serverOwner()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if o != nil {
		if err := o.take(dir); err != nil {
			return nil, err
		}
		if parent := o.closedParent(binDir); parent != "" {
			return nil, fmt.Errorf("the %s user, which runs PostgreSQL for root, cannot reach its programs in %s: %s is closed to it", o.name, binDir, parent)
		}
	}
	if err := initCluster(ctx, binDir, dir, o); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		s, err := launch(binDir, dir, cfg, o)
		if err != nil {
			return nil, err
		}
		err = s.waitReady(ctx)
		if err == nil {
			return s, nil
		}
		_ = s.Close()
		if ctx.Err() != nil || attempt == startAttempts || !s.hasExited() || cfg.Port != 0 {
			return nil, err
		}
	}
}

// resolveBinDir picks the programs to run: the given ones, the installed ones, or
// a fetched build when none is installed and a download is configured.
func resolveBinDir(ctx context.Context, cfg Config) (string, error) {
	if cfg.BinDir != "" {
		if !hasServerPrograms(cfg.BinDir) {
			return "", fmt.Errorf("%w in %s", ErrNoBinaries, cfg.BinDir)
		}
		return cfg.BinDir, nil
	}
	binDir, err := FindBinDir()
	if err == nil || cfg.Download == nil || !errors.Is(err, ErrNoBinaries) {
		return binDir, err
	}
	return FetchBinaries(ctx, *cfg.Download)
}

// initCluster runs initdb unless dir already holds a cluster. Trust authentication
// is safe here: the server listens on 127.0.0.1 only and its socket is in dir.
func initCluster(ctx context.Context, binDir, dir string, o *owner) error {
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err == nil {
		return nil
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
		"-D", dir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
	cmd.Dir = dir
	cmd.SysProcAttr = childAttr(o)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", dir, err, out)
	}
	return nil
}

// launch starts the server on a free port without waiting for it.
func launch(binDir, dir string, cfg Config, o *owner) (*Server, error) {
	port := cfg.Port
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open server log: %w", err)
	}
	args := []string{
		"-D", dir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + dir,
	}
	maxConns := cfg.MaxConnections
	if cfg.Throwaway {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
		if maxConns == 0 {
			maxConns = 200
		}
	}
	if maxConns > 0 {
		args = append(args, "-c", "max_connections="+strconv.Itoa(maxConns))
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childAttr(o)
	s := &Server{dir: dir, binDir: binDir, port: port, cmd: cmd, logFile: logFile, exited: make(chan struct{})}

	started := make(chan error, 1)
	go s.supervise(started)
	if err := <-started; err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	return s, nil
}

// supervise starts the server and waits for it to exit. The parent-death signal
// (see childAttr) fires when the thread that started the child ends, so that thread
// stays with this goroutine until the server has exited: for a test process's
// server, that is as long as the process runs (see Supervisor).
func (s *Server) supervise(started chan<- error) {
	runtime.LockOSThread()
	if err := s.cmd.Start(); err != nil {
		started <- err
		return
	}
	started <- nil
	s.waitErr = s.cmd.Wait()
	close(s.exited)
}

// Supervisor names the goroutine that waits for a server, for leak checks of test
// processes whose private server lives until the process exits.
const Supervisor = "github.com/youworker/youworker/pkg/postgres/privatepg.(*Server).supervise"

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		attemptCtx, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(attemptCtx, s.URL("postgres"))
		cancelAttempt()
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("private PostgreSQL in %s exited while starting (%v); its log ends with:\n%s", s.dir, s.waitErr, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("private PostgreSQL in %s did not accept connections: %w; its log ends with:\n%s", s.dir, err, s.logTail())
		case <-tick.C:
		}
	}
}

// URL is the address of a database on the server, as the postgres superuser.
func (s *Server) URL(database string) string { return databaseURL(s.port, database) }

func databaseURL(port int, database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, database)
}

// RunningURL returns the address of a database on the private server of the
// cluster in dir when one is running (started by another process: `api -dev`
// while an operator command runs), read from the server's own postmaster.pid.
func RunningURL(dir, database string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return "", false
	}
	// Lines: pid, data directory, start time, port, socket directory, ...
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return "", false
	}
	pid, err1 := strconv.Atoi(strings.TrimSpace(lines[0]))
	port, err2 := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err1 != nil || err2 != nil || pid <= 0 || port <= 0 {
		return "", false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return "", false // a stale file left by a server that was killed
	}
	return databaseURL(port, database), true
}

// Port is the TCP port the server listens on (on 127.0.0.1).
func (s *Server) Port() int { return s.port }

// Dir is where the cluster and the server's log live.
func (s *Server) Dir() string { return s.dir }

// BinDir is where the programs the server runs from are.
func (s *Server) BinDir() string { return s.binDir }

// Close stops the server with a fast shutdown (sessions are ended, data is
// flushed), killing it if it does not stop in time. It is safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if !s.hasExited() {
			_ = s.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-s.exited:
			case <-time.After(30 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
			if s.waitErr != nil {
				s.closeErr = fmt.Errorf("stop private PostgreSQL: %w", s.waitErr)
			}
		}
		_ = s.logFile.Close()
	})
	return s.closeErr
}

func (s *Server) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// logTail returns the end of the server's log, where the reason for a failed start is.
func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return err.Error()
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
