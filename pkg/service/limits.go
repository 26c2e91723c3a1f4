package service

// Codes of the per-user limits: each answers 429 with Retry-After, and the caller
// can act on it by waiting for its own work to end.
const (
	// CodeTooManyTurns refuses a new turn while the user has the maximum running.
	CodeTooManyTurns Code = "too_many_turns"
	// CodeTooManyStreams refuses a new event stream while the user has the maximum open.
	CodeTooManyStreams Code = "too_many_streams"
)
