package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// codeAnswer is what the scripted model answers: Go, unlabelled Python, and HTML
// that would run a script if it ever became markup.
const codeAnswer = "Here is a Go program:\n\n```go\npackage main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hello, zebra\")\n}\n```\n\n" +
	"And in Python:\n\n```\ndef greet(name):\n    \"\"\"Say hello.\"\"\"\n    return f\"hello, {name}\"\n\nif __name__ == \"__main__\":\n    print(greet(\"zebra\"))\n```\n\n" +
	"Careful with this one:\n\n```html\n<img src=x onerror=window.__pwned=11>\n```\n"

const goProgram = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hello, zebra\")\n}"

// key sends one key press with modifiers (1 Alt, 2 Ctrl, 4 Meta, 8 Shift).
func key(p *page, name, code string, vk, modifiers int, text string) {
	p.t.Helper()
	for _, typ := range []string{"keyDown", "keyUp"} {
		params := map[string]any{"type": typ, "key": name, "code": code, "windowsVirtualKeyCode": vk, "modifiers": modifiers}
		if typ == "keyDown" && text != "" {
			params["text"] = text
		}
		p.do("Input.dispatchKeyEvent", params, nil)
	}
}

// clipboard reads the page's clipboard.
func clipboard(p *page) string {
	p.t.Helper()
	return p.evalString(`navigator.clipboard.readText()`)
}

// TestWebChatConveniencesInChromium: copying answers and code, highlighted code,
// timestamps, feedback, keyboard shortcuts, search across chats and export, in a
// real browser, each with a screenshot.
func TestWebChatConveniencesInChromium(t *testing.T) {
	b := startBrowser(t)
	llm := llmtest.New(t)
	tokens := strings.SplitAfter(codeAnswer, "\n")
	var mu sync.Mutex
	takes := 0
	llm.Handle(func(req api.ChatRequest) llmtest.Script {
		last := req.Messages[len(req.Messages)-1].Content
		switch {
		case strings.Contains(last, "long story"):
			return llmtest.Script{Tokens: []string{"Once ", "upon ", "a ", "time"}, TokenDelay: 50 * time.Millisecond, Stall: true}
		case strings.Contains(last, "stripes"):
			mu.Lock()
			defer mu.Unlock()
			takes++
			return llmtest.Text(fmt.Sprintf("Stripes, take %d.", takes))
		}
		return llmtest.Script{Tokens: tokens}
	})
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-web-chat-extras-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_CHAT_BACKEND": "ollama",
		"YW_OLLAMA_URL": llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_EMBED_MODEL": llmtest.EmbedModel})
	c := apitest.NewClient(t, base)
	erin := newUser(t, c, admin, "erin")
	frank := newUser(t, c, admin, "frank")
	// Earlier chats to search: erin's, and frank's, which erin must never find.
	stripes, _ := chatIn(t, c, erin, "Zebra stripes", "Why does a zebra have stripes?")
	franks, _ := chatIn(t, c, frank, "Frank's zebra", "Is a zebra black on white?")

	p := b.newPage(t, "erin")
	p.do("Browser.grantPermissions", map[string]any{"permissions": []string{"clipboardReadWrite", "clipboardSanitizedWrite"},
		"origin": base, "browserContextId": p.context}, nil)
	p.do("Emulation.setFocusEmulationEnabled", map[string]any{"enabled": true}, nil)
	p.goTo(base + "/#/chat")
	p.typeInto("input[name=key]", erin)
	p.press("Enter")
	p.waitFor(`document.querySelector('[data-testid=composer]') && document.querySelector('[data-testid=sessions] a')`, "the chat page")
	p.eval(`window.__pwned = 0`, nil)

	// An answer with code: each block is highlighted, in its language or the likeliest.
	p.typeInto("[data-testid=composer]", "Show me hello world")
	p.press("Enter")
	p.waitFor(`document.querySelector('[data-testid=msg-assistant]')?.dataset.status === 'completed'`, "the answer")
	p.waitFor(`document.querySelectorAll('[data-testid=answer] pre code[data-highlighted]').length === 3`, "three highlighted code blocks")
	require.Equal(t, []any{"go", "python", "xml"}, evalAny(p, `[...document.querySelectorAll('[data-testid=answer] pre code')].map(c => c.dataset.highlighted)`))
	require.Equal(t, []any{"package", "import", "func"}, evalAny(p, `[...document.querySelectorAll('[data-testid=answer] code[data-highlighted=go] .hljs-keyword')].map(s => s.textContent)`))
	require.Equal(t, goProgram, p.evalString(`document.querySelector('code[data-highlighted=go]').textContent`), "highlighting changes no character")
	require.Equal(t, p.evalString(`getComputedStyle(document.documentElement).getPropertyValue('--hl-keyword').trim()`), "#a626a4")
	require.Equal(t, "rgb(166, 38, 164)", p.evalString(`getComputedStyle(document.querySelector('code[data-highlighted=go] .hljs-keyword')).color`))
	// The HTML stays text: its spans are rebuilt from highlight.js's output, nothing else.
	require.Equal(t, "<img src=x onerror=window.__pwned=11>", p.evalString(`document.querySelector('code[data-highlighted=xml]').textContent`))
	require.Zero(t, evalNumber(p, `document.querySelectorAll('[data-testid=answer] img, [data-testid=answer] script').length`))
	require.Zero(t, evalNumber(p, `window.__pwned`))
	require.Equal(t, []any{"class"}, evalAny(p, `[...new Set([...document.querySelectorAll('[data-testid=answer] pre code *')].flatMap(e => [...e.attributes].map(a => a.name)))]`),
		"highlighted code holds spans with classes and nothing else")
	require.Zero(t, evalNumber(p, `document.querySelectorAll('[data-testid=answer] pre code :not(span)').length`))
	p.screenshot("20-chat-highlighted-code")

	// Copy a code block, then the whole answer as Markdown.
	p.click("[data-testid=copy-code]", "")
	p.waitFor(`document.querySelector('.toast')?.textContent === 'Code copied'`, "the copy notice")
	require.Equal(t, goProgram, clipboard(p))
	p.click("[data-testid=copy-answer]", "")
	p.waitFor(`[...document.querySelectorAll('.toast')].some(t => t.textContent === 'Answer copied as Markdown')`, "the answer copy notice")
	require.Equal(t, strings.TrimSpace(codeAnswer)+"\n", clipboard(p))
	p.screenshot("21-chat-copied")

	// Timestamps under the question and the answer.
	require.Equal(t, float64(2), evalNumber(p, `document.querySelectorAll('[data-testid=msg-time] time[datetime]').length`))

	// Feedback: thumbs down with a comment, stored and shown again after a reload.
	turnID := p.evalString(`(async () => {
		const sess = await (await fetch('/v1/chat/sessions/' + location.hash.split('/')[2])).json();
		return sess.messages[0].turn_id;
	})()`)
	p.click("[data-testid=feedback-down]", "")
	p.waitFor(`document.querySelector('[data-testid=feedback-down]').getAttribute('aria-pressed') === 'true' && !document.querySelector('[data-testid=feedback-form]').hidden`, "the rating and the comment box")
	require.Equal(t, "false", p.evalString(`document.querySelector('[data-testid=feedback-up]').getAttribute('aria-pressed')`))
	p.typeInto("[data-testid=feedback-comment]", "The Python example has no type hints.")
	p.screenshot("22-chat-feedback")
	p.click("[data-testid=feedback-form] button", "Send feedback")
	p.waitFor(`document.querySelector('[data-testid=feedback-form]').hidden && [...document.querySelectorAll('.toast')].some(t => t.textContent.includes('feedback'))`, "the thanks")
	var turn struct {
		Feedback struct {
			Rating  string `json:"rating"`
			Comment string `json:"comment"`
		} `json:"feedback"`
	}
	c.Do("GET", "/v1/chat/turns/"+turnID, erin, nil, http.StatusOK, &turn)
	require.Equal(t, "down", turn.Feedback.Rating)
	require.Equal(t, "The Python example has no type hints.", turn.Feedback.Comment)
	p.reload()
	p.waitFor(`document.querySelector('[data-testid=feedback-down]')?.getAttribute('aria-pressed') === 'true'`, "the rating after a reload")

	// Export this chat with the button: the browser saves the Markdown file.
	downloads := t.TempDir()
	p.do("Browser.setDownloadBehavior", map[string]any{"behavior": "allow", "downloadPath": downloads, "browserContextId": p.context}, nil)
	p.click("[data-testid=export-chat]", "Export")
	var saved []byte
	require.Eventually(t, func() bool {
		files, _ := filepath.Glob(filepath.Join(downloads, "*.md"))
		if len(files) != 1 {
			return false
		}
		saved, _ = os.ReadFile(files[0])
		require.Equal(t, "Show me hello world "+time.Now().UTC().Format(time.DateOnly)+".md", filepath.Base(files[0]))
		return len(saved) > 0
	}, 20*time.Second, 100*time.Millisecond, "the exported file")
	require.True(t, strings.HasPrefix(string(saved), "# Show me hello world\n"), string(saved))
	require.Contains(t, string(saved), "### Assistant · ")
	require.Contains(t, string(saved), goProgram)
	require.True(t, p.evalBool(`[...document.querySelectorAll('[data-testid=export-session]')].every(a => /^\/v1\/chat\/sessions\/[0-9a-f-]{36}\/export$/.test(a.getAttribute('href')))`),
		"every chat in the list has its export link")
	p.screenshot("23-chat-export")

	// Keyboard shortcuts, listed in the help.
	p.click("[data-testid=shortcuts-help] summary", "")
	p.waitFor(`document.querySelector('[data-testid=shortcuts-help]').open`, "the shortcuts help")
	help := p.evalString(`document.querySelector('[data-testid=shortcuts-help] .shortcuts-panel').innerText`)
	for _, want := range []string{"Ctrl+Shift+O", "New chat", "Ctrl+K", "Search chats", "Esc", "Stop the answer", "Focus the message box"} {
		require.Contains(t, help, want)
	}
	require.Contains(t, p.evalString(`document.querySelector('[data-testid=new-chat]').title`), "Ctrl+Shift+O")
	require.Contains(t, p.evalString(`document.querySelector('[data-testid=stop]').title`), "Esc")
	p.screenshot("24-chat-shortcuts")
	key(p, "Escape", "Escape", 27, 0, "")
	p.waitFor(`!document.querySelector('[data-testid=shortcuts-help]').open`, "the help closed by Esc")

	key(p, "O", "KeyO", 79, 2|8, "")
	p.waitFor(`location.hash === '#/chat' && document.querySelector('.chat-title').textContent === 'New chat' && document.activeElement?.dataset.testid === 'composer'`, "a new chat from Ctrl+Shift+O")
	p.eval(`document.activeElement.blur()`, nil)
	key(p, "k", "KeyK", 75, 2, "")
	p.waitFor(`document.activeElement?.dataset.testid === 'chat-search'`, "the search box from Ctrl+K")
	p.eval(`document.activeElement.blur()`, nil)
	key(p, "/", "Slash", 191, 0, "/")
	p.waitFor(`document.activeElement?.dataset.testid === 'composer'`, "the message box from /")
	require.Equal(t, "", p.evalString(`document.querySelector('[data-testid=composer]').value`), "the / is not typed")

	// Esc stops an answer that is streaming.
	p.typeInto("[data-testid=composer]", "Tell me a long story")
	p.press("Enter")
	p.waitFor(`document.querySelector('[data-testid=answer]')?.textContent.includes('upon a time')`, "the story to start")
	key(p, "Escape", "Escape", 27, 0, "")
	p.waitFor(`document.querySelector('[data-testid=msg-assistant]').dataset.status === 'cancelled'`, "the story stopped by Esc")

	// Search: erin's chats, titles and messages, with the words marked; frank's never.
	p.typeInto("[data-testid=chat-search]", "zebra")
	p.waitFor(`document.querySelectorAll('[data-testid=search-hit]').length >= 3 && document.querySelector('[data-testid=sessions]').hidden`, "the search results")
	hrefs := evalAny(p, `[...document.querySelectorAll('[data-testid=search-hit]')].map(a => a.getAttribute('href'))`)
	require.Contains(t, hrefs, "#/chat/"+stripes, "the title hit")
	for _, h := range hrefs {
		require.NotContains(t, h, franks, "frank's chat is never found by erin")
	}
	require.True(t, p.evalBool(`[...document.querySelectorAll('[data-testid=search-results] mark')].every(m => m.textContent.toLowerCase() === 'zebra')`))
	require.GreaterOrEqual(t, evalNumber(p, `document.querySelectorAll('[data-testid=search-results] mark').length`), float64(3))
	p.screenshot("25-chat-search")
	// A message hit opens its chat at that message.
	require.Regexp(t, `^#/chat/`+stripes+`/[0-9a-f-]{36}$`,
		p.evalString(`[...document.querySelectorAll('[data-testid=search-hit]')].find(a => a.textContent.includes('Why does a zebra')).getAttribute('href')`))
	p.click("[data-testid=search-hit]", "Why does a zebra have stripes")
	p.waitFor(`document.querySelector('.chat-title').textContent === 'Zebra stripes' && document.querySelector('.msg.found')?.textContent.includes('Why does a zebra have stripes?')`, "the chat opened at the message found")
	require.Equal(t, "#/chat/"+stripes, p.evalString(`location.hash`), "found once, the chat's own address")
	p.screenshot("26-chat-search-opened")
	// Esc in the search box clears it and brings the list of chats back.
	p.eval(`document.querySelector('[data-testid=chat-search]').focus()`, nil)
	key(p, "Escape", "Escape", 27, 0, "")
	p.waitFor(`document.querySelector('[data-testid=chat-search]').value === '' && !document.querySelector('[data-testid=sessions]').hidden && document.querySelector('[data-testid=search-results]').hidden`, "the list of chats again")

	// Ask the last question again: both answers are kept, with a switcher.
	shownAnswer := `[...document.querySelectorAll('[data-testid=answer]')].filter(a => a.offsetParent !== null).map(a => a.textContent).join('|')`
	shownQuestion := `[...document.querySelectorAll('.msg-user .bubble')].filter(b => b.offsetParent !== null).map(b => b.textContent).join('|')`
	require.Equal(t, "Stripes, take 1.", p.evalString(shownAnswer))
	p.click("[data-testid=regenerate]", "")
	position := `[...document.querySelectorAll('[data-testid=ask-position]')].find(e => e.offsetParent !== null)?.textContent`
	p.waitFor(position+` === '2/2'`, "the second answer's place")
	p.waitFor(shownAnswer+` === 'Stripes, take 2.'`, "the second answer")
	// Its end adds the answer's details above the switcher: a click aimed
	// before they appear would land on them.
	p.waitFor(`(() => { const shown = [...document.querySelectorAll('[data-testid=msg-assistant]')].filter(m => m.offsetParent !== null);
		return shown.length > 0 && shown.every(m => m.dataset.status === 'completed'); })()`, "the second answer complete")
	require.Equal(t, "Why does a zebra have stripes?", p.evalString(shownQuestion), "the same question")
	p.click("button", "Previous answer")
	p.waitFor(shownAnswer+` === 'Stripes, take 1.'`, "the first answer again")
	require.Equal(t, "1/2", p.evalString(position))
	p.screenshot("28-chat-regenerated")
	p.click("button", "Next answer")

	// Edit the last question and send it again.
	p.click("[data-testid=edit-question]", "")
	p.waitFor(`document.querySelector('[data-testid=edit-input]') === document.activeElement`, "the question as a form")
	p.typeInto("[data-testid=edit-input]", "Why does a zebra have stripes, briefly?")
	p.screenshot("29-chat-edit-question")
	p.press("Enter")
	p.waitFor(shownAnswer+` === 'Stripes, take 3.'`, "the answer to the edited question")
	require.Equal(t, "Why does a zebra have stripes, briefly?", p.evalString(shownQuestion))
	require.Equal(t, "3/3", p.evalString(position))
	// Reloaded, the chat shows the newest answer of the place, and the others behind it.
	p.reload()
	p.waitFor(shownAnswer+` === 'Stripes, take 3.'`, "the newest answer after a reload")
	p.click("button", "Previous answer")
	p.waitFor(shownAnswer+` === 'Stripes, take 2.' && `+shownQuestion+` === 'Why does a zebra have stripes?'`, "the second answer after a reload")
	p.screenshot("30-chat-answers-after-reload")
	require.Empty(t, p.problems(), "scripts and CSP must run clean")

	// The admin sees the rating and the comment in the analytics.
	adm := b.newPage(t, "admin")
	adm.viewport(1280, 2400, false)
	adm.goTo(base + "/")
	adm.typeInto("input[name=key]", admin)
	adm.press("Enter")
	adm.waitFor(`document.querySelector('a.nav-link[data-path=admin]')`, "the admin page link")
	adm.click("a.nav-link", "Admin")
	adm.click("button[role=tab]", "Analytics")
	adm.waitFor(`document.querySelector('[data-testid=usage-feedback] tbody th')`, "the feedback table")
	require.Equal(t, llmtest.ChatModel+"|0|1|0%|1", adm.evalString(`[...document.querySelectorAll('[data-testid=usage-feedback] tbody tr:first-child > *')].map(e => e.textContent).join('|')`))
	require.Contains(t, adm.evalString(`document.querySelector('[data-testid=usage-feedback-comments]').textContent`), "The Python example has no type hints.")
	adm.eval(`document.querySelector('[data-testid=usage-feedback]').scrollIntoView()`, nil)
	adm.screenshot("27-admin-feedback")
	require.Empty(t, adm.problems())
}

// evalAny evaluates an expression to a JSON value.
func evalAny(p *page, expr string) []any {
	p.t.Helper()
	var v []any
	p.eval(expr, &v)
	return v
}
