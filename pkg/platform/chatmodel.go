package platform

import "github.com/youworker/youworker/pkg/agent"

// UsesOllama reports whether chat turns go to Ollama (else the extractive answerer).
func (p *Platform) UsesOllama() bool {
	return p.Config.OllamaURL != "" && p.Config.ChatBackend != "extractive"
}

// DefaultChatModel is the model a turn uses when the user names none: the
// extractive answerer records its own name on the turns it answers.
func (p *Platform) DefaultChatModel() string {
	if p.UsesOllama() {
		return p.Config.ChatModel
	}
	return agent.ExtractiveModelName
}

// ChatModels are the chat models users may choose, the default first: the
// configured ones on Ollama, else the extractive answerer alone.
func (p *Platform) ChatModels() []string {
	if p.UsesOllama() {
		return p.Config.AllowedChatModels()
	}
	return []string{agent.ExtractiveModelName}
}
