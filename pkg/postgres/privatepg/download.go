package privatepg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
)

// Download says where official PostgreSQL builds are fetched from when the machine
// has none installed, and where they are kept once fetched.
type Download struct {
	// CacheDir keeps the fetched archive and the programs extracted from it; the
	// first start fills it (and needs the network), later starts reuse it.
	CacheDir string
	// RepositoryURL is the Maven repository holding the builds; empty: Maven Central.
	RepositoryURL string
	// Version is the PostgreSQL release fetched; empty: DownloadVersion.
	Version string
}

// DownloadVersion is the release fetched when Download.Version is empty.
const DownloadVersion = string(embeddedpostgres.V17)

// FetchBinaries returns the bin directory of a PostgreSQL build kept under
// d.CacheDir, fetching and extracting it first when it is not there yet. Test
// processes start in parallel, so the fetch is serialised by a file lock and a
// build is moved into place whole, never seen half-extracted.
func FetchBinaries(ctx context.Context, d Download) (string, error) {
	if d.CacheDir == "" {
		return "", errors.New("PostgreSQL download: no cache directory given")
	}
	cache, err := filepath.Abs(d.CacheDir)
	if err != nil {
		return "", fmt.Errorf("PostgreSQL download cache: %w", err)
	}
	version := d.Version
	if version == "" {
		version = DownloadVersion
	}
	target := filepath.Join(cache, "postgresql-"+version)
	binDir := filepath.Join(target, "bin")
	if hasServerPrograms(binDir) {
		return binDir, nil
	}
	// 0755: when root runs the platform, the server runs as the postgres user and
	// must be able to reach the programs kept here.
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", cache, err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cache, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if hasServerPrograms(binDir) { // another process fetched it while this one waited
		return binDir, nil
	}
	staging, err := os.MkdirTemp(cache, "fetch-")
	if err != nil {
		return "", fmt.Errorf("PostgreSQL download: %w", err)
	}
	defer os.RemoveAll(staging)
	if err := fetchInto(d, version, cache, staging); err != nil {
		return "", err
	}
	if err := os.Chmod(filepath.Join(staging, "build"), 0o755); err != nil {
		return "", fmt.Errorf("PostgreSQL download: %w", err)
	}
	if err := os.Rename(filepath.Join(staging, "build"), target); err != nil {
		return "", fmt.Errorf("PostgreSQL download: move the build into %s: %w", target, err)
	}
	return binDir, nil
}

// fetchInto has the library download and extract the build into staging/build.
// The library offers only a whole start, which also initialises a throwaway
// cluster and starts it once: that cluster is discarded. As root its initdb
// refuses to run, after the build is already extracted, which is all that is
// wanted here, so that failure is not one.
func fetchInto(d Download, version, cache, staging string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	cfg := embeddedpostgres.DefaultConfig().
		Version(embeddedpostgres.PostgresVersion(version)).
		Port(uint32(port)).
		CachePath(cache).
		BinariesPath(filepath.Join(staging, "build")).
		RuntimePath(filepath.Join(staging, "run")).
		DataPath(filepath.Join(staging, "data")).
		Logger(io.Discard)
	if d.RepositoryURL != "" {
		cfg = cfg.BinaryRepositoryURL(d.RepositoryURL)
	}
	db := embeddedpostgres.NewDatabase(cfg)
	startErr := db.Start()
	if startErr == nil {
		_ = db.Stop()
	}
	if hasServerPrograms(filepath.Join(staging, "build", "bin")) {
		return nil
	}
	from := d.RepositoryURL
	if from == "" {
		from = "Maven Central"
	}
	return fmt.Errorf("no PostgreSQL installed, and fetching PostgreSQL %s from %s failed (this first start needs the network): %v; "+
		"install PostgreSQL (Debian: apt-get install postgresql), set YW_DATABASE_URL, or name a reachable mirror in YW_POSTGRES_REPOSITORY_URL", version, from, startErr)
}

func hasServerPrograms(binDir string) bool {
	return isExecutable(filepath.Join(binDir, "initdb")) && isExecutable(filepath.Join(binDir, "postgres"))
}

// lockFile takes an exclusive lock on path, waiting for it until ctx ends.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	locked := make(chan error, 1)
	go func() { locked <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-locked:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
	case <-ctx.Done():
		go func() { // the lock may still come; release it then
			if <-locked == nil {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			}
			f.Close()
		}()
		return nil, fmt.Errorf("wait for the PostgreSQL download lock %s: %w", path, ctx.Err())
	}
}
