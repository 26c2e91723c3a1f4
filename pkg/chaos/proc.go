package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Proc is one program the harness runs as an OS process of its own, started,
// killed and started again under the same name, address and environment.
type Proc struct {
	// Name is unique in a run: "api-1", "nats-2", "ingest-worker-3".
	Name string
	// Kind is the program kind the chaos picks victims by: "api", "nats", ...
	Kind string
	// Ready is the URL that answers 200 once the process serves (its readiness
	// probe), or a host:port that accepts connections when it has no HTTP probe.
	Ready string

	bin     string
	args    []string
	env     []string
	logPath string

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the current process has exited
	exitErr  error
	killed   bool // the harness ended it: its exit is expected
	starts   int
	unwanted []string // exits the harness did not cause
}

// Start launches the process, its output appended to its log file. The child
// gets SIGKILL if the harness dies, so a failed run leaves nothing behind.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !closed(p.exited) {
		return fmt.Errorf("%s is already running", p.Name)
	}
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log of %s: %w", p.Name, err)
	}
	p.starts++
	fmt.Fprintf(logFile, "\n=== chaos: start %d of %s at %s\n", p.starts, p.Name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	exited := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// The parent-death signal follows the thread that started the child: that
		// thread stays with this goroutine until the child has exited.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			_ = logFile.Close()
			close(exited)
			return
		}
		started <- nil
		err := cmd.Wait()
		_ = logFile.Close()
		p.mu.Lock()
		p.exitErr = err
		if !p.killed {
			p.unwanted = append(p.unwanted, fmt.Sprintf("%s exited on its own at %s: %v", p.Name, time.Now().Format("15:04:05.000"), err))
		}
		p.mu.Unlock()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	p.cmd, p.exited, p.killed, p.exitErr = cmd, exited, false, nil
	return nil
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Running reports whether the process is alive.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !closed(p.exited)
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() { p.signal(syscall.SIGKILL, 0) }

// Stop asks the process to shut down (SIGTERM) and kills it after grace.
func (p *Proc) Stop(grace time.Duration) { p.signal(syscall.SIGTERM, grace) }

func (p *Proc) signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	if cmd == nil || closed(exited) {
		p.mu.Unlock()
		return
	}
	p.killed = true
	p.mu.Unlock()
	_ = cmd.Process.Signal(sig)
	if sig == syscall.SIGKILL {
		<-exited
		return
	}
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Unwanted returns the exits the harness did not cause.
func (p *Proc) Unwanted() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.unwanted...)
}

// WaitReady polls the process's readiness until it answers, the process exits
// or ctx ends.
func (p *Proc) WaitReady(ctx context.Context) error {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	hc := &http.Client{Timeout: 2 * time.Second}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if p.ready(ctx, hc) {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited before it was ready (%v); see %s", p.Name, p.exitErr, p.logPath)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w; see %s", p.Name, ctx.Err(), p.logPath)
		case <-t.C:
		}
	}
}

func (p *Proc) ready(ctx context.Context, hc *http.Client) bool {
	if len(p.Ready) > 4 && p.Ready[:4] == "http" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Ready, nil)
		if err != nil {
			return false
		}
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	conn, err := net.DialTimeout("tcp", p.Ready, time.Second)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// freePorts reserves n distinct free loopback ports. Each stays the process's
// address across restarts, so clients keep one list of addresses.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, errors.Join(errors.New("find free ports"), err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
