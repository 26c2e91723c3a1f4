package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/youworker/youworker/pkg/postgres/privatepg"
)

// defaultAddr is where DefaultURL points.
const defaultAddr = "127.0.0.1:5432"

// privateDirPrefix names the directories of private test servers under os.TempDir();
// the process id follows it, so a later run can tell which ones are stale.
const privateDirPrefix = "youworker-pgtest-"

// binariesCacheDir, under os.TempDir(), keeps a fetched PostgreSQL build for the
// test processes of later runs, when none is installed.
const binariesCacheDir = "youworker-postgres-binaries"

// resolveServer picks the test server: YW_TEST_DATABASE_URL, else the local server
// when it answers, else a private server of this test process. On error it still
// returns DefaultURL, so callers fail or skip the way they do for a missing server.
func resolveServer() (string, error) {
	if u := os.Getenv("YW_TEST_DATABASE_URL"); u != "" {
		return u, nil
	}
	if answers(defaultAddr) {
		return DefaultURL, nil
	}
	srv, err := startPrivate()
	if err != nil {
		return DefaultURL, fmt.Errorf("nothing answers on %s and no private server started: %w", defaultAddr, err)
	}
	return srv.URL("postgres"), nil
}

// startPrivate starts a throwaway server for this test process. A test binary
// cannot hook its own exit, so the server is never closed here: it is a child
// process told to stop when its parent dies, and its directory is removed by the
// next test process that starts one.
func startPrivate() (*privatepg.Server, error) {
	removeStaleDirs(os.TempDir())
	dir := filepath.Join(os.TempDir(), privateDirPrefix+strconv.Itoa(os.Getpid()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return privatepg.Start(ctx, privatepg.Config{Dir: dir, Throwaway: true, Download: &privatepg.Download{
		CacheDir:      filepath.Join(os.TempDir(), binariesCacheDir),
		RepositoryURL: os.Getenv("YW_POSTGRES_REPOSITORY_URL"),
	}})
}

// removeStaleDirs deletes the directories of private servers whose test process
// has exited, and any left under this process's id by an earlier process that had it.
func removeStaleDirs(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		pidText, ok := strings.CutPrefix(e.Name(), privateDirPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil {
			continue
		}
		if pid == os.Getpid() || !alive(pid) {
			_ = os.RemoveAll(filepath.Join(root, e.Name())) // another user's directory stays; that is fine
		}
	}
}

// alive tells whether a process with this id exists; EPERM means it exists
// under another user.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func answers(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}
