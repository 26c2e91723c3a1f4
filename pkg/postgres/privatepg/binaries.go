package privatepg

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
)

// ErrNoBinaries means no PostgreSQL installation was found to run a private server.
var ErrNoBinaries = errors.New("no PostgreSQL binaries (initdb, postgres) found: install PostgreSQL (Debian: apt-get install postgresql) or set YW_DATABASE_URL")

// debianRoot is where Debian and Ubuntu install each PostgreSQL major version,
// outside PATH, so a plain PATH lookup would miss them.
const debianRoot = "/usr/lib/postgresql"

// FindBinDir returns the directory holding initdb and postgres: the highest
// version under Debian's /usr/lib/postgresql, else the one initdb is found in on PATH.
func FindBinDir() (string, error) {
	if dir := highestDebianBinDir(debianRoot); dir != "" {
		return dir, nil
	}
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		return "", ErrNoBinaries
	}
	dir := filepath.Dir(initdb)
	if !isExecutable(filepath.Join(dir, "postgres")) {
		return "", fmt.Errorf("%w (initdb is in %s but postgres is not)", ErrNoBinaries, dir)
	}
	return dir, nil
}

// highestDebianBinDir returns root/<version>/bin of the highest numeric version
// that has both programs, or "" when there is none.
func highestDebianBinDir(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	var versions []float64
	byVersion := map[float64]string{}
	for _, e := range entries {
		v, err := strconv.ParseFloat(e.Name(), 64) // "15", or "9.6" for old majors
		if err != nil {
			continue
		}
		bin := filepath.Join(root, e.Name(), "bin")
		if isExecutable(filepath.Join(bin, "initdb")) && isExecutable(filepath.Join(bin, "postgres")) {
			versions = append(versions, v)
			byVersion[v] = bin
		}
	}
	if len(versions) == 0 {
		return ""
	}
	sort.Float64s(versions)
	return byVersion[versions[len(versions)-1]]
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}
