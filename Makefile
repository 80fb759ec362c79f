# DoLL Workbench — two commands do everything on a fresh machine: `make demo` and `make test`.
SWIFT ?= swift
CONFIG ?= release

.PHONY: setup build lint test demo bench clean

setup:
	@bash scripts/setup.sh

build: setup
	$(SWIFT) build -c $(CONFIG)

# The toolchain's formatter with .swift-format (lines of 120); warnings fail the build.
lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

# Numeric suites are heavy: tests run in release.
test: setup lint
	$(SWIFT) test -c $(CONFIG) -Xswiftc -enable-testing

bench: build
	.build/$(CONFIG)/doll bench

# The main job: the quick DoLL study on the embedded phantoms (a few minutes on 2 cores).
demo: build
	.build/$(CONFIG)/doll --version
	.build/$(CONFIG)/doll study --preset quick --out reports/quick
	@echo "report: reports/quick/report.md (and report.html)"

clean:
	rm -rf .build
