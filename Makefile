# paykit's build. `make test` is what CI runs (through .ci/run).

GO            ?= go
GOLANGCI_LINT_VERSION := v2.15.0
BIN           := $(CURDIR)/bin
GOLANGCI_LINT := $(BIN)/golangci-lint
FUZZTIME      ?= 10000x
BENCHCOUNT    ?= 6

# Every fuzz target, as package:Target. `make test` runs each for $(FUZZTIME)
# inputs (a few seconds each): a count, not a duration, because Go 1.26's
# fuzzing coordinator can fail a target with "context deadline exceeded" when
# a duration ends on a busy machine (golang/go#75804, fixed in Go 1.27).
# `make fuzz FUZZTIME=2m` (or 1000000x) runs them longer.
FUZZ_TARGETS := \
	./payment:FuzzParseDecimal \
	./payment:FuzzPaymentJSON \
	./httpx:FuzzDecodeCheckout \
	./providers/sandbox:FuzzParseWebhook \
	./providers/sandbox:FuzzParseSignedWebhook \
	./providers/payplus:FuzzParseWebhook \
	./providers/villa:FuzzParseWebhook \
	./providers/appotapay:FuzzParseWebhook \
	./providers/vepara:FuzzParseWebhook \
	./providers/vepara:FuzzDecryptHashKey

.PHONY: test vet lint unit fuzz bench tools postgres clean

## test: vet, lint, every test with -race (PostgreSQL included), and a short fuzz of every parser.
test: vet lint postgres unit fuzz

vet:
	$(GO) vet ./...

lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run --allow-parallel-runners ./...

## postgres: make a PostgreSQL server reachable for the bunstore tests when one is installed.
postgres:
	@bash scripts/pgtest-env.sh

unit:
	$(GO) test -race -count=1 -timeout 12m ./...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name: $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## bench: the benchmarks, with -benchmem and enough runs for benchstat.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./payment/... ./httpx/... ./store/...
	$(GO) run ./bench/load -duration 10s

tools: $(GOLANGCI_LINT)

$(GOLANGCI_LINT):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

clean:
	rm -rf $(BIN)
