# DoLL Workbench — two commands do everything on a fresh machine: `make demo` and `make test`.
SWIFT ?= swift
CONFIG ?= release

.PHONY: setup build test demo bench clean

setup:
	@bash scripts/setup.sh

build: setup
	$(SWIFT) build -c $(CONFIG)

# Numeric suites are heavy: tests run in release.
test: setup
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
