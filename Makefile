# GoKeyVault. `make test` is what CI runs; `make demo` shows the task working
# end to end on the built-in local cloud.
GO        ?= go
NODE      ?= node
VERSION   := $(shell cat VERSION)
LDFLAGS   := -s -w -X main.version=$(VERSION)
GOOS_HOST := $(shell $(GO) env GOOS)
GOARCH_HOST := $(shell $(GO) env GOARCH)
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@2025.1.1

.PHONY: all build build-all test unit launcher-test e2e fuzz-short race demo lint bench package clean

all: build

# The binary for this machine, where the launcher looks for it.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
		-o task/bin/$(GOOS_HOST)_$(GOARCH_HOST)/gokeyvault$(if $(filter windows,$(GOOS_HOST)),.exe) ./cmd/gokeyvault

# Static, stripped binaries for the six platforms the launcher knows.
build-all:
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "build $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
			-o task/bin/$${os}_$${arch}/gokeyvault$$ext ./cmd/gokeyvault; \
	done

test: build
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	$(NODE) --test build/launcher_test/

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

clean:
	rm -rf task/bin dist
