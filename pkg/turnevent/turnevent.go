// Package turnevent names the events of a chat turn, as the agent worker publishes
// them on the turn's NATS subject and the API streams them to clients, and says
// which of them end a turn. Producers and readers share these names so a stream can
// never wait for an end its writer spells differently.
package turnevent

// Event types.
const (
	// Queued says where a turn waiting for the model stands (1: next); it comes
	// before Started, again whenever the place changes.
	Queued       = "turn.queued"
	Started      = "turn.started"
	Token        = "token"
	Thinking     = "thinking"
	ToolStarted  = "tool.started"
	ToolFinished = "tool.finished"
	// Restarted says the worker running the turn stopped and another took it over
	// from the start: clients discard the partial answer.
	Restarted = "turn.restarted"

	// A turn's stream ends with exactly one of these.
	Completed = "turn.completed"
	Failed    = "turn.failed"
	Cancelled = "turn.cancelled"
)

// IsTerminal reports whether an event ends a turn's stream.
func IsTerminal(eventType string) bool {
	return eventType == Completed || eventType == Failed || eventType == Cancelled
}
