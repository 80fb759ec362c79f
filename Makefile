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

demo: build
	.build/$(CONFIG)/doll --version
	.build/$(CONFIG)/doll bench

clean:
	rm -rf .build
