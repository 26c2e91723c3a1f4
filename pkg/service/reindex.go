package service

// Reindex runs operator re-index jobs.
type Reindex struct{}
