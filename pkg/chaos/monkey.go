package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// MonkeyConfig says what the chaos does and how often.
type MonkeyConfig struct {
	// Gap is the pause between two kills: uniformly between its two values.
	Gap [2]time.Duration
	// Down is how long a killed process stays down.
	Down [2]time.Duration
	// Kinds are the kinds of process killed, in a shuffled round each time.
	Kinds []string
	// PostgresAt restarts PostgreSQL once, this long after the start (0: never).
	PostgresAt time.Duration
	// PostgresDown is how long PostgreSQL stays down.
	PostgresDown time.Duration
}

// Kill is one act of the chaos and how long the platform took to recover from it.
type Kill struct {
	Victim string
	// At is the time since the chaos started.
	At time.Duration
	// Down is how long the process stayed down.
	Down time.Duration
	// Recovered is the time from the kill until the restarted process (for
	// PostgreSQL: every program) was ready again; Err says why it never was.
	Recovered time.Duration
	Err       error
}

// monkey kills processes at random moments and starts them again.
type monkey struct {
	cfg     MonkeyConfig
	cluster *Cluster
	rng     *rand.Rand
	logf    func(string, ...any)

	mu    sync.Mutex
	kills []Kill
	start time.Time
}

func newMonkey(cfg MonkeyConfig, c *Cluster, seed uint64, logf func(string, ...any)) *monkey {
	return &monkey{cfg: cfg, cluster: c, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), logf: logf}
}

func (m *monkey) between(r [2]time.Duration) time.Duration {
	if r[1] <= r[0] {
		return r[0]
	}
	return r[0] + time.Duration(m.rng.Int64N(int64(r[1]-r[0])))
}

// run kills and restarts until ctx ends, then makes sure every process runs.
func (m *monkey) run(ctx context.Context) {
	m.start = time.Now()
	pgDone := m.cfg.PostgresAt == 0
	var round []string
	for {
		pause(ctx, m.between(m.cfg.Gap))
		if ctx.Err() != nil {
			break
		}
		m.revive(ctx)
		if !pgDone && time.Since(m.start) >= m.cfg.PostgresAt {
			pgDone = true
			m.restartPostgres(ctx)
			continue
		}
		if len(round) == 0 {
			round = append([]string(nil), m.cfg.Kinds...)
			m.rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		}
		kind := round[0]
		round = round[1:]
		procs := m.cluster.Procs(kind)
		if len(procs) == 0 {
			continue
		}
		m.kill(ctx, procs[m.rng.IntN(len(procs))])
	}
	m.revive(context.WithoutCancel(ctx))
}

// kill SIGKILLs one process, waits, starts it again and times its recovery.
func (m *monkey) kill(ctx context.Context, p *Proc) {
	k := Kill{Victim: p.Name, At: time.Since(m.start), Down: m.between(m.cfg.Down)}
	killed := time.Now()
	p.Kill()
	m.logf("chaos: killed %s (down %s)", p.Name, k.Down.Round(time.Millisecond))
	pause(ctx, k.Down)
	k.Err = startAndWait(ctx, p)
	k.Recovered = time.Since(killed)
	m.record(k)
}

// restartPostgres stops the database under the running programs and starts it
// again, timing until every program is ready.
func (m *monkey) restartPostgres(ctx context.Context) {
	k := Kill{Victim: "postgres (restart)", At: time.Since(m.start), Down: m.cfg.PostgresDown}
	stopped := time.Now()
	m.logf("chaos: restarting PostgreSQL (down %s)", k.Down)
	if err := m.cluster.RestartPostgres(ctx, k.Down); err != nil {
		k.Err = err
	} else {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startTimeout)
		for _, p := range m.cluster.Procs("") {
			if err := p.WaitReady(rctx); err != nil && k.Err == nil {
				k.Err = err
			}
		}
		cancel()
	}
	k.Recovered = time.Since(stopped)
	m.record(k)
}

// revive starts any process that exited on its own (recorded as unwanted).
func (m *monkey) revive(ctx context.Context) {
	for _, p := range m.cluster.Procs("") {
		if p.Running() {
			continue
		}
		m.logf("chaos: %s is not running; starting it again", p.Name)
		k := Kill{Victim: p.Name + " (exited by itself)", At: time.Since(m.start)}
		started := time.Now()
		k.Err = startAndWait(ctx, p)
		k.Recovered = time.Since(started)
		m.record(k)
	}
}

func (m *monkey) record(k Kill) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kills = append(m.kills, k)
	if k.Err != nil {
		m.logf("chaos: %s did not recover: %v", k.Victim, k.Err)
	} else {
		m.logf("chaos: %s ready again %s after the kill", k.Victim, k.Recovered.Round(time.Millisecond))
	}
}

func (m *monkey) Kills() []Kill {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Kill(nil), m.kills...)
}

func (k Kill) String() string {
	rec := k.Recovered.Round(10 * time.Millisecond).String()
	if k.Err != nil {
		rec = "never: " + k.Err.Error()
	}
	return fmt.Sprintf("%8.1fs  %-28s down %-7s ready after %s", k.At.Seconds(), k.Victim, k.Down.Round(10*time.Millisecond), rec)
}

// startAndWait starts p again and waits until it serves.
func startAndWait(ctx context.Context, p *Proc) error {
	if err := p.Start(); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startTimeout)
	defer cancel()
	return p.WaitReady(rctx)
}
