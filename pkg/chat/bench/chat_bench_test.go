package bench_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"testing"
	"text/tabwriter"
	"time"
)

// The benchmark's settings: test flags, given after -args.
var (
	turnsFlag      = flag.Int("k", 100, "concurrent turns")
	tokensFlag     = flag.Int("tokens", 200, "tokens per turn")
	intervalFlag   = flag.Duration("interval", 10*time.Millisecond, "time between tokens")
	firstDelayFlag = flag.Duration("first", 200*time.Millisecond, "delay before the first token")
	// go test's own -cpuprofile covers the whole run, start-up and floors
	// included; this one covers the relay phase alone. For allocations, go
	// test's -memprofile is the whole run's.
	fairnessFlag        = flag.Bool("fairness", true, "also run the fairness scenario: 20 users, one posting 10 turns at once, a model answering 2 at a time")
	relayCPUProfileFlag = flag.String("relay-cpuprofile", "", "write a CPU profile of the relay phase to this file (relative to the package folder)")
	relayFlag           = flag.Bool("relay", true, "run the relay scenario: k turns at once beside the JetStream and HTTP floors, and the memory per stream")
	burstFlag           = flag.String("burst", "1,20,100", "run the burst scenario for each of these k (comma-separated; empty: none): k users start one turn each at the same instant")
	burstFirstFlag      = flag.Duration("burst-first", 50*time.Millisecond, "the model's time to the first token in the burst scenario")
	burstCPUProfileFlag = flag.String("burst-cpuprofile", "", "write a CPU profile of the bursts to this file (relative to the package folder)")
)

// options are the benchmark's settings, checked.
type options struct {
	k          int
	tokens     int
	interval   time.Duration
	firstDelay time.Duration
	cpuProfile string
}

func optionsFromFlags() (options, error) {
	o := options{k: *turnsFlag, tokens: *tokensFlag, interval: *intervalFlag, firstDelay: *firstDelayFlag, cpuProfile: *relayCPUProfileFlag}
	if o.k < 1 || o.tokens < 1 || o.tokens > 9999 {
		return o, errors.New("-k and -tokens must be positive (tokens at most 9999)")
	}
	if o.interval <= 0 {
		return o, errors.New("-interval must be positive")
	}
	return o, nil
}

// BenchmarkChat measures the chat path under load and prints a table. Run it
// once, with -benchtime 1x (make bench-chat); it ignores b.N.
func BenchmarkChat(b *testing.B) {
	o, err := optionsFromFlags()
	if err != nil {
		b.Fatal(err)
	}
	ks, err := parseBursts(*burstFlag)
	if err != nil {
		b.Fatal(err)
	}
	// The model answers every turn at once: so may the platform.
	parallel := o.k
	for _, k := range ks {
		parallel = max(parallel, k)
	}
	r := startWith(b, o, os.Getenv, map[string]string{"YW_MODEL_PARALLEL": strconv.Itoa(min(parallel, 1024))})
	ctx := b.Context()
	hop := newHTTPHop(b, o.k)
	if *relayFlag {
		relayScenario(b, r, hop, o)
	}
	if len(ks) > 0 {
		physics, err := burstFloors(ctx, r, hop)
		if err != nil {
			b.Fatal(err)
		}
		stopProfile, err := startCPUProfile(*burstCPUProfileFlag)
		if err != nil {
			b.Fatal(err)
		}
		res, err := bursts(ctx, r, ks, o)
		stopProfile()
		if err != nil {
			b.Fatal(err)
		}
		if err := printBursts(os.Stdout, physics, res, o); err != nil {
			b.Fatal(err)
		}
		for _, br := range res {
			b.ReportMetric(msFloat(br.overhead.p(50)), fmt.Sprintf("burst%d_ttft_overhead_p50_ms", br.k))
			b.ReportMetric(float64((br.cpu-br.modelCPU).Microseconds())/float64(max(1, br.tokens)), fmt.Sprintf("burst%d_platform_cpu_us/token", br.k))
		}
	}
	if *fairnessFlag {
		runs, err := fairness(b, o, os.Getenv)
		if err != nil {
			b.Fatalf("fairness: %v", err)
		}
		if err := printFairness(os.Stdout, runs); err != nil {
			b.Fatal(err)
		}
	}
}

// relayScenario runs k turns at once beside the floors and prints the relay table.
func relayScenario(b *testing.B, r *rig, hop *httpHop, o options) {
	ctx := b.Context()
	fmt.Printf("chat-bench: k=%d turns, %d tokens at %s after a %s first-token delay, GOMAXPROCS=%d\n",
		o.k, o.tokens, o.interval, o.firstDelay, runtime.GOMAXPROCS(0))

	floor, err := jetStreamFloor(ctx, r, o)
	if err != nil {
		b.Fatalf("jetstream floor: %v", err)
	}
	hopFloor, err := hop.floor(ctx, o.k, o)
	if err != nil {
		b.Fatalf("http floor: %v", err)
	}
	perStream, stackPerStream, err := streamMemory(ctx, r, o)
	if err != nil {
		b.Fatalf("stream memory: %v", err)
	}
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		b.Fatal(err)
	}
	res, err := relay(ctx, r, hop, o)
	stopProfile()
	if err != nil {
		b.Fatalf("relay: %v", err)
	}

	if err := printTable(os.Stdout, floor, hopFloor, res, perStream, stackPerStream, o); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(msFloat(res.relay.p(50)), "relay_p50_ms")
	b.ReportMetric(msFloat(res.relay.p(99)), "relay_p99_ms")
	b.ReportMetric(msFloat(res.ttft.p(50)), "ttft_p50_ms")
	b.ReportMetric(float64(res.lost+res.dup), "tokens_lost+dup")
}

// startCPUProfile profiles the CPU into path until stop; with no path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// printTable prints the figures beside their targets.
func printTable(stdout io.Writer, floor, hopFloor samples, res relayResult, perStream, stackPerStream float64, o options) error {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tp50\tp99\ttarget\tverdict\t")
	ratio := func(x, f time.Duration) string { return fmt.Sprintf("%.2f× floor", float64(x)/float64(f)) }
	fmt.Fprintf(tw, "JetStream floor (publish → ordered consumer)\t%s\t%s\t\t\t\n", ms(floor.p(50)), ms(floor.p(99)))
	fmt.Fprintf(tw, "token relay (model emit → SSE client)\t%s\t%s\tp50 ≤ 1.5×, p99 ≤ 2× floor\t%s\t\n",
		ms(res.relay.p(50)), ms(res.relay.p(99)),
		verdict(float64(res.relay.p(50)) <= 1.5*float64(floor.p(50)) && float64(res.relay.p(99)) <= 2*float64(floor.p(99))))
	fmt.Fprintf(tw, "  relay / floor\t%s\t%s\t\t\t\n", ratio(res.relay.p(50), floor.p(50)), ratio(res.relay.p(99), floor.p(99)))
	fmt.Fprintf(tw, "JetStream floor measured during the relay (probe)\t%s\t%s\t\t\t\n", ms(res.probe.p(50)), ms(res.probe.p(99)))
	fmt.Fprintf(tw, "  relay / floor during the relay\t%s\t%s\t\t\t\n", ratio(res.relay.p(50), res.probe.p(50)), ratio(res.relay.p(99), res.probe.p(99)))
	fmt.Fprintf(tw, "loopback HTTP stream hop (same load shape)\t%s\t%s\t\t\t\n", ms(hopFloor.p(50)), ms(hopFloor.p(99)))
	fmt.Fprintf(tw, "HTTP hop measured during the relay (probe)\t%s\t%s\t\t\t\n", ms(res.hopProbe.p(50)), ms(res.hopProbe.p(99)))
	hops := func(q float64) time.Duration { return res.probe.p(q) + 2*res.hopProbe.p(q) }
	fmt.Fprintf(tw, "  relay / (JetStream + 2 HTTP hops) during the relay\t%s\t%s\t\t\t\n", ratio(res.relay.p(50), hops(50)), ratio(res.relay.p(99), hops(99)))
	fmt.Fprintf(tw, "  model emit → stored in JetStream\t%s\t%s\t\t\t\n", ms(res.toStore.p(50)), ms(res.toStore.p(99)))
	fmt.Fprintf(tw, "  stored → SSE client\t%s\t%s\t\t\t\n", ms(res.fromStore.p(50)), ms(res.fromStore.p(99)))
	fmt.Fprintf(tw, "TTFT overhead (client first token − model first emit)\t%s\t%s\tp50 ≤ 10ms, p99 ≤ 50ms\t%s\t\n",
		ms(res.ttft.p(50)), ms(res.ttft.p(99)), verdict(res.ttft.p(50) <= 10*time.Millisecond && res.ttft.p(99) <= 50*time.Millisecond))
	fmt.Fprintf(tw, "turn wall time (submit → turn.completed)\t%s\t%s\t\t\t\n", ms(res.wall.p(50)), ms(res.wall.p(99)))
	fmt.Fprintf(tw, "tokens lost / duplicated\t%d / %d\t\t0 / 0\t%s\t\n", res.lost, res.dup, verdict(res.lost == 0 && res.dup == 0))
	fmt.Fprintf(tw, "token events per turn (coalescing)\t%.1f\t\t\t\t\n", float64(res.events)/float64(o.k))
	fmt.Fprintf(tw, "API memory per open stream (heap / stacks)\t%s / %s\t\t\t\t\n", kb(perStream), kb(stackPerStream))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "memory includes the in-process SSE client's side of each connection (one goroutine, 4 KiB read buffer, the transport's conn)")
	return nil
}

func msFloat(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", msFloat(d)) }
func kb(b float64) string       { return fmt.Sprintf("%.1f KiB", b/1024) }

// samples are latencies.
type samples []time.Duration

func (s samples) p(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	i := int(float64(len(c)-1) * q / 100)
	return c[i]
}
