// Package agent runs a chat turn: it sends the conversation to a chat model,
// streams the answer to a Sink, runs the tools the model asks for (its own
// tools and those of connected MCP servers), feeds the results back, and ends
// with the answer, the citations of the document passages the answer uses, the
// tool runs and the token usage.
//
// The package holds no database or HTTP-server code. It depends on small
// interfaces it declares itself (Searcher for document search, Sink for turn
// events, EventPublisher for the turn event log), so the agent worker wires it
// to Postgres, Qdrant and JetStream, and tests wire it to fakes.
//
// Pieces:
//
//   - Runner: the loop (Run).
//   - Tool, Registry: tools offered to the model, argument validation against
//     each tool's JSON Schema, dispatch by name.
//   - SearchTool (search_documents), CurrentTime (current_time), ConvertUnits
//     (convert_units): built-in tools; web_search and fetch_page, on when the
//     Toolset has a WebSearcher and a PageReader. The sources every tool of a
//     turn shows — document passages and web pages — share one numbering, so
//     the answer's [n] markers resolve to citations, with a URL for web pages.
//   - MCPTools: tools of remote MCP servers over streamable HTTP.
//   - Extractive: an llm.ChatModel that needs no language model, so the same
//     loop answers with the best passages when no model is configured.
//   - EventWriter: publishes a turn's events, coalescing tokens only while a
//     publish is in flight.
package agent
