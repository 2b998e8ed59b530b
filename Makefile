# The two commands a newcomer needs. Both install what is missing first (apt packages when
# root, npm packages, the mediasoup worker built against Debian libraries, cached).
.PHONY: start test setup sdk

setup:
	@bash scripts/setup.sh

sdk: setup
	@node scripts/build-sdk.mjs

## make start: one node on config/default.yaml with the demo page and synthetic source.
start: sdk
	@exec npx tsx src/main.ts $(ARGS)

## make test: the whole test suite (unit, integration with real workers/ffmpeg/Redis, Chromium e2e).
test: sdk
	@npx vitest run $(ARGS)
