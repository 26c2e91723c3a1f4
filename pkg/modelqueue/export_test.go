package modelqueue

import "time"

// Snapshot and AnnouncedAt let the tests check the announcement's format.
func Snapshot(at time.Time, granted, waiting []string) any {
	return snapshot{At: at, Granted: granted, Waiting: waiting}
}

var AnnouncedAt = announcedAt
