// Package metricstest reads series back from a Prometheus registry in tests, so a
// test can assert that the code it ran moved the series an operator would watch.
package metricstest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// Labels select one series of a family; a label left out matches any value.
type Labels map[string]string

// Find gathers g and returns the series of the family name whose labels include
// want, or nil when there is none.
func Find(t testing.TB, g prometheus.Gatherer, name string, want Labels) *dto.Metric {
	t.Helper()
	families, err := g.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if matches(m, want) {
				return m
			}
		}
	}
	return nil
}

// Value is the value of a counter or gauge series, or the sample count of a
// histogram; 0 when the series does not exist yet.
func Value(t testing.TB, g prometheus.Gatherer, name string, want Labels) float64 {
	t.Helper()
	m := Find(t, g, name, want)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	t.Fatalf("series %s%v is neither a counter, a gauge nor a histogram", name, want)
	return 0
}

// Histogram is a histogram series, failing the test when there is none.
func Histogram(t testing.TB, g prometheus.Gatherer, name string, want Labels) *dto.Histogram {
	t.Helper()
	m := Find(t, g, name, want)
	require.NotNil(t, m, "no series %s%v", name, want)
	require.NotNil(t, m.Histogram, "series %s%v is not a histogram", name, want)
	return m.GetHistogram()
}

func matches(m *dto.Metric, want Labels) bool {
	found := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			found++
		}
	}
	return found == len(want)
}
