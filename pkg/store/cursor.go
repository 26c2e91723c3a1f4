package store

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Cursor marks a position in a list ordered by (created_at DESC, id DESC).
type Cursor struct {
	At time.Time
	ID string
}

// Encode renders the cursor as the opaque string clients pass back.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.At.UTC().Format(time.RFC3339Nano) + "|" + c.ID))
}

// DecodeCursor parses a cursor from Encode; "" is the start of the list.
func DecodeCursor(s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid cursor")
	}
	at, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return nil, fmt.Errorf("invalid cursor")
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil || len(id) != 36 {
		return nil, fmt.Errorf("invalid cursor")
	}
	return &Cursor{At: t, ID: id}, nil
}

// Page is a slice of a list with the cursor of the next slice (nil at the end).
type Page[T any] struct {
	Items []T
	Next  *string
}

// pageOf trims one look-ahead row and computes the next cursor from the last kept row.
func pageOf[T any](rows []T, limit int, key func(T) Cursor) Page[T] {
	if len(rows) <= limit {
		return Page[T]{Items: rows}
	}
	rows = rows[:limit]
	next := key(rows[len(rows)-1]).Encode()
	return Page[T]{Items: rows, Next: &next}
}
