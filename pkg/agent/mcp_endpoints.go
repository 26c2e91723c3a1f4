package agent

// MCPEndpoint is one configured MCP server: the name its tools are prefixed with,
// and the URL it is reached at.
type MCPEndpoint struct {
	Name string
	URL  string
}

// ParseMCPEndpoints reads MCPConfig.Servers entries ("URL" or "name=URL") and names
// each server exactly as NewMCPTools does, so health reports and tool lists agree
// on what a server is called.
func ParseMCPEndpoints(entries []string) ([]MCPEndpoint, error) {
	endpoints, err := parseMCPServers(entries)
	if err != nil {
		return nil, err
	}
	out := make([]MCPEndpoint, len(endpoints))
	for i, e := range endpoints {
		out[i] = MCPEndpoint{Name: e.name, URL: e.url}
	}
	return out, nil
}
