package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/web"
)

// commonmarkExample is one example of the CommonMark spec 0.31.2, or of the
// GitHub Flavored Markdown spec 0.29 for tables and strikethrough (its section
// says so), numbered as there, transcribed into testdata/commonmark-examples.json.
//
// The file holds the examples of the sections the renderer supports (emphasis,
// code spans, links, autolinks, backslash escapes, line breaks, paragraphs,
// thematic breaks, fenced code, block quotes, lists, GFM tables and
// strikethrough) that it renders as the spec does, once its deliberate choices
// are applied (see compareScript). Left out are headings and images (the chat
// shows them otherwise) and what the renderer does not do: raw HTML (shown as
// text), reference links and definitions, indented code blocks, loose lists
// and items holding several paragraphs, a few URL encodings of the spec's
// reference implementation, and bare URLs, which are linked wherever they stand
// outside a word (example 602).
type commonmarkExample struct {
	Example  int    `json:"example"`
	Section  string `json:"section"`
	Markdown string `json:"markdown"`
	HTML     string `json:"html"`
}

// compareScript renders every example with the UI's renderer and compares the
// DOM it builds with the spec's HTML, both serialized alike. The renderer's own
// choices are applied to the expected HTML first, since they are deliberate:
// links other than http, https and mailto show only their text; line breaks,
// soft or hard, are <br> (answers keep their lines); attributes other than a
// link's href and title and a list's start are not compared (links carry rel
// and target, code blocks data-lang).
const compareScript = `(async (examples) => {
	const { renderMarkdown } = await import('/assets/js/markdown.js');
	const safe = (raw) => {
		try {
			const u = new URL(raw);
			return ['http:', 'https:', 'mailto:'].includes(u.protocol) ? u.href : null;
		} catch { return null; }
	};
	const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
	const containers = new Set(['UL', 'OL', 'LI', 'BLOCKQUOTE', 'TABLE', 'THEAD', 'TBODY', 'TR', 'DIV', undefined]);
	const ser = (node, inPre) => {
		let out = '';
		for (const n of node.childNodes) {
			if (n.nodeType === 3) {
				// Line breaks between blocks are layout, not content.
				if (!inPre && containers.has(node.tagName) && /^\s*$/.test(n.data) && n.data.includes('\n')) continue;
				out += esc(n.data);
				continue;
			}
			if (n.nodeType !== 1) continue;
			const tag = n.tagName.toLowerCase();
			if (tag === 'br') { out += '\n'; continue; }
			if (tag === 'hr') { out += '<hr />'; continue; }
			if (tag === 'div') { out += ser(n, inPre); continue; } // the renderer's scrolling box around tables
			let attrs = '';
			if (tag === 'a') {
				attrs += ' href="' + esc(n.getAttribute('href')) + '"';
				if (n.getAttribute('title')) attrs += ' title="' + esc(n.getAttribute('title')) + '"';
			}
			if (tag === 'ol' && n.hasAttribute('start') && n.getAttribute('start') !== '1') attrs += ' start="' + n.getAttribute('start') + '"';
			let inner = ser(n, inPre || tag === 'pre');
			if (tag === 'code' && inPre) inner = inner.replace(/\n$/, '');
			out += '<' + tag + attrs + '>' + inner + '</' + tag + '>';
		}
		return out;
	};
	const failures = [];
	for (const ex of examples) {
		const tpl = document.createElement('template');
		tpl.innerHTML = ex.html.replace(/<br \/>\n/g, '<br />');
		for (const a of tpl.content.querySelectorAll('a')) {
			const url = safe(a.getAttribute('href'));
			if (url) a.setAttribute('href', url); else a.replaceWith(...a.childNodes);
		}
		const box = document.createElement('div');
		box.append(renderMarkdown(ex.markdown));
		const want = ser(tpl.content, false);
		const got = ser(box, false);
		if (got !== want) failures.push({ example: ex.example, section: ex.section, markdown: ex.markdown, want, got });
	}
	return failures;
})`

// TestWebMarkdownCommonMarkExamples holds the answer renderer to the CommonMark
// spec's examples of the constructs it supports (emphasis, code spans and
// blocks, links, autolinks, lists, block quotes, escapes and breaks), in
// headless Chromium.
func TestWebMarkdownCommonMarkExamples(t *testing.T) {
	raw, err := os.ReadFile("testdata/commonmark-examples.json")
	require.NoError(t, err)
	var examples []commonmarkExample
	require.NoError(t, json.Unmarshal(raw, &examples))
	require.NotEmpty(t, examples)

	mux := http.NewServeMux()
	mux.Handle("/assets/", http.FileServerFS(web.Files))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><html><head><title>spec</title></head><body></body></html>"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	b := startBrowser(t)
	p := b.newPage(t, "spec")
	p.goTo(srv.URL + "/")
	var failures []struct {
		Example  int    `json:"example"`
		Section  string `json:"section"`
		Markdown string `json:"markdown"`
		Want     string `json:"want"`
		Got      string `json:"got"`
	}
	p.eval(compareScript+"("+string(raw)+")", &failures)
	for _, f := range failures {
		t.Errorf("example %d (%s)\nmarkdown: %q\nwant: %q\ngot:  %q", f.Example, f.Section, f.Markdown, f.Want, f.Got)
	}
	t.Logf("%d examples, %d failed", len(examples), len(failures))

	// Underscores inside words never make emphasis, however many: this text
	// once rendered bold between the two "__".
	var strong int
	p.eval(`import('/assets/js/markdown.js').then(({ renderMarkdown }) => {
		const box = document.createElement('div');
		box.append(renderMarkdown('<img src=x onerror="window.__pwned=1"> and <script>window.__pwned=2</script> and snake__case__name'));
		return box.querySelectorAll('strong, em').length;
	})`, &strong)
	require.Zero(t, strong)
}
