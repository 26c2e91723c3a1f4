package privatepg

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// owner is the system account the server runs as when this process is root,
// because PostgreSQL refuses to run as root.
type owner struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32
}

// serverOwner returns nil when the server can run as the current user, or the
// postgres account when the current user is root.
func serverOwner() (*owner, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root and there is no postgres system user to run it as (%v): run as another user or set YW_DATABASE_URL", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("postgres system user has a non-numeric uid or gid (%s:%s)", u.Uid, u.Gid)
	}
	o := &owner{name: u.Username, uid: uint32(uid), gid: uint32(gid)}
	ids, _ := u.GroupIds()
	for _, id := range ids {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil {
			o.groups = append(o.groups, uint32(g))
		}
	}
	return o, nil
}

// credential makes a child process run as the owner.
func (o *owner) credential() *syscall.Credential {
	return &syscall.Credential{Uid: o.uid, Gid: o.gid, Groups: o.groups}
}

// take gives the owner the data directory, and fails with a clear message when one
// of its parents does not let the owner through: a directory under root's home is
// the usual case, and initdb's own error would not say what to do.
func (o *owner) take(dir string) error {
	if err := os.Chown(dir, int(o.uid), int(o.gid)); err != nil {
		return fmt.Errorf("give %s to the %s user: %w", dir, o.name, err)
	}
	if parent := o.closedParent(dir); parent != "" {
		return fmt.Errorf("the %s user, which runs PostgreSQL for root, cannot reach %s: %s is closed to it; choose a data directory it can reach (YW_DATA_DIR) or set YW_DATABASE_URL", o.name, dir, parent)
	}
	return nil
}

// closedParent returns the first directory above path the owner may not pass
// through, or "" when it reaches path.
func (o *owner) closedParent(path string) string {
	for parent := filepath.Dir(path); ; parent = filepath.Dir(parent) {
		if !o.canSearch(parent) {
			return parent
		}
		if parent == filepath.Dir(parent) {
			return ""
		}
	}
}

// canSearch tells whether the owner may pass through dir, by its permission bits.
func (o *owner) canSearch(dir string) bool {
	info, err := os.Stat(dir)
	if err != nil {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return true // cannot tell; let the server's own error speak
	}
	mode := info.Mode().Perm()
	switch {
	case st.Uid == o.uid:
		return mode&0o100 != 0
	case o.inGroup(st.Gid):
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}

func (o *owner) inGroup(gid uint32) bool {
	if gid == o.gid {
		return true
	}
	for _, g := range o.groups {
		if g == gid {
			return true
		}
	}
	return false
}
