// Package bench measures the asynchronous chat path end to end, in one process
// on a fresh database: HTTP API → outbox → JetStream → agent worker → scripted
// Ollama-protocol model → turn events → SSE client. BenchmarkChat prints
// time-to-first-token overhead, token relay latency, lost and duplicated tokens,
// the API memory per open stream, and the raw JetStream floor (publish → ordered
// consumer) measured in the same run under the same load shape, both alone and
// by a probe running alongside the turns. The relay is also split at the moment
// JetStream stored each event.
//
// The burst scenario has k users (1, 20, 100) each start one turn at the same
// instant and reports what users feel: the message accepted → the first token
// at the client, less the model's own time to its first token, beside the
// physical floor of a turn start, and split per hop (outbox → JetStream,
// consumer delivery, worker set-up, the first token's relay), with the CPU the
// process spent per relayed token, the model server's own measured apart.
//
// BenchmarkChatIdle holds -idle-streams event streams (10,000 by default) open
// on queued turns, as chat tabs left open do, past the ping interval, and
// prints the API's heap, goroutine stacks and goroutines per idle stream; the
// clients run in a child process so that none of that is theirs. The turns are
// then cancelled, and every stream must receive its turn.cancelled exactly once.
//
// Its settings are test flags given after -args:
//
//	make bench-chat BENCH_CHAT_FLAGS='-k 100 -tokens 200 -interval 10ms -first 200ms'
//	make bench-chat BENCH_CHAT_FLAGS='-relay=false -fairness=false -burst 1,20,100 -burst-cpuprofile burst.prof'
//	go test -run '^$' -bench '^BenchmarkChat$' -benchtime 1x ./pkg/chat/bench/ -args -k 100
//	go test -run '^$' -bench '^BenchmarkChatIdle$' -benchtime 1x ./pkg/chat/bench/ -args -idle-streams 10000 -idle-hold 20s
//
// It holds no production code: everything else is in _test.go files.
package bench
