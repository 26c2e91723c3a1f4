package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// pick chooses a model in the chat's picker, as choosing it in the list does.
func pick(p *page, model string) {
	p.t.Helper()
	p.eval(`(() => { const s = document.querySelector('[data-testid=model-picker]'); s.value = `+jsString(model)+`; s.dispatchEvent(new Event('change')); return true })()`, nil)
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// ask sends a question in the open chat and waits for its answer.
func ask(p *page, question string) string {
	p.t.Helper()
	before := evalNumber(p, `document.querySelectorAll('[data-testid=msg-assistant]').length`)
	p.typeInto("[data-testid=composer]", question)
	p.press("Enter")
	p.waitFor(`(() => { const a = document.querySelectorAll('[data-testid=msg-assistant]'); return a.length > `+strconv.Itoa(int(before))+` && a[a.length - 1].dataset.status === 'completed' })()`, "the answer to "+question)
	return p.evalString(`[...document.querySelectorAll('[data-testid=msg-assistant]')].at(-1).textContent`)
}

// TestWebModelPickerInChromium: each chat has its model, chosen among those the
// operator allows; one not installed cannot be chosen; the choice stays with the
// chat across chats and reloads, and another browser sees the chat's last model.
// The admin page shows the MCP servers and their last error.
func TestWebModelPickerInChromium(t *testing.T) {
	b := startBrowser(t)
	llm := llmtest.New(t)
	llm.AddModel("qwen3:8b")
	llm.Handle(func(req api.ChatRequest) llmtest.Script { return llmtest.Text("Answered by " + req.Model + ".") })
	tools, _ := startStatusMCP(t)
	dead := llmtest.DeadURL(t)
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-web-models-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn",
		"YW_OLLAMA_URL": llm.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_CHAT_MODELS": "qwen3:8b,mistral:7b",
		"YW_MCP_SERVERS": "tools=" + tools.URL + ",files=" + dead + "/mcp?token=do-not-show"})
	c := apitest.NewClient(t, base)
	erin := newUser(t, c, admin, "erin")

	p := b.newPage(t, "erin")
	p.goTo(base + "/#/chat")
	p.typeInto("input[name=key]", erin)
	p.press("Enter")
	p.waitFor(`document.querySelector('[data-testid=model-picker]') && !document.querySelector('[data-testid=model-picker]').hidden`, "the model picker")
	require.Equal(t, []any{llmtest.ChatModel, "qwen3:8b", "mistral:7b"}, evalAny(p, `[...document.querySelectorAll('[data-testid=model-picker] option')].map(o => o.value)`))
	require.Equal(t, []any{false, false, true}, evalAny(p, `[...document.querySelectorAll('[data-testid=model-picker] option')].map(o => o.disabled)`),
		"a model the server does not have cannot be chosen")
	require.Equal(t, llmtest.ChatModel, p.evalString(`document.querySelector('[data-testid=model-picker]').value`), "the default first")
	require.Contains(t, p.evalString(`document.querySelector('[data-testid=model-picker] option').textContent`), "(default)")

	// A new chat with qwen: its answers come from qwen, and say so.
	pick(p, "qwen3:8b")
	p.screenshot("60-chat-model-picker")
	require.Contains(t, ask(p, "Who answers?"), "Answered by qwen3:8b.")
	p.waitFor(`document.querySelector('[data-testid=msg-assistant] .msg-meta')?.textContent.includes('qwen3:8b')`, "the model under the answer")
	require.Contains(t, ask(p, "And now?"), "Answered by qwen3:8b.", "the chat keeps its model")
	qwenChat := p.evalString(`location.hash.split('/')[2]`)

	// Another chat takes the default, and each keeps its own.
	p.click("[data-testid=new-chat]", "")
	p.waitFor(`document.querySelector('[data-testid=model-picker]').value === '`+llmtest.ChatModel+`'`, "the default for a new chat")
	require.Contains(t, ask(p, "Who is it this time?"), "Answered by "+llmtest.ChatModel+".")
	p.click("[data-testid=sessions] a[href='#/chat/"+qwenChat+"']", "")
	p.waitFor(`document.querySelector('[data-testid=model-picker]').value === 'qwen3:8b'`, "qwen again for the first chat")
	p.reload()
	p.waitFor(`document.querySelector('[data-testid=model-picker]')?.value === 'qwen3:8b'`, "qwen after a reload")

	// Another browser has no choice of its own: the chat goes on with its last model.
	other := b.newPage(t, "erin-elsewhere")
	other.goTo(base + "/#/chat/" + qwenChat)
	other.typeInto("input[name=key]", erin)
	other.press("Enter")
	other.waitFor(`document.querySelector('[data-testid=model-picker]')?.value === 'qwen3:8b' && document.querySelectorAll('[data-testid=msg-assistant]').length === 2`, "the chat's last model")
	require.Contains(t, ask(other, "Still you?"), "Answered by qwen3:8b.")

	var models []string
	for _, req := range llm.ChatRequests() {
		models = append(models, req.Model)
	}
	require.Equal(t, []string{"qwen3:8b", "qwen3:8b", llmtest.ChatModel, "qwen3:8b"}, models)
	require.Empty(t, p.problems(), "scripts and CSP must run clean")
	require.Empty(t, other.problems())

	// The admin page shows the MCP servers: one healthy, one failing with its last
	// error, no secret of its URL; and every tool of chat.
	adm := b.newPage(t, "admin")
	adm.goTo(base + "/#/admin/tools")
	adm.typeInto("input[name=key]", admin)
	adm.press("Enter")
	adm.waitFor(`document.querySelectorAll('[data-testid=mcp-servers] tbody tr').length === 2 && document.querySelectorAll('[data-testid=tools] tbody tr').length >= 4`, "the MCP servers and the tools")
	require.Contains(t, adm.evalString(`document.querySelector('[data-server=tools]').textContent`), "healthy")
	files := adm.evalString(`document.querySelector('[data-server=files]').textContent`)
	require.Contains(t, files, "failing")
	require.Contains(t, adm.evalString(`document.querySelector('[data-server=files] [data-testid=mcp-last-error]').textContent`), "connect")
	require.NotContains(t, adm.bodyText(), "do-not-show")
	require.Contains(t, adm.evalString(`document.querySelector('[data-testid=tools]').textContent`), "tools__ping")
	adm.screenshot("61-admin-mcp-servers")
	require.Empty(t, adm.problems())
	c.Do("GET", "/v1/admin/mcp/servers", erin, nil, http.StatusNotFound, nil)
}
