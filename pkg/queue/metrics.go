package queue

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/youworker/youworker/pkg/promreg"
)

// Outcomes of a handled job, the "outcome" label of the jobs counter.
const (
	// OutcomeAck: the handler succeeded and the job was acknowledged.
	OutcomeAck = "ack"
	// OutcomeRetry: the handler failed and the job will be redelivered
	// (including jobs handed back at shutdown).
	OutcomeRetry = "retry"
	// OutcomeTerm: the handler returned a permanent error (or panicked); the
	// job was terminated and copied to the dead-letter stream.
	OutcomeTerm = "term"
	// OutcomeDeadLetter: the job failed on its last allowed delivery and was
	// copied to the dead-letter stream.
	OutcomeDeadLetter = "dead_letter"
)

// Metrics holds the queue's Prometheus collectors. A nil *Metrics is valid
// and records nothing, so tests and tools need not build one.
type Metrics struct {
	jobs      *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	inFlight  *prometheus.GaugeVec
	events    *prometheus.CounterVec
	publishes *prometheus.CounterVec
	// redelivered and deadLetters answer "are jobs failing or timing out, and
	// which kind": a job delivered again, and a job given up on.
	redelivered *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
}

// NewMetrics builds the collectors and registers them on reg. reg may be nil
// to build unregistered collectors.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "yw", Subsystem: "queue", Name: "jobs_handled_total",
			Help: "Jobs handled, by consumer and outcome (ack, retry, term, dead_letter).",
		}, []string{"consumer", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "yw", Subsystem: "queue", Name: "handler_duration_seconds",
			Help:    "Time spent in job handlers, by consumer.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10ms .. ~45min
		}, []string{"consumer"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "yw", Subsystem: "queue", Name: "jobs_in_flight",
			Help: "Job handlers currently running, by consumer.",
		}, []string{"consumer"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "yw", Subsystem: "queue", Name: "turn_events_published_total",
			Help: "Turn events published, by event type.",
		}, []string{"type"}),
		publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "yw", Subsystem: "queue", Name: "jobs_published_total",
			Help: "Jobs published, by subject and whether the stream dropped them as duplicates.",
		}, []string{"subject", "duplicate"}),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yw_queue_redelivered_total",
			Help: "Jobs delivered again after a failure, a timeout or a worker stopping, by consumer.",
		}, []string{"consumer"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yw_queue_dead_letters_total",
			Help: "Jobs copied to the dead-letter stream, by job subject.",
		}, []string{"subject"}),
	}
	if reg == nil {
		return m, nil
	}
	if err := promreg.Register(reg, "queue", m.jobs, m.duration, m.inFlight, m.events, m.publishes, m.redelivered, m.deadLetters); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) handled(consumer, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.jobs.WithLabelValues(consumer, outcome).Inc()
	m.duration.WithLabelValues(consumer).Observe(d.Seconds())
}

func (m *Metrics) outcome(consumer, outcome string) {
	if m == nil {
		return
	}
	m.jobs.WithLabelValues(consumer, outcome).Inc()
}

func (m *Metrics) addInFlight(consumer string, delta float64) {
	if m == nil {
		return
	}
	m.inFlight.WithLabelValues(consumer).Add(delta)
}

func (m *Metrics) eventPublished(eventType string) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(eventType).Inc()
}

func (m *Metrics) published(subject string, duplicate bool) {
	if m == nil {
		return
	}
	d := "false"
	if duplicate {
		d = "true"
	}
	m.publishes.WithLabelValues(subject, d).Inc()
}

// delivered counts a delivery past the first as a redelivery.
func (m *Metrics) delivered(consumer string, delivery uint64) {
	if m == nil || delivery <= 1 {
		return
	}
	m.redelivered.WithLabelValues(consumer).Inc()
}

// deadLettered counts a job stored on the dead-letter stream. The subject is
// a label only when it is a job subject some consumer takes: a message
// published by hand on another subject under jobs.> counts as "other".
func (m *Metrics) deadLettered(subject string) {
	if m == nil {
		return
	}
	if !knownSubject(subject) {
		subject = "other"
	}
	m.deadLetters.WithLabelValues(subject).Inc()
}

func knownSubject(subject string) bool {
	for _, c := range consumers {
		if slices.Contains(ConsumerSubjects(c), subject) {
			return true
		}
	}
	return false
}
