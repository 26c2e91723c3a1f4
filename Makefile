GO ?= go

.PHONY: run test build vet bench-ingest bench-chat bench-reindex fuzz

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
