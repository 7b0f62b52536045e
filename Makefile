# Coffer — see README.md. `make test` runs every test; `make run` starts the demo.
SWIFT ?= swift
CONFIG ?= debug
BUILD_FLAGS ?=

PREFIX ?= /usr/local
SYSTEMD_DIR ?= /etc/systemd/system
DESTDIR ?=

.PHONY: all build release install test test-unit deps fmt run stop bench clean s3-start s3-stop

all: build

deps:
	@bash scripts/install-deps.sh

build:
	$(SWIFT) build -c $(CONFIG) $(BUILD_FLAGS)

release:
	$(SWIFT) build -c release $(BUILD_FLAGS)

# The release binary (with the Swift runtime linked in: the host needs no Swift toolchain) and the systemd unit
# template, with the unit's paths set to PREFIX (docs/operations.md).
install:
	$(SWIFT) build -c release --static-swift-stdlib --product coffer $(BUILD_FLAGS)
	install -D -m 0755 "$$($(SWIFT) build -c release --static-swift-stdlib $(BUILD_FLAGS) --show-bin-path)/coffer" "$(DESTDIR)$(PREFIX)/bin/coffer"
	install -d "$(DESTDIR)$(SYSTEMD_DIR)"
	sed 's|/usr/local/bin/coffer|$(PREFIX)/bin/coffer|g' scripts/systemd/coffer@.service > "$(DESTDIR)$(SYSTEMD_DIR)/coffer@.service"
	chmod 0644 "$(DESTDIR)$(SYSTEMD_DIR)/coffer@.service"

# Every test: unit tests and integration tests against moto servers the tests start themselves. One test at a
# time: on two cores, kernel mounts, moto and timing-sensitive unit tests starve each other when run together.
test: deps
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	$(SWIFT) test --skip-build --disable-xctest --no-parallel $(BUILD_FLAGS)

fmt:
	@if $(SWIFT) format --version >/dev/null 2>&1; then \
		$(SWIFT) format --in-place --recursive Sources Tests Package.swift; \
	else echo "swift-format is not available in this toolchain"; fi

run: deps build
	@bash scripts/run-demo.sh

stop:
	@bash scripts/run-demo.sh stop

s3-start:
	@bash scripts/local-s3.sh start

s3-stop:
	@bash scripts/local-s3.sh stop

bench: deps
	@bash scripts/bench/run.sh

clean:
	rm -rf .build .coffer
