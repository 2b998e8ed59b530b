# The two commands a newcomer needs. Both install what is missing first (apt packages when
# root, Node 24 when the system's Node is another major, npm packages, the mediasoup worker
# built against Debian libraries, cached) and run with Node 24 (scripts/runtime-node.sh; set
# SUBSEC_SETUP_NODE=/path/to/node to use your own, Node >= 22).
.PHONY: start test setup sdk check

# The runtime's folder first on PATH, so node, npx and everything they start use it.
WITH_RUNTIME = PATH="$$(bash scripts/runtime-node.sh):$$PATH"

setup:
	@bash scripts/setup.sh

sdk: setup
	@$(WITH_RUNTIME) node scripts/build-sdk.mjs

## make start: one node on config/default.yaml with the demo page and synthetic source.
start: sdk
	@$(WITH_RUNTIME) exec npx tsx src/main.ts $(ARGS)

## make test: typecheck (tsc), lint (ESLint with types, Prettier), then the whole test suite
## (unit, integration with real workers/ffmpeg/Redis, Chromium e2e). Any error fails it.
test: sdk check
	@$(WITH_RUNTIME) npx vitest run $(ARGS)

## make check: tsc --noEmit over the whole tree, ESLint (floating/misused promises, unused code), Prettier.
check: setup
	@$(WITH_RUNTIME) npm run --silent check
