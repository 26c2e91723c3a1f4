package queue

import (
	"context"
	"time"
)

// SetObjectOpenTimeout shortens the bound on opening an object, for a test; it
// returns the restore function.
func SetObjectOpenTimeout(d time.Duration) (restore func()) {
	old := objectOpenTimeout
	objectOpenTimeout = d
	return func() { objectOpenTimeout = old }
}

// LagLastStored makes t's lookups of a turn's last stored event answer as a
// stream leader that has not yet applied that event would: with the one
// before it.
func LagLastStored(t *Turns) {
	t.lastStored = func(ctx context.Context, turnID string) (uint64, error) {
		last, err := t.lastSeqOf(ctx, turnID)
		if err != nil || last == 0 {
			return last, err
		}
		stream, err := t.turnsStream(ctx)
		if err != nil {
			return 0, err
		}
		for seq := last - 1; seq > 0; seq-- {
			msg, err := stream.GetMsg(ctx, seq)
			if err != nil {
				continue
			}
			if msg.Subject == TurnSubject(turnID) {
				return seq, nil
			}
		}
		return 0, nil
	}
}
