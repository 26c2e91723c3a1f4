package service

// Groups manages groups and memberships.
type Groups struct{}
