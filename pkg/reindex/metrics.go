package reindex

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/youworker/youworker/pkg/promreg"
	"github.com/youworker/youworker/pkg/store"
)

// Metrics shows how far the running operator job of each kind has come, as
// it writes its checkpoints. The series of a kind exist only while one of its
// jobs runs on this process. A nil *Metrics records nothing.
type Metrics struct {
	done  *prometheus.GaugeVec
	total *prometheus.GaugeVec
}

// NewMetrics builds the collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		done: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "yw_reindex_job_done",
			Help: "Items (documents, users or chunks) the running re-index job of a kind has done.",
		}, []string{"kind"}),
		total: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "yw_reindex_job_total",
			Help: "Items the running re-index job of a kind has to do; done/total is its progress.",
		}, []string{"kind"}),
	}
	if err := promreg.Register(reg, "re-index", m.done, m.total); err != nil {
		return nil, err
	}
	return m, nil
}

// progress shows a running job's progress.
func (m *Metrics) progress(kind string, p store.JobProgress) {
	if m == nil {
		return
	}
	kind = kindLabel(kind)
	m.done.WithLabelValues(kind).Set(float64(p.Done))
	m.total.WithLabelValues(kind).Set(float64(p.Total))
}

// stopped removes the series of a job that no longer runs here, so a
// dashboard does not show a finished job as stuck.
func (m *Metrics) stopped(kind string) {
	if m == nil {
		return
	}
	kind = kindLabel(kind)
	m.done.DeleteLabelValues(kind)
	m.total.DeleteLabelValues(kind)
}

func kindLabel(kind string) string {
	switch kind {
	case store.KindACLSync, store.KindGroupMigration, store.KindReEmbed, store.KindVerify:
		return kind
	}
	return "other"
}
