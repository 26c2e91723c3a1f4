package parse

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRenderTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		rows [][]string
		want string
	}{
		{"empty", nil, ""},
		{"no cells", [][]string{{}, {}}, ""},
		{"header only", [][]string{{"a", "b"}}, "| a | b |\n| --- | --- |"},
		{"body", [][]string{{"Name", "Qty"}, {"Apples", "3"}}, "| Name | Qty |\n| --- | --- |\n| Apples | 3 |"},
		{"ragged rows padded", [][]string{{"a"}, {"1", "2", "3"}}, "| a |  |  |\n| --- | --- | --- |\n| 1 | 2 | 3 |"},
		{"pipes and breaks escaped", [][]string{{"x|y", "back\\slash"}, {" multi\r\nline\tcell ", ""}},
			"| x\\|y | back\\\\slash |\n| --- | --- |\n| multi line cell |  |"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, renderTable(tc.rows))
		})
	}
}

func TestAddTableSplitsLargeTablesRepeatingHeader(t *testing.T) {
	t.Parallel()
	rows := [][]string{{"id", "text"}}
	for range 3000 {
		rows = append(rows, []string{"1", strings.Repeat("x", 40)})
	}
	s := newSink(newBudget(t.Context(), DefaultLimits()))
	require.NoError(t, addTable(s, rows, 2))
	require.Greater(t, len(s.blocks), 5)
	body := 0
	for _, b := range s.blocks {
		require.Equal(t, KindTable, b.Kind)
		require.Equal(t, 2, b.Page)
		require.Equal(t, []string{"id", "text"}, b.Rows[0])
		require.LessOrEqual(t, len(b.Text), tableBlockBytes)
		require.Equal(t, renderTable(b.Rows), b.Text)
		body += len(b.Rows) - 1
	}
	require.Equal(t, 3000, body)
}

func TestAddTableChargesPadding(t *testing.T) {
	t.Parallel()
	// One very wide header and many one-cell rows: the Markdown is far larger
	// than the cells, and the budget must see that before rendering.
	header := make([]string, 5000)
	rows := [][]string{header}
	for range 2000 {
		rows = append(rows, []string{"x"})
	}
	s := newSink(newBudget(t.Context(), Limits{MaxTextBytes: 1 << 20}))
	require.Equal(t, CodeTooLarge, CodeOf(addTable(s, rows, 0)))
}

func TestTableStreamMatchesAddTable(t *testing.T) {
	t.Parallel()
	ragged := [][]string{{"a", "b"}, {"1"}, {"2", "3", "4"}, {"x | y", `back\slash`}}
	long := [][]string{{"id", "text"}}
	for range 3000 {
		long = append(long, []string{"1", strings.Repeat("x", 40)})
	}
	for _, rows := range [][][]string{{{"only", "header"}}, ragged, long} {
		want := newSink(newBudget(t.Context(), DefaultLimits()))
		require.NoError(t, addTable(want, rows, 3))
		got := newSink(newBudget(t.Context(), DefaultLimits()))
		ts := &tableStream{s: got, page: 3}
		for _, r := range rows {
			require.NoError(t, ts.add(r))
		}
		require.NoError(t, ts.close())
		// Rows of one width split where addTable splits them; a table of one
		// block comes out the same whatever its rows.
		require.Equal(t, want.blocks, got.blocks)
		require.Equal(t, want.b.text, got.b.text, "text charged")
	}
}

func TestTableStreamHoldsOneBlock(t *testing.T) {
	t.Parallel()
	b := newBudget(t.Context(), DefaultLimits())
	ts := &tableStream{s: newSink(b)}
	require.NoError(t, ts.add([]string{"id", "text"}))
	maxPending := int64(0)
	for range 10000 {
		require.NoError(t, ts.add([]string{"1", strings.Repeat("x", 40)}))
		maxPending = max(maxPending, ts.held)
	}
	require.NoError(t, ts.close())
	// What waits for a block is never more than a block's rows.
	require.Less(t, maxPending, int64(tableBlockRows*rowCost([]string{"1", strings.Repeat("x", 40)})+rowCost([]string{"id", "text"})))
	require.Zero(t, ts.held)
	held := int64(0)
	for _, blk := range ts.s.blocks {
		held += blockCost(blk)
	}
	require.Equal(t, held, b.held, "the blocks hold what is charged")
}
