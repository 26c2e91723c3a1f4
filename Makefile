GO ?= go

.PHONY: run test build vet nats-auth bench-ingest bench-chat bench-reindex bench-retrieval fuzz chaos

# Start the whole platform in one process on its embedded defaults.
run:
	$(GO) run ./cmd/api -dev

# Every test, with the race detector.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...

build:
	$(GO) build -o bin/ ./cmd/...

vet:
	$(GO) vet ./...

# Rewrite deploy/nats/auth.conf, the NATS users of both deployments, from pkg/natsperm.
nats-auth:
	$(GO) test -count=1 -run '^TestNATSAuthorizationIsNatspermsRendering$$' ./deploy/checks/ -update

# Ingestion throughput and latency, end to end in one process (fresh database), as a table.
bench-ingest:
	$(GO) test -run '^$$' -bench '^BenchmarkIngest$$' -benchtime 1x -count 1 -timeout 20m ./pkg/ingest/bench/

# Re-index jobs on 100k chunks in the embedded vector store: ACL sync, re-embed, the
# embedder's own ceiling, ACL-filtered search latency, and a re-embed through the Ollama
# protocol beside that embedder's ceiling; prints a table.
bench-reindex:
	$(GO) test -run '^$$' -bench '^BenchmarkReindex$$' -benchtime 1x -timeout 30m ./pkg/reindex/

# The chat path end to end under load: API → JetStream → agent worker → SSE; prints tables:
# the relay of k turns at once, bursts of k users starting a turn together (accept → first
# token less the model's TTFT, split per hop, CPU per relayed token), fairness, then the API's
# memory per idle event stream with 10,000 open. Flags go to the benchmarks after -args:
# BENCH_CHAT_FLAGS='-k 100 -tokens 200 -interval 10ms -first 200ms -burst 1,20,100
# -burst-first 50ms -relay=true -fairness=true -idle-streams 10000'.
bench-chat:
	$(GO) test -run '^$$' -bench '^BenchmarkChat(Idle)?$$' -benchtime 1x -count 1 -timeout 30m ./pkg/chat/bench/ -args $(BENCH_CHAT_FLAGS)

# Retrieval quality per mode (hit@1/5, MRR, nDCG on known-item queries and questions.json) and
# ACL-filtered search latency at 100k chunks; prints tables. Flags go to the benchmark after -args:
# BENCH_RETRIEVAL_FLAGS='-corpus DIR -chunks N -skip-latency -v'.
bench-retrieval:
	$(GO) test -run '^$$' -bench '^BenchmarkRetrieval$$' -benchtime 1x -count 1 -timeout 60m ./pkg/retrievalbench/ -args $(BENCH_RETRIEVAL_FLAGS)

# The chaos run: the programs as separate processes on a 3-node NATS cluster, killed
# and restarted under mixed load for CHAOS_DURATION, judged by a ledger (nothing lost,
# duplicated or unexpected); then the scaling table (1-3 workers against a model of fixed
# capacity). A bounded run of a minute is part of make test (TestChaosShort).
CHAOS_DURATION ?= 5m
chaos:
	$(GO) test -run '^(TestChaos|TestChaosScaling)$$' -count 1 -v -timeout 90m ./pkg/chaos/ -args -chaos.duration $(CHAOS_DURATION) -chaos.scaling $(CHAOS_FLAGS)

# Every fuzz target in turn for FUZZTIME each: make fuzz FUZZTIME=2m
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done
