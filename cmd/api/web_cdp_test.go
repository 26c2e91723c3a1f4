package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/websocket"
)

// A minimal Chrome DevTools Protocol client, enough to drive the web UI in a real
// headless Chromium: browser contexts (separate cookie jars), navigation, script
// evaluation, typing, file inputs and screenshots. It speaks CDP's JSON messages
// over one websocket with flattened target sessions.

// browser is a running headless Chromium.
type browser struct {
	t       *testing.T
	ws      *websocket.Conn
	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan cdpMessage
	// problems collects uncaught exceptions, console errors and CSP violations per session.
	problems map[string][]string
	closed   chan struct{}
}

type cdpMessage struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

var devtoolsURL = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// findChromium returns the browser binary, or skips (fails under CI=true) without one.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("YW_TEST_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "web UI browser tests need Chromium: apt-get install -y chromium (or set YW_TEST_CHROMIUM)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startBrowser launches headless Chromium with a fresh profile and connects to it.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	bin := findChromium(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-port=0", "--remote-allow-origins=http://127.0.0.1", "--window-size=1280,860", "about:blank")
	// Its own process group, so the renderer and helper processes go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(cancel)

	found := make(chan string, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if m := devtoolsURL.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
			if log.Len() < 8000 {
				log.WriteString(line + "\n")
			}
		}
	}()
	var wsURL string
	select {
	case wsURL = <-found:
	case <-exited:
		t.Fatalf("chromium exited at start")
	case <-time.After(30 * time.Second):
		t.Fatalf("chromium did not open its DevTools port within 30s")
	}
	ws, err := websocket.Dial(wsURL, "", "http://127.0.0.1")
	require.NoError(t, err, "connect to chromium")
	ws.MaxPayloadBytes = 64 << 20
	b := &browser{t: t, ws: ws, pending: map[int64]chan cdpMessage{}, problems: map[string][]string{}, closed: make(chan struct{})}
	go b.read()
	t.Cleanup(func() {
		// A graceful close lets Chromium finish writing its profile before the temp
		// dir is removed; a kill of the whole group is the fallback.
		_ = b.call("", "Browser.close", nil, nil)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cancel()
			<-exited
		}
		_ = ws.Close()
		<-b.closed
	})
	return b
}

func (b *browser) read() {
	defer close(b.closed)
	for {
		var raw []byte
		if err := websocket.Message.Receive(b.ws, &raw); err != nil {
			b.mu.Lock()
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var msg cdpMessage
		if json.Unmarshal(raw, &msg) != nil {
			continue
		}
		if msg.ID != 0 {
			b.mu.Lock()
			ch := b.pending[msg.ID]
			delete(b.pending, msg.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- msg
			}
			continue
		}
		b.event(msg)
	}
}

// event records what a test must never see: uncaught exceptions, console errors,
// and Content-Security-Policy violations (reported through the Log domain).
func (b *browser) event(msg cdpMessage) {
	var problem string
	switch msg.Method {
	case "Runtime.exceptionThrown":
		var p struct {
			ExceptionDetails struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		_ = json.Unmarshal(msg.Params, &p)
		problem = "exception: " + p.ExceptionDetails.Text + " " + p.ExceptionDetails.Exception.Description
	case "Log.entryAdded":
		var p struct {
			Entry struct {
				Source string `json:"source"`
				Level  string `json:"level"`
				Text   string `json:"text"`
				URL    string `json:"url"`
			} `json:"entry"`
		}
		_ = json.Unmarshal(msg.Params, &p)
		// Failed requests the UI handles on purpose (401 before sign-in, 403 in the CSRF
		// check, 404 probes) show up as network errors; scripts and security must stay clean.
		if p.Entry.Level == "error" && p.Entry.Source != "network" {
			problem = fmt.Sprintf("log %s: %s %s", p.Entry.Source, p.Entry.Text, p.Entry.URL)
		}
	}
	if problem != "" {
		b.mu.Lock()
		b.problems[msg.SessionID] = append(b.problems[msg.SessionID], problem)
		b.mu.Unlock()
	}
}

// call sends one command and decodes its result into out (when not nil).
func (b *browser) call(session, method string, params any, out any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	req, _ := json.Marshal(cdpMessage{ID: id, Method: method, SessionID: session, Params: p})
	if err := websocket.Message.Send(b.ws, string(req)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case msg, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: browser connection closed", method)
		}
		if msg.Error != nil {
			return fmt.Errorf("%s: %s", method, msg.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(msg.Result, out)
		}
		return nil
	case <-time.After(60 * time.Second):
		return fmt.Errorf("%s: no answer within 60s", method)
	}
}

// page is one tab in its own browser context (its own cookies and storage).
type page struct {
	t       *testing.T
	b       *browser
	session string
	name    string
	// context is the browser context, for the Browser domain's per-context settings
	// (permissions, downloads).
	context string
}

// newPage opens a tab in a fresh browser context: a separate person at the keyboard.
func (b *browser) newPage(t *testing.T, name string) *page {
	t.Helper()
	var bc struct {
		BrowserContextID string `json:"browserContextId"`
	}
	require.NoError(t, b.call("", "Target.createBrowserContext", map[string]any{"disposeOnDetach": true}, &bc))
	var target struct {
		TargetID string `json:"targetId"`
	}
	require.NoError(t, b.call("", "Target.createTarget", map[string]any{"url": "about:blank", "browserContextId": bc.BrowserContextID}, &target))
	var att struct {
		SessionID string `json:"sessionId"`
	}
	require.NoError(t, b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att))
	p := &page{t: t, b: b, session: att.SessionID, name: name, context: bc.BrowserContextID}
	for _, domain := range []string{"Page.enable", "Runtime.enable", "Log.enable", "DOM.enable"} {
		require.NoError(t, b.call(p.session, domain, nil, nil))
	}
	p.viewport(1280, 860, false)
	return p
}

func (p *page) do(method string, params any, out any) {
	p.t.Helper()
	require.NoError(p.t, p.b.call(p.session, method, params, out), "%s: %s", p.name, method)
}

// viewport sets the window size; mobile emulates a phone (touch, device scale).
func (p *page) viewport(w, h int, mobile bool) {
	p.t.Helper()
	scale := 1.0
	if mobile {
		scale = 2
	}
	p.do("Emulation.setDeviceMetricsOverride", map[string]any{"width": w, "height": h, "deviceScaleFactor": scale, "mobile": mobile}, nil)
}

// goTo loads a URL and waits for the document to finish loading.
func (p *page) goTo(url string) {
	p.t.Helper()
	p.do("Page.navigate", map[string]any{"url": url}, nil)
	p.waitFor(`document.readyState === 'complete' && location.href !== 'about:blank'`, "page load of "+url)
}

func (p *page) reload() {
	p.t.Helper()
	p.do("Page.reload", map[string]any{"ignoreCache": false}, nil)
	p.waitFor(`document.readyState === 'complete'`, "reload")
}

// evalErr runs an expression (awaiting promises) and decodes its value into out.
func (p *page) evalErr(expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := p.b.call(p.session, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &res)
	if err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return fmt.Errorf("script failed: %s %s", res.ExceptionDetails.Text, res.ExceptionDetails.Exception.Description)
	}
	if out != nil && len(res.Result.Value) > 0 {
		return json.Unmarshal(res.Result.Value, out)
	}
	return nil
}

func (p *page) eval(expr string, out any) {
	p.t.Helper()
	require.NoError(p.t, p.evalErr(expr, out), "%s: %s", p.name, expr)
}

func (p *page) evalString(expr string) string {
	p.t.Helper()
	var s string
	p.eval(expr, &s)
	return s
}

func (p *page) evalBool(expr string) bool {
	p.t.Helper()
	var v bool
	p.eval("!!("+expr+")", &v)
	return v
}

// waitFor polls a JavaScript condition until it holds; on timeout it saves a
// screenshot of what the page showed and fails with the description.
func (p *page) waitFor(cond, what string) {
	p.t.Helper()
	p.waitForWithin(cond, what, 45*time.Second)
}

func (p *page) waitForWithin(cond, what string, d time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		var ok bool
		if last = p.evalErr("!!("+cond+")", &ok); last == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	path := p.screenshot("timeout-" + sanitize(what))
	p.t.Fatalf("%s: timed out waiting for %s (last error %v); screenshot %s\nbody text:\n%s", p.name, what, last, path, p.bodyText())
}

func (p *page) bodyText() string {
	var s string
	_ = p.evalErr(`document.body ? document.body.innerText.slice(0, 3000) : ''`, &s)
	return s
}

// click clicks the first element matching a CSS selector whose text contains text
// (any text when empty), as a person would: scrolled into view, with a real mouse event.
func (p *page) click(selector, text string) {
	p.t.Helper()
	find := fmt.Sprintf(`[...document.querySelectorAll(%q)].find(e => e.offsetParent !== null && (e.textContent + ' ' + (e.getAttribute('aria-label') || '')).includes(%q))`, selector, text)
	// The element must be the one under its own centre, so a page that is still
	// laying itself out (a list loading above a button) cannot move it away between
	// finding it and pressing the mouse.
	hit := `(() => { const e = ` + find + `; if (!e) return false; e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();
		const at = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2); return !!at && (at === e || e.contains(at)); })()`
	p.waitFor(hit, fmt.Sprintf("clickable %s %q", selector, text))
	var box struct{ X, Y float64 }
	p.eval(`(() => { const e = `+find+`; const r = e.getBoundingClientRect(); return {X: r.x + r.width / 2, Y: r.y + r.height / 2}; })()`, &box)
	for _, typ := range []string{"mousePressed", "mouseReleased"} {
		p.do("Input.dispatchMouseEvent", map[string]any{"type": typ, "x": box.X, "y": box.Y, "button": "left", "clickCount": 1}, nil)
	}
}

// typeInto focuses a field and types text with real input events.
func (p *page) typeInto(selector, text string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf(`document.querySelector(%q)`, selector), "field "+selector)
	p.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.focus(); e.value = ''; })()`, selector), nil)
	p.do("Input.insertText", map[string]any{"text": text}, nil)
}

// press sends one key (like "Enter") to the focused element.
func (p *page) press(key string) {
	p.t.Helper()
	code := map[string]int{"Enter": 13, "Tab": 9, "Escape": 27}[key]
	for _, typ := range []string{"keyDown", "keyUp"} {
		params := map[string]any{"type": typ, "key": key, "code": key, "windowsVirtualKeyCode": code}
		if typ == "keyDown" && key == "Enter" {
			params["text"] = "\r"
		}
		p.do("Input.dispatchKeyEvent", params, nil)
	}
}

// setFiles puts files into a file input, as choosing them in the file dialog does.
func (p *page) setFiles(selector string, paths ...string) {
	p.t.Helper()
	var doc struct {
		Root struct {
			NodeID int `json:"nodeId"`
		} `json:"root"`
	}
	p.do("DOM.getDocument", map[string]any{"depth": 0}, &doc)
	var q struct {
		NodeID int `json:"nodeId"`
	}
	p.do("DOM.querySelector", map[string]any{"nodeId": doc.Root.NodeID, "selector": selector}, &q)
	require.NotZero(p.t, q.NodeID, "no element %s", selector)
	p.do("DOM.setFileInputFiles", map[string]any{"nodeId": q.NodeID, "files": paths}, nil)
}

// screenshot saves a PNG of the page under the artifacts directory and returns its path.
func (p *page) screenshot(name string) string {
	p.t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	if err := p.b.call(p.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	require.NoError(p.t, err)
	path := filepath.Join(artifactsDir(p.t), name+".png")
	require.NoError(p.t, os.WriteFile(path, png, 0o644))
	return path
}

// problems returns the exceptions, console errors and CSP violations seen so far.
func (p *page) problems() []string {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	return append([]string(nil), p.b.problems[p.session]...)
}

var artifactsOnce sync.Once
var artifactsPath string

// artifactsDir is where screenshots go: YW_WEB_ARTIFACTS, else a fixed folder in the
// system temp dir, so the latest run's pictures are easy to find.
func artifactsDir(t *testing.T) string {
	artifactsOnce.Do(func() {
		artifactsPath = os.Getenv("YW_WEB_ARTIFACTS")
		if artifactsPath == "" {
			artifactsPath = filepath.Join(os.TempDir(), "youworker-web-artifacts")
		}
		_ = os.MkdirAll(artifactsPath, 0o755)
	})
	return artifactsPath
}

func sanitize(s string) string {
	return strings.Trim(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(s, "-"), "-")
}
