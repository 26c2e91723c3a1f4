package agent_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
)

func dispatch(t *testing.T, tool agent.Tool, args string) (agent.Result, error) {
	t.Helper()
	reg, err := agent.NewRegistry(tool)
	require.NoError(t, err)
	return reg.Dispatch(ctxTimeout(t), agent.Call{ID: "call_1", Name: tool.Spec().Name, Arguments: json.RawMessage(args)})
}

func TestConvertUnits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args, want string
	}{
		{`{"value":5,"from":"km","to":"m"}`, "5 km = 5000 m"},
		{`{"value":1,"from":"mile","to":"km"}`, "1 mi = 1.609344 km"},
		{`{"value":12,"from":"inches","to":"ft"}`, "12 in = 1 ft"},
		{`{"value":1,"from":"lb","to":"g"}`, "1 lb = 453.59237 g"},
		{`{"value":2,"from":"tonnes","to":"kg"}`, "2 t = 2000 kg"},
		{`{"value":1,"from":"gal","to":"L"}`, "1 gal = 3.785411784 l"},
		{`{"value":500,"from":"ml","to":"cup"}`, "500 ml = 2.113376419 cup"},
		{`{"value":100,"from":"C","to":"F"}`, "100 °C = 212 °F"},
		{`{"value":-40,"from":"°F","to":"°C"}`, "-40 °F = -40 °C"},
		{`{"value":0,"from":"K","to":"celsius"}`, "0 K = -273.15 °C"},
		{`{"value":98.6,"from":"fahrenheit","to":"K"}`, "98.6 °F = 310.15 K"},
		{`{"value":100,"from":"km/h","to":"m/s"}`, "100 km/h = 27.77777778 m/s"},
		{`{"value":60,"from":"mph","to":"km/h"}`, "60 mph = 96.56064 km/h"},
		{`{"value":1,"from":"ha","to":"m²"}`, "1 ha = 10000 m2"},
		{`{"value":1,"from":"acre","to":"sq ft"}`, "1 acre = 43560 ft2"},
		{`{"value":1,"from":"GB","to":"MB"}`, "1 GB = 1000 MB"},
		{`{"value":1,"from":"GiB","to":"MiB"}`, "1 GiB = 1024 MiB"},
		{`{"value":1,"from":"KB","to":"B"}`, "1 kB = 1000 B"},
		{`{"value":1,"from":"TB","to":"GiB"}`, "1 TB = 931.3225746 GiB"},
		{`{"value":1,"from":"KiB","to":"bit"}`, "1 KiB = 8192 bit"},
		{`{"value":90,"from":"min","to":"h"}`, "90 min = 1.5 h"},
		{`{"value":2,"from":"weeks","to":"days"}`, "2 wk = 14 d"},
		{`{"value":1500,"from":"ms","to":"s"}`, "1500 ms = 1.5 s"},
	}
	for _, c := range cases {
		res, err := dispatch(t, agent.ConvertUnits{}, c.args)
		require.NoError(t, err, c.args)
		require.Equal(t, c.want, res.Text, c.args)
	}
}

func TestConvertUnitsErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args, want string
	}{
		{`{"value":1,"from":"kg","to":"m"}`, "cannot convert kg (mass) to m (length): incompatible units"},
		{`{"value":1,"from":"parsec","to":"m"}`, `unknown unit "parsec"`},
		{`{"value":1,"from":"m","to":"furlongs"}`, `unknown unit "furlongs"`},
		{`{"value":-300,"from":"C","to":"K"}`, "below absolute zero"},
		{`{"value":"one","from":"m","to":"km"}`, `invalid arguments for tool "convert_units"`},
		{`{"from":"m","to":"km"}`, `invalid arguments for tool "convert_units"`},
		{`[1,2]`, "arguments must be a JSON object"},
	}
	for _, c := range cases {
		_, err := dispatch(t, agent.ConvertUnits{}, c.args)
		require.ErrorContains(t, err, c.want, c.args)
	}
}

func TestCurrentTime(t *testing.T) {
	t.Parallel()
	fixed := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC) // a Saturday
	tool := agent.CurrentTime{Now: func() time.Time { return fixed }}
	cases := []struct {
		args, want string
	}{
		{`{}`, "2026-03-14T15:09:26Z (Saturday, time zone UTC, UTC, UTC+00:00)"},
		{``, "2026-03-14T15:09:26Z (Saturday, time zone UTC, UTC, UTC+00:00)"},
		{`{"timezone":"Europe/Berlin"}`, "2026-03-14T16:09:26+01:00 (Saturday, time zone Europe/Berlin, CET, UTC+01:00)"},
		{`{"timezone":"America/New_York"}`, "2026-03-14T11:09:26-04:00 (Saturday, time zone America/New_York, EDT, UTC-04:00)"},
		{`{"timezone":"Asia/Kolkata"}`, "2026-03-14T20:39:26+05:30 (Saturday, time zone Asia/Kolkata, IST, UTC+05:30)"},
		{`{"timezone":"Pacific/Kiritimati"}`, "2026-03-15T05:09:26+14:00 (Sunday, time zone Pacific/Kiritimati, +14, UTC+14:00)"},
	}
	for _, c := range cases {
		res, err := dispatch(t, tool, c.args)
		require.NoError(t, err, c.args)
		require.Equal(t, c.want, res.Text, c.args)
	}
	for _, bad := range []string{"Mars/Olympus_Mons", "Local", "../../etc/passwd"} {
		_, err := dispatch(t, tool, `{"timezone":"`+bad+`"}`)
		require.ErrorContains(t, err, `unknown time zone "`+bad+`"`)
	}
	_, err := dispatch(t, tool, `{"timezone":"UTC","extra":1}`)
	require.ErrorContains(t, err, "invalid arguments")
}

func TestRegistryRejectsDuplicates(t *testing.T) {
	t.Parallel()
	reg, err := agent.NewRegistry(agent.CurrentTime{}, agent.ConvertUnits{}, agent.CurrentTime{})
	require.ErrorContains(t, err, `duplicate tool "current_time"`)
	require.Equal(t, []string{"current_time", "convert_units"}, reg.Names())
}

func TestCitationsFor(t *testing.T) {
	t.Parallel()
	ps := []agent.NumberedPassage{{Index: 1}, {Index: 2}, {Index: 3}, {Index: 10}}
	idx := func(cs []agent.Citation) (out []int) {
		for _, c := range cs {
			out = append(out, c.Index)
		}
		return out
	}
	require.Equal(t, []int{1, 3}, idx(agent.CitationsFor("a [3] b [1] c [1]", ps)))
	require.Equal(t, []int{2, 3, 10}, idx(agent.CitationsFor("see [2][3] and [10, 11]", ps)))
	require.Empty(t, agent.CitationsFor("no markers, [x], [ 1 ]x", []agent.NumberedPassage{{Index: 5}}))
}
