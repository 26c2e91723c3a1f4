package legacyimport

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Counts are rows by kind.
type Counts struct {
	Users       int `json:"users"`
	LegacyKeys  int `json:"legacy_keys"`
	Groups      int `json:"groups"`
	Memberships int `json:"memberships"`
	Sessions    int `json:"sessions"`
	Messages    int `json:"messages"`
	Turns       int `json:"turns"`
	Documents   int `json:"documents"`
	// FromFiles and FromText split Documents: re-ingested from the upload root, or
	// rebuilt from the legacy collection's chunk texts (Chunks of them).
	FromFiles int `json:"from_files"`
	FromText  int `json:"from_text"`
	Chunks    int `json:"chunks"`
}

// MessageCounts say how the messages still to import read.
type MessageCounts struct {
	Decrypted     int `json:"decrypted"`
	Plain         int `json:"plain"`
	Undecryptable int `json:"undecryptable"`
	Empty         int `json:"empty"`
	OtherRole     int `json:"other_role"`
}

// Problem is something about one legacy row the operator should know: what the
// import does differently from a faithful copy, or cannot do.
type Problem struct {
	Object string `json:"object"` // user, group, membership, session, message, document, chunk, collection
	ID     int64  `json:"id,omitempty"`
	Text   string `json:"text"`
}

func (p Problem) String() string {
	if p.ID != 0 {
		return fmt.Sprintf("%s %d: %s", p.Object, p.ID, p.Text)
	}
	return fmt.Sprintf("%s: %s", p.Object, p.Text)
}

// Report is what a run found: the source, what it (would) import, what an earlier
// run imported already, and every problem.
type Report struct {
	Source      string `json:"source"`
	Fingerprint string `json:"fingerprint"`
	Collection  string `json:"collection"`
	Points      int    `json:"points"`
	DryRun      bool   `json:"dry_run"`
	// ToImport is what this run imports (a dry run: would import).
	ToImport Counts `json:"to_import"`
	// Already is what earlier runs imported (users, groups, sessions, documents).
	Already  Counts        `json:"already_imported"`
	Messages MessageCounts `json:"messages"`
	// History counts legacy rows that are not imported: tool runs, ingestion runs,
	// audit log entries.
	History  map[string]int64 `json:"history"`
	Problems []Problem        `json:"problems"`
	// Blocking are the reasons a real run refuses to start.
	Blocking []string `json:"blocking"`
	// JobID is the legacy-import job of a real run.
	JobID string `json:"job_id,omitempty"`
	// GroupMigrationJobID is the job that put documents without a group into their
	// owners' personal groups.
	GroupMigrationJobID string `json:"group_migration_job_id,omitempty"`
}

func (r *Report) problem(object string, id int64, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Object: object, ID: id, Text: fmt.Sprintf(format, args...)})
}

// WriteTo prints the report for an operator.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	verb := "Importing"
	if r.DryRun {
		verb = "A real run would import"
	}
	fmt.Fprintf(&b, "Legacy deployment: %s (fingerprint %s), collection %q with %d points\n", r.Source, r.Fingerprint, r.Collection, r.Points)
	c := r.ToImport
	fmt.Fprintf(&b, "%s:\n", verb)
	fmt.Fprintf(&b, "  users:       %d (%d with their legacy API key)\n", c.Users, c.LegacyKeys)
	fmt.Fprintf(&b, "  groups:      %d with %d memberships\n", c.Groups, c.Memberships)
	fmt.Fprintf(&b, "  chats:       %d sessions, %d messages (%d decrypted, %d stored in plain text), %d answered questions\n",
		c.Sessions, c.Messages, r.Messages.Decrypted, r.Messages.Plain, c.Turns)
	fmt.Fprintf(&b, "  documents:   %d: %d re-ingested from their files, %d rebuilt from %d chunk texts of the search index\n",
		c.Documents, c.FromFiles, c.FromText, c.Chunks)
	a := r.Already
	if a.Users+a.Groups+a.Sessions+a.Documents > 0 {
		fmt.Fprintf(&b, "Imported by an earlier run: %d users, %d groups, %d sessions, %d documents\n", a.Users, a.Groups, a.Sessions, a.Documents)
	}
	if len(r.History) > 0 {
		keys := make([]string, 0, len(r.History))
		for k := range r.History {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%d %s", r.History[k], strings.ReplaceAll(k, "_", " "))
		}
		fmt.Fprintf(&b, "Not imported (history): %s\n", strings.Join(parts, ", "))
	}
	if len(r.Problems) == 0 {
		b.WriteString("Problems: none\n")
	} else {
		fmt.Fprintf(&b, "Problems (%d):\n", len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "  - %s\n", p)
		}
	}
	for _, reason := range r.Blocking {
		fmt.Fprintf(&b, "A real run refuses to start: %s\n", reason)
	}
	if r.JobID != "" {
		fmt.Fprintf(&b, "Job: %s\n", r.JobID)
	}
	if r.GroupMigrationJobID != "" {
		fmt.Fprintf(&b, "Group migration job: %s\n", r.GroupMigrationJobID)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}
