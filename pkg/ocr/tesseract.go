package ocr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/youworker/youworker/pkg/parse"
)

// ErrNoTesseract means the Tesseract command is not installed.
var ErrNoTesseract = errors.New("tesseract is not installed")

// Bounds on one Tesseract run: a page takes seconds; its text is kilobytes.
const (
	tesseractTimeout   = 3 * time.Minute
	maxTesseractOutput = 1 << 20
	maxTesseractStderr = 4 << 10
)

// Tesseract reads pages by running the tesseract command on each picture, its
// data on standard input and the text on standard output: nothing is written
// to disk.
type Tesseract struct {
	path      string
	languages string
}

// NewTesseract finds command and checks that it has the data of every language
// in languages ("eng+ita"); ErrNoTesseract when it is not installed.
func NewTesseract(ctx context.Context, command, languages string) (*Tesseract, error) {
	path, err := exec.LookPath(command)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoTesseract, command, err)
	}
	t := &Tesseract{path: path, languages: languages}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := t.run(ctx, nil, "--list-langs")
	if err != nil {
		return nil, fmt.Errorf("list tesseract's languages: %w", err)
	}
	// "List of available languages in "/usr/share/...": (2):", then one a line.
	var installed []string
	for i, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); i > 0 && line != "" {
			installed = append(installed, line)
		}
	}
	for _, lang := range strings.Split(languages, "+") {
		if !slices.Contains(installed, lang) {
			return nil, fmt.Errorf("tesseract has no data for the language %q (Debian: apt-get install tesseract-ocr-%s); it has %s",
				lang, lang, strings.Join(installed, ", "))
		}
	}
	return t, nil
}

// Read implements Reader: the text of each picture, top to bottom.
func (t *Tesseract) Read(ctx context.Context, page parse.Scan) (string, error) {
	var parts []string
	for i, img := range page.Images {
		text, err := t.run(ctx, img.Data, "stdin", "stdout", "-l", t.languages)
		if err != nil {
			return "", fmt.Errorf("tesseract, page %d picture %d: %w", page.Page, i+1, err)
		}
		if text = strings.TrimSpace(text); text != "" {
			parts = append(parts, text)
		}
	}
	return strings.Join(parts, "\n\n"), nil
}

// run runs tesseract with args, stdin on its standard input, and returns what
// it wrote; its output is bounded and its time too.
func (t *Tesseract) run(ctx context.Context, stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, tesseractTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.path, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	stdout := &capped{max: maxTesseractOutput}
	stderr := &capped{max: maxTesseractStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// One thread a run: pages are read side by side already, and OpenMP's
	// threads per process would fight over the cores.
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if stdout.over {
		return "", fmt.Errorf("tesseract wrote more than %d bytes", maxTesseractOutput)
	}
	return stdout.String(), nil
}

// capped keeps the first max bytes written to it and notes that there was more.
type capped struct {
	bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); len(p) > room {
		c.over = true
		c.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.Buffer.Write(p)
}
