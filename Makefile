# meshrev — run `make help` for the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Where the local control plane's binaries are cached (outside the repo, keyed by version).
export MESHREV_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/meshrev
# Name of the cluster `make cluster` manages; tests use their own, unique names.
CLUSTER ?= meshrev-dev
CLUSTER_DIR := $(MESHREV_CACHE)/clusters/$(CLUSTER)
LOCALCLUSTER := hack/localcluster

NODE_DEPS := node_modules/.package-lock.json

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n\n"} /^[a-zA-Z0-9_-]+:.*##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

$(NODE_DEPS): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps
deps: $(NODE_DEPS) ## Install the Node dependencies (npm ci)

.PHONY: build
build: $(NODE_DEPS) ## Compile TypeScript into dist/, and bundle the CLI and operator into dist/meshrev.mjs
	npx tsc -p tsconfig.json
	node hack/bundle.mjs

.PHONY: lint
lint: $(NODE_DEPS) ## Lint with eslint + typescript-eslint
	npx eslint .

.PHONY: binaries
binaries: ## Build (or reuse) etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok and a real istiod (pilot-discovery, istio-render) into $(MESHREV_CACHE)
	$(LOCALCLUSTER)/build.sh --istio

.PHONY: cluster
cluster: binaries ## Start the local cluster $(CLUSTER) on 127.0.0.1 (kubeconfig: $(CLUSTER_DIR)/kubeconfig)
	$(LOCALCLUSTER)/cluster.sh up $(CLUSTER)

.PHONY: cluster-down
cluster-down: ## Stop the local cluster $(CLUSTER) and delete its state
	$(LOCALCLUSTER)/cluster.sh down $(CLUSTER)

.PHONY: cluster-down-all
cluster-down-all: ## Stop every local cluster under $(MESHREV_CACHE)/clusters (e.g. after an interrupted test run)
	$(LOCALCLUSTER)/cluster.sh down-all

.PHONY: demo
demo: build binaries ## Run the demo: local cluster, two injector revisions, a canary migration 1-20 -> 1-21 and its rollback (leaves it running)
	hack/demo.sh up

.PHONY: demo-down
demo-down: ## Stop the demo's operator, injectors and cluster
	hack/demo.sh down

.PHONY: test-unit
test-unit: build tools helm ## Run the fast unit tests (no cluster; a few use openssl for throwaway certificates, the chart tests the cached helm)
	npx mocha --config test/.mocharc.unit.json

.PHONY: tools
tools: ## Install missing system tools the tests use (openssl, prometheus) from Debian's packages
	hack/install-tools.sh

.PHONY: test-integrations
test-integrations: ## Judge the status contract's rows (fixtures, and MeshRevisions the e2e tests captured) with the real kstatus, Argo CD Lua and Flux CEL evaluators
	cd hack/integrations && GOFLAGS=-mod=readonly GOTOOLCHAIN=local go test -count=1 -v ./...

.PHONY: test-e2e
test-e2e: build binaries tools helm ## Run the end-to-end tests against a fresh local cluster (started and torn down by the harness)
	npx mocha --config test/.mocharc.e2e.json

.PHONY: chaos
chaos: build binaries tools ## The full chaos suite: 5 runs of faults at random points (MESHREV_CHAOS_RUNS=N, MESHREV_CHAOS_SEED=S replays one); make test runs 1
	MESHREV_CHAOS_RUNS=$${MESHREV_CHAOS_RUNS:-5} npx mocha --config test/.mocharc.chaos.json

.PHONY: bench
bench: build binaries ## Run the benchmarks (BENCH="migration --sizes 10,100" for one; see README "Benchmarks")
	node dist/bench/run.js $(BENCH)

.PHONY: test
test: ## Run everything: lint, unit tests, e2e tests on a real local cluster, then the status contract's integration checks (over fixtures and the objects the e2e tests captured)
	rm -rf .test-results
	$(MAKE) --no-print-directory lint
	@status=0; \
	$(MAKE) --no-print-directory test-unit || status=1; \
	$(MAKE) --no-print-directory test-e2e || status=1; \
	MESHREV_CONTRACT_MIN_CAPTURED=12 $(MAKE) --no-print-directory test-integrations || status=1; \
	exit $$status

# The oldest Kubernetes minor of the supported range; test-matrix runs the e2e suite on it too.
KUBE_MATRIX ?= 1.30.14

.PHONY: test-matrix
test-matrix: ## Run the e2e suite on the newest and the oldest supported Kubernetes (versions.env's, then 1.30.14 — KUBE_MATRIX; built once, ~10 min cold); not part of `make test`
	@status=0; \
	$(MAKE) --no-print-directory test-e2e || status=1; \
	KUBE_VERSION=$(KUBE_MATRIX) $(MAKE) --no-print-directory test-e2e || status=1; \
	exit $$status

.PHONY: image
image: ## Build the container image IMG from the Containerfile with docker, podman or buildah (says which failed when none works)
	@test -n "$(IMG)" || { echo "make image: set IMG, e.g. make image IMG=registry.example.com/meshrev:0.1.0" >&2; exit 2; }
	hack/image.sh "$(IMG)"

.PHONY: rootfs
rootfs: build ## Assemble the image's root filesystem without a builder (host Node.js 20 + bundle) under $(MESHREV_CACHE)/rootfs
	hack/rootfs.sh

.PHONY: helm
helm: ## Build (or reuse) helm from the Go module proxy into $(MESHREV_CACHE)/helm-v<version> (cold: about 10 min on 2 cores)
	hack/helm/build.sh

.PHONY: chart-lint
chart-lint: helm ## helm lint --strict charts/meshrev
	"$$(hack/helm/build.sh 2>/dev/null | sed -n 's/^HELM=//p')" lint --strict charts/meshrev

.PHONY: release
release: build ## Write dist/release/install.yaml and the Helm chart package for VERSION=x.y.z IMG=<repository without tag>
	hack/release.sh "$(VERSION)" "$(IMG)"

.PHONY: clean
clean: ## Remove build outputs (the binary cache stays; see cache-clean)
	rm -rf dist .test-results

.PHONY: cache-clean
cache-clean: cluster-down-all ## Delete the binary cache $(MESHREV_CACHE)
	rm -rf $(MESHREV_CACHE)
