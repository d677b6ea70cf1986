# Ticktide: thin entry points; the work is in scripts/.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help up down test bench lint nginx-compose

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

up: ## install what is missing, start the stack in the background, print the URL
	@bash scripts/up.sh

down: ## stop what `make up` started (data stays)
	@bash scripts/down.sh

test: ## install what is missing, then lint, type-check and run every test
	@bash scripts/test.sh

bench: ## run the benchmarks in bench/ and print the results
	@bash scripts/bench.sh

lint: ## ruff check, ruff format --check, mypy
	@bash scripts/lint.sh

nginx-compose: ## re-render nginx/compose.conf from nginx/ticktide.conf.template
	@bash scripts/render-compose-nginx.sh
