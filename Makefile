# GoKeyVault. `make test` is what CI runs; `make demo` shows the task working
# end to end on the built-in local cloud.
GO        ?= go
NODE      ?= node
VERSION   := $(shell cat VERSION)
LDFLAGS   := -s -w -X main.version=$(VERSION)
# The commit goes into the binary's build information (gokeyvault version,
# the task's first log line): -buildvcs=auto on the command line overrides a
# GOFLAGS=-buildvcs=false in the environment, and stamps nothing outside a
# git checkout. -trimpath keeps the folder out, so that two clones of one
# commit build the same bytes.
GOBUILD   = CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -ldflags '$(LDFLAGS)'
GOOS_HOST := $(shell $(GO) env GOOS)
GOARCH_HOST := $(shell $(GO) env GOARCH)
# The platforms the task ships for: build/package's platforms() is the list,
# and its TestPlatformLists checks this one and the launcher's against it.
PLATFORMS := linux/amd64 linux/arm64 linux/arm darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
# staticcheck 2025.1.1 under its module version (the module proxy may
# refuse the release name).
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.6.1

.PHONY: all build build-all test unit launcher-test e2e fuzz-short race demo lint bench package clean

all: build

# The binary for this machine, where the launcher looks for it.
build:
	$(GOBUILD) -o task/bin/$(GOOS_HOST)_$(GOARCH_HOST)/gokeyvault$(if $(filter windows,$(GOOS_HOST)),.exe) ./cmd/gokeyvault

# Static, stripped binaries for the seven platforms the launcher knows
# (linux/arm as ARMv7, what the agent's linux-arm needs).
build-all:
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "build $$os/$$arch"; \
		GOOS=$$os GOARCH=$$arch GOARM=7 $(GOBUILD) -o task/bin/$${os}_$${arch}/gokeyvault$$ext ./cmd/gokeyvault; \
	done

# vet; every Go test with the race detector (unit, e2e through the local
# cloud, the packed .vsix); the e2e tests again with every step in debug
# mode, checking no log line holds a secret; short fuzz runs; the
# launcher's tests.
test: build
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	GOKEYVAULT_E2E_DEBUG=1 $(GO) test -count=1 ./cmd/gokeyvault/ ./pkg/task/
	$(GO) -C build/supply vet ./...
	$(GO) -C build/supply test -count=1 ./...
	$(MAKE) --no-print-directory fuzz-short
	$(NODE) --test build/launcher_test/
	GOKEYVAULT_REPRODUCE=1 $(GO) test -count=1 -timeout 30m -run '^TestRebuild' ./build/package/

# Each fuzz target for a fixed number of inputs (a few seconds here); the
# seeds are in the tests. A count, not a duration: Go 1.26's fuzzer can fail
# a target with "context deadline exceeded" when a duration runs out while a
# worker is busy (go.dev/issue/75804), which a loaded CI machine hits.
FUZZ_TIME ?= 100000x
FUZZ_TARGETS := pkg/vso:FuzzRoundTrip pkg/selection:FuzzParse pkg/task:FuzzValidateVaultName \
	pkg/endpoint:FuzzRead pkg/testbed/agentrunner:FuzzEscapeRoundTrip \
	pkg/pfx:FuzzDecode pkg/certformat:FuzzConvert pkg/jsonmember:FuzzFind
fuzz-short:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t#*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZ_TIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZ_TIME) ./$$pkg; \
	done

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /cmd/gokeyvault)

launcher-test:
	$(NODE) --test build/launcher_test/

e2e: build
	$(GO) test -count=1 -v ./cmd/gokeyvault/

demo: build
	$(GO) run ./build/demo

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) -C build/supply vet ./...
	cd build/supply && $(GO) run $(STATICCHECK) ./...

clean:
	rm -rf task/bin dist .cache/bin

# End-to-end benchmark on the local cloud (see build/bench): single jobs,
# then ten jobs at once on one vault, a cold 429 and a neighbour. About 20
# minutes; BENCH_FLAGS='-only cold -runs 3' picks cases by name.
BENCH_FLAGS ?=
bench: build
	$(GO) run ./build/bench -runs 9 $(BENCH_FLAGS)

# ---- Marketplace extension (build/package) ----------------------------------
# make package builds the seven binaries, installs the pinned tfx-cli (npm ci)
# and writes dist/<publisher>.<id>-<version>.vsix after checking task.json,
# the manifest, the versions and the package; PUBLISHER=contoso packs it for
# another Marketplace publisher. VERSION is the one version: make set-version
# V=1.2.3 writes it to VERSION, task/task.json and vss-extension.json.
PUBLISHER ?= gokeyvault
TFX_DIR   := build/package
TFX_STAMP := $(TFX_DIR)/node_modules/.package-lock.json

.PHONY: tfx check-version set-version supply

# make test also packs the extension and runs the packed task (build/package's
# vsix test), which then fails rather than skips when the .vsix is missing.
test: package
test: export GOKEYVAULT_VSIX_PUBLISHER = $(PUBLISHER)

package: build-all $(TFX_STAMP) supply
	$(GO) run ./build/package -publisher '$(PUBLISHER)' -tfx $(TFX_DIR)/node_modules/.bin/tfx -supply $(SUPPLY) -out dist

# build/supply writes the third-party notices and the SBOMs (go-licenses and
# cyclonedx-gomod, pinned by its own go.mod so that they stay out of the
# product's module graph); the packager runs it offline.
SUPPLY := .cache/bin/supply
supply:
	$(GO) -C build/supply build -o $(CURDIR)/$(SUPPLY) .

tfx: $(TFX_STAMP)

$(TFX_STAMP): $(TFX_DIR)/package.json $(TFX_DIR)/package-lock.json
	cd $(TFX_DIR) && npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

check-version:
	$(GO) run ./build/package -check

set-version:
	@test -n "$(V)" || { echo "usage: make set-version V=MAJOR.MINOR.PATCH"; exit 1; }
	$(GO) run ./build/package -set-version '$(V)'
