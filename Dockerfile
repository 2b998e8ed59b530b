# subsec node image. Multi-stage: the build stage runs the Makefile's own commands
# (make setup = bash scripts/setup.sh; make sdk = node scripts/build-sdk.mjs), which build the
# mediasoup worker against Debian 12 libraries as shared/DEPENDENCIES.md describes; the runtime
# stage keeps only what the node needs and runs the Makefile's start command.
FROM node:24-bookworm AS build
WORKDIR /opt/subsec
COPY . .
# make setup (apt packages, npm ci, mediasoup worker), then make sdk.
RUN bash scripts/setup.sh && node scripts/build-sdk.mjs

FROM node:24-bookworm-slim AS runtime
# Shared libraries the worker links (see DEPENDENCIES.md), ffmpeg for the synthetic source, SRT and
# LL-HLS, and the font of the synthetic clock.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libuv1 libssl3 libsrtp2-1 ffmpeg fonts-dejavu-core ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/subsec
COPY --from=build /opt/subsec /opt/subsec
RUN useradd --system --home /opt/subsec subsec && chown -R subsec /opt/subsec
USER subsec
ENV NODE_ENV=production
EXPOSE 8080/tcp 7882/udp 7882/tcp 9710/udp 4443/tcp 4443/udp 4444/tcp
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.SUBSEC_HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# make start = npx tsx src/main.ts $(ARGS)
ENTRYPOINT ["npx", "tsx", "src/main.ts"]
CMD ["--config", "config/production.example.yaml"]
