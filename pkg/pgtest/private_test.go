package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStaleDirsOfExitedProcessesAreRemoved(t *testing.T) {
	t.Parallel()
	exited := exec.Command("true")
	require.NoError(t, exited.Run())
	root := t.TempDir()
	dir := func(pid int) string { return filepath.Join(root, privateDirPrefix+strconv.Itoa(pid)) }
	for _, d := range []string{dir(exited.Process.Pid), dir(os.Getppid()), filepath.Join(root, "unrelated")} {
		require.NoError(t, os.MkdirAll(filepath.Join(d, "base"), 0o700))
	}

	removeStaleDirs(root)

	require.NoDirExists(t, dir(exited.Process.Pid), "its process has exited")
	require.DirExists(t, dir(os.Getppid()), "its process is still running")
	require.DirExists(t, filepath.Join(root, "unrelated"))
}
