package queue

import "time"

// SetObjectOpenTimeout shortens the bound on opening an object, for a test; it
// returns the restore function.
func SetObjectOpenTimeout(d time.Duration) (restore func()) {
	old := objectOpenTimeout
	objectOpenTimeout = d
	return func() { objectOpenTimeout = old }
}
