package privatepg

import "syscall"

// childAttr ties the server's life to this process: if it dies without closing the
// server (a killed test binary, a crashed program), the kernel sends the server
// SIGTERM. The signal follows the thread that started the child, which is why
// Start launches the server from a goroutine locked to its thread.
func childAttr(o *owner) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if o != nil {
		attr.Credential = o.credential()
	}
	return attr
}
