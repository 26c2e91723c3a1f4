package platform

// ExtractiveModel is the model name recorded on turns answered without a language model.
const ExtractiveModel = "extractive"

// UsesOllama reports whether chat turns go to Ollama (else the extractive answerer).
func (p *Platform) UsesOllama() bool {
	return p.Config.OllamaURL != "" && p.Config.ChatBackend != "extractive"
}

// DefaultChatModel is the model a turn uses when the user names none.
func (p *Platform) DefaultChatModel() string {
	if p.UsesOllama() {
		return p.Config.ChatModel
	}
	return ExtractiveModel
}
