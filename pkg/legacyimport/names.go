package legacyimport

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// names hands out names that no row has yet, case-insensitively, as the target's
// unique indexes on lower(name) require: not taken in the database (inUse) nor
// by an earlier claim of this run.
type names struct {
	inUse   func(ctx context.Context, name string) (bool, error)
	claimed map[string]bool
	max     int // longest name in runes
}

func newNames(inUse func(ctx context.Context, name string) (bool, error), max int) *names {
	return &names{inUse: inUse, claimed: map[string]bool{}, max: max}
}

// claim returns base, or base-2, base-3, … (shortened to fit), whichever is free,
// and marks it taken.
func (n *names) claim(ctx context.Context, base string) (string, error) {
	for i := 1; ; i++ {
		suffix := ""
		if i > 1 {
			suffix = fmt.Sprintf("-%d", i)
		}
		name := truncateRunes(base, n.max-utf8.RuneCountInString(suffix)) + suffix
		key := strings.ToLower(name)
		if n.claimed[key] {
			continue
		}
		used, err := n.inUse(ctx, name)
		if err != nil {
			return "", err
		}
		if !used {
			n.claimed[key] = true
			return name, nil
		}
	}
}

var notInUserName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// userNameBase is a legacy user name made to fit the rule here: 1–64 letters,
// digits, '.', '_' or '-'. Other characters become '-'.
func userNameBase(legacy string, id int64) string {
	s := notInUserName.ReplaceAllString(strings.TrimSpace(legacy), "-")
	s = strings.Trim(s, "-")
	if s == "" {
		s = fmt.Sprintf("user-%d", id)
	}
	return truncateRunes(s, 64)
}

// groupNameBase is a legacy group name made to fit the rule here: 1–100
// characters, no control characters.
func groupNameBase(legacy string, id int64) string {
	s := strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, legacy))
	if s == "" {
		s = fmt.Sprintf("group-%d", id)
	}
	return truncateRunes(s, 100)
}

func truncateRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
