package apitest

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"
)

// Event is one server-sent event of a turn's stream.
type Event struct {
	ID   uint64
	Type string
	Data string
	At   time.Time // when it arrived
}

// ReadEvents decodes the server-sent events of r, calling each with every
// complete event until each returns false or r ends; it returns r's error, if
// any, or the error of an id that is not a number.
func ReadEvents(r io.Reader, each func(Event) bool) error {
	var cur Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Type != "" {
				cur.At = time.Now()
				if !each(cur) {
					return nil
				}
			}
			cur = Event{}
		case strings.HasPrefix(line, "id: "):
			id, err := strconv.ParseUint(strings.TrimPrefix(line, "id: "), 10, 64)
			if err != nil {
				return err
			}
			cur.ID = id
		case strings.HasPrefix(line, "event: "):
			cur.Type = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.Data = strings.TrimPrefix(line, "data: ")
		}
	}
	return sc.Err()
}
