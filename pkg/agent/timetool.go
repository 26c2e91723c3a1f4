package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/youworker/youworker/pkg/llm"
)

// CurrentTime is the current_time tool: models do not know the date, and
// users ask "what day is it" or "how many days until...".
type CurrentTime struct {
	// Now returns the current time; nil means time.Now. Tests pin it.
	Now func() time.Time
}

var currentTimeSchema = json.RawMessage(`{
  "type": "object",
  "properties": {
    "timezone": {"type": "string", "description": "IANA time zone name, for example Europe/Berlin. Default UTC."}
  },
  "additionalProperties": false
}`)

// Spec implements Tool.
func (CurrentTime) Spec() llm.ToolSpec {
	return llm.ToolSpec{
		Name:        "current_time",
		Description: "Get the current date, time and weekday, optionally in an IANA time zone.",
		Parameters:  currentTimeSchema,
	}
}

// Call implements Tool.
func (c CurrentTime) Call(_ context.Context, call Call) (Result, error) {
	var args struct {
		Timezone string `json:"timezone"`
	}
	if err := decodeArgs(call.Arguments, &args); err != nil {
		return Result{}, err
	}
	name := strings.TrimSpace(args.Timezone)
	if name == "" {
		name = "UTC"
	}
	// LoadLocation also accepts "Local" and file paths relative to the zone
	// database; only proper zone names make sense to a user.
	if name == "Local" || strings.Contains(name, "..") {
		return Result{}, toolErrorf("unknown time zone %q: use an IANA name such as Europe/Berlin", args.Timezone)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return Result{}, toolErrorf("unknown time zone %q: use an IANA name such as Europe/Berlin", args.Timezone)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	t := now().In(loc)
	abbr, offset := t.Zone()
	text := fmt.Sprintf("%s (%s, time zone %s, %s, UTC%s)",
		t.Format(time.RFC3339), t.Weekday(), loc.String(), abbr, formatOffset(offset))
	return Result{Text: text, Preview: text}, nil
}

func formatOffset(seconds int) string {
	sign := "+"
	if seconds < 0 {
		sign = "-"
		seconds = -seconds
	}
	return fmt.Sprintf("%s%02d:%02d", sign, seconds/3600, seconds%3600/60)
}
