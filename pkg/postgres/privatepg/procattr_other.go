//go:build !linux

package privatepg

import "syscall"

// childAttr runs the child as the owner; outside Linux there is no parent-death
// signal, so a server outlives a process that dies without closing it.
func childAttr(o *owner) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	if o != nil {
		attr.Credential = o.credential()
	}
	return attr
}
