# Votechain — run `make help` for the targets.
SHELL := /bin/bash
GO    ?= go

FABRIC_BIN  := bin/fabric
FABRIC_CMDS := peer orderer configtxgen cryptogen osnadmin
VCNET       := bin/vcnet

# Test timeout for the whole suite (integration tests start real networks).
TEST_TIMEOUT ?= 45m
# Timeout of each heavy test (make test-heavy).
TEST_HEAVY_TIMEOUT ?= 30m

.DEFAULT_GOAL := help
.PHONY: help deps deps-run fabric-bin build up down status network-up network-down network-status deploy test test-unit test-heavy fmt vet clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

deps: ## install the Debian packages make test needs, if missing: deps-run's and, for the browser tests, chromium
	@scripts/install-deps.sh

deps-run: ## install the Debian packages the running system (make up) and the tests without a browser need, if missing: redis-server, prometheus with promtool, prometheus-redis-exporter, haproxy, patch
	@scripts/install-deps.sh --runtime

fabric-bin: ## build the Fabric 3.1.1 binaries when missing or built from other network/fabricbin files (by content, not mtime)
	@GO=$(GO) network/fabricbin/build.sh --if-changed $(FABRIC_BIN) $(FABRIC_CMDS)

# Fabric is built as a dependency of its own small module (network/fabricbin),
# so the main module does not inherit Fabric's dependency tree, with the
# patches in network/fabricbin/patches applied (docs/ledger.md). Fabric's own
# sample core.yaml and orderer.yaml are copied beside the binaries; the test
# network applies the project's settings to them. fabric-bin runs every time:
# build.sh --if-changed compares the SHA-256 of each of network/fabricbin's
# inputs with the digest the last build wrote into $(FABRIC_BIN)/.built, and
# builds only when they differ or a binary is missing (a checkout's new mtimes
# rebuild nothing). It refuses to build into a FABRIC_BIN that is a symlink.

build: ## build the project's commands into bin/
	$(GO) build -o bin/ ./cmd/...

# The commands the stop and status targets run, rebuilt by each make that
# runs them, so that after a pull they are never a stale build: go build
# relinks only when a source of the command changed (by content, through
# its build cache; when nothing did, it takes 0.5 to 0.8 s on 2 cores, and
# leaves the binary as it was). A build that fails leaves an existing binary
# to run, with a warning, so a broken build never keeps the system from
# stopping; a missing one must build. GOPROXY=off: a module missing from
# the cache (go.mod changed by a pull), or a newer toolchain go.mod asks
# for, fails the build at once instead of waiting on the network, so an
# offline machine falls back at once (make build fetches them). A compile
# does delay stopping: about a second with a warm cache, far longer with a
# cold one (a fresh checkout, or after go clean -cache: every dependency
# compiles); bin/votechain down and bin/vcnet down skip the build.
# A make that also builds everything (build, or a goal that needs it) runs
# these builds after that one, never beside it: two go builds writing one
# binary at once can leave it torn.
BUILDING_ALL := $(filter build network-up deploy up test test-heavy bench,$(MAKECMDGOALS))
.PHONY: bin/vcnet bin/votechain
bin/vcnet bin/votechain: | $(if $(BUILDING_ALL),build)
	GOPROXY=off $(GO) build -o $@ ./cmd/$(notdir $@) || { test -x $@ && echo "make: building $@ failed; running the $@ built before, from older sources (make build fetches missing modules)" >&2; }

network-up: fabric-bin build ## bring the consortium up (idempotent)
	$(VCNET) up

# WIPE and FORCE act only as WIPE=1 and FORCE=1 ($(filter 1,...)): WIPE=0,
# or a FORCE exported in the shell for something else, must never wipe or
# force (make reads every environment variable as a make variable).
network-down: $(VCNET) ## stop every network process (needs only bin/vcnet, rebuilt if its sources changed); WIPE=1 also deletes ledgers, crypto and logs; refused for make up's network while its system runs (make down), FORCE=1 stops it all the same (WIPE and FORCE act only when 1)
	$(VCNET) down $(if $(filter 1,$(WIPE)),--wipe) $(if $(filter 1,$(FORCE)),--force)

network-status: $(VCNET) ## show network processes, ports and block heights (needs only bin/vcnet, rebuilt if its sources changed)
	$(VCNET) status

deploy: build ## deploy a changed chaincode as the next sequence, keeping the ledger
	$(VCNET) deploy

# The election template of a new election (`make up ELECTION=config/referendum.json`
# for the three-question referendum); an election already on the ledger is kept.
ELECTION ?= config/election.json

up: deps-run fabric-bin build ## bring the whole system up: network, Redis, election, batchers, gateway, explorer (ELECTION=config/referendum.json for the referendum; GATEWAYS=n BATCHERS=n REDIS=cluster scale it out; HOSTS=commission=127.0.0.2,observers=127.0.0.3,clients=127.0.0.4 places it on several addresses; LEDGER_PRIORITY=idle|nice:N|normal sets the ledger side's CPU priority, default nice:10; LEDGER_NICE=N is LEDGER_PRIORITY=nice:N)
	bin/votechain up -election $(ELECTION) $(if $(GATEWAYS),--gateways $(GATEWAYS)) $(if $(BATCHERS),--batchers $(BATCHERS)) $(if $(REDIS),--redis $(REDIS)) $(if $(LEDGER_NICE),--ledger-nice $(LEDGER_NICE)) $(if $(LEDGER_PRIORITY),--ledger-priority $(LEDGER_PRIORITY)) $(if $(HOSTS),--hosts $(HOSTS))

down: bin/votechain ## stop the whole system (needs only bin/votechain, rebuilt if its sources changed): usually seconds, at worst ~1¼ min for one gateway on a single Redis, more over a Redis Cluster (gateways stopped together, each up to --shutdown-timeout + 109.5 s; docs/operations.md#stopping-the-system); WIPE=1 deletes its data in .run/, keeping .run/deploy, .run/bench and .run/test (WIPE acts only when 1)
	bin/votechain down $(if $(filter 1,$(WIPE)),--wipe)

status: bin/votechain ## show what runs where (needs only bin/votechain, rebuilt if its sources changed)
	bin/votechain status

# Heavy tests (files with //go:build heavy, scripts/test-heavy.sh) need the
# machine to themselves: test and test-unit only compile and vet them, test-heavy
# runs them. test holds the machine's test lock shared (scripts/test-lock.sh), so
# make tests run beside each other but never beside a heavy test or a bench,
# which hold it alone (test-unit and test-race take no lock and never wait:
# test-lock.sh notice says who holds it, if anyone, before they run). Before
# its tests, under the lock, test says in one line if the tests on separate hosts (network
# namespaces) will be skipped on this machine, and why (scripts/separate-hosts.sh):
# go test prints only ok for their package, run or skipped. go test's status is make test's.
test: deps fabric-bin build ## run all tests, including integration tests on real services (heavy tests only compiled and vetted); says first if the tests on separate hosts will be skipped here (they need root)
	GO=$(GO) scripts/test-heavy.sh --vet
	VOTECHAIN_TEST_BIN=$(CURDIR)/bin scripts/test-lock.sh shared bash -c 'GO="$$1" scripts/separate-hosts.sh; exec "$$@"' _ $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

test-unit: deps-run ## the fast lane: every test that needs no Fabric network (-short; about 3 minutes on 2 cores)
	GO=$(GO) scripts/test-heavy.sh --vet -trimpath
	scripts/test-lock.sh notice $(GO) test -short -trimpath -count=1 -timeout 10m ./...

test-heavy: deps-run fabric-bin build ## the heavy lane: each test too heavy for make test (//go:build heavy) alone, one at a time, waiting for any make test, test-heavy or bench on the machine (two tests now, each on its own network: the roll-sized load test about 3 minutes, the follower-sync test 12 cycles of 8 s starvation and catch-up, about 2 minutes more besides its network's start)
	GO=$(GO) TEST_HEAVY_TIMEOUT=$(TEST_HEAVY_TIMEOUT) VOTECHAIN_TEST_BIN=$(CURDIR)/bin scripts/test-heavy.sh

fmt: ## gofmt the code
	gofmt -w $$(git ls-files '*.go')

vet: ## go vet (with the heavy tests)
	$(GO) vet -tags heavy ./...

# clean never stops the system: `votechain clean` refuses while any of its
# processes runs, so a make clean typed for the build outputs cannot take a
# running election's ledger with it.
clean: bin/votechain ## delete the make up system's data in .run/ (what make down WIPE=1 deletes: ledgers, crypto, Redis data, roll, secrets, logs; .run/deploy, .run/bench and .run/test are kept), then bin/; refused while any process of the system runs (make down first)
	bin/votechain clean
	rm -rf bin

# The race lane: test-unit's tests built with Go's race detector, which
# needs cgo and a C compiler (not among deps: nothing else needs one). The
# detector slows the tests several times over (the explorer's index tests
# most), hence the longer per-package timeout.
.PHONY: test-race
test-race: deps-run ## the fast lane under Go's race detector (-race -short; about 6 minutes on 2 cores, where test-unit then took 3; the first run also builds everything for the detector; needs a C compiler)
	@cc=$$($(GO) env CC); command -v "$$cc" >/dev/null || { echo "test-race: the race detector needs cgo and a C compiler ($$cc); on Debian: apt-get install gcc" >&2; exit 1; }
	scripts/test-lock.sh notice $(GO) test -race -short -trimpath -count=1 -timeout 20m ./...

.PHONY: bench
bench: deps-run fabric-bin build ## benchmark on its own system (.run/bench, ports 31400-32599, below the ephemeral range); report in bench/reports/<date>-<machine>/ (BENCH_FLAGS=--quick for a short try, BENCH_FLAGS='--only intake' for the intake phases alone; LEDGER_PRIORITY as for up); holds the machine's test lock alone, so it waits for any make test, test-heavy or bench on the machine and says so, and they wait for it
	scripts/test-lock.sh exclusive bin/benchrun $(if $(LEDGER_PRIORITY),--ledger-priority $(LEDGER_PRIORITY)) $(BENCH_FLAGS)
