# The two commands a newcomer needs. Both install what is missing first (apt packages when
# root, npm packages, the mediasoup worker built against Debian libraries, cached).
.PHONY: start test setup sdk check

setup:
	@bash scripts/setup.sh

sdk: setup
	@node scripts/build-sdk.mjs

## make start: one node on config/default.yaml with the demo page and synthetic source.
start: sdk
	@exec npx tsx src/main.ts $(ARGS)

## make test: typecheck (tsc), lint (ESLint with types, Prettier), then the whole test suite
## (unit, integration with real workers/ffmpeg/Redis, Chromium e2e). Any error fails it.
test: sdk check
	@npx vitest run $(ARGS)

## make check: tsc --noEmit over the whole tree, ESLint (floating/misused promises, unused code), Prettier.
check: setup
	@npm run --silent check
