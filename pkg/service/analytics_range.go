package service

import (
	"time"
)

// Usage reports cover whole UTC days.
const (
	// defaultUsageDays is the range when the caller names none: the last 30 days,
	// today included.
	defaultUsageDays = 30
	// maxUsageDays bounds what one report may aggregate: a year, leap day included.
	maxUsageDays = 366
)

// UsageQuery is the range of a usage report as the caller wrote it: dates
// (2025-01-31) or RFC 3339 times, whose UTC day counts. Empty To is today; empty
// From is 30 days back from To.
type UsageQuery struct {
	From string
	To   string
}

// usageRange turns q into the first and last UTC day of the report, reporting every
// field at fault at once.
func usageRange(q UsageQuery, now time.Time) (first, last time.Time, err error) {
	var v validation
	last = utcDay(now)
	if q.To != "" {
		day, ok := parseUsageDay(q.To)
		if !ok {
			v.add("to", "must be a date like 2025-01-31 or an RFC 3339 time")
		}
		last = day
	}
	first = last.AddDate(0, 0, -(defaultUsageDays - 1))
	if q.From != "" {
		day, ok := parseUsageDay(q.From)
		if !ok {
			v.add("from", "must be a date like 2025-01-31 or an RFC 3339 time")
		}
		first = day
	}
	if err := v.err(); err != nil {
		return time.Time{}, time.Time{}, err
	}
	switch days := int(last.Sub(first).Hours()/24) + 1; {
	case days < 1:
		v.add("to", "must not be before from")
	case days > maxUsageDays:
		v.add("from", "the range spans %d days; at most %d are allowed", days, maxUsageDays)
	}
	if err := v.err(); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return first, last, nil
}

// parseUsageDay reads a date or an RFC 3339 time and returns its UTC day.
func parseUsageDay(s string) (time.Time, bool) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return utcDay(t), true
	}
	return time.Time{}, false
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
