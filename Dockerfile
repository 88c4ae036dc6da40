# Arbiter in a container: `docker build -t arbiter .`, then
#   docker run -p 3000:3000 -v arbiter-data:/data arbiter
# (SQLite in the volume). Another database: -e ARBITER_DATABASE=…
# Multi-stage: the build stage has Rust, the wasm tools and Node; the
# runtime stage only the binary, the built site and CA certificates.

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The same two steps as on a workstation: tools (wasm target,
# wasm-bindgen-cli, wasm-opt, esbuild), then the release build.
RUN bash scripts/install-tools.sh && bash scripts/build.sh --release \
 && mkdir -p /out && cp target/release/arbiter /out/ && cp -r target/site /out/site

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data arbiter \
 && mkdir -p /data && chown arbiter /data
COPY --from=build /out/arbiter /usr/local/bin/arbiter
COPY --from=build /out/site /usr/local/share/arbiter/site
ENV ARBITER_ADDR=0.0.0.0:3000 \
    ARBITER_SITE_ROOT=/usr/local/share/arbiter/site \
    ARBITER_DATABASE=sqlite:///data/arbiter.db
USER arbiter
WORKDIR /data
VOLUME /data
EXPOSE 3000
ENTRYPOINT ["arbiter"]
CMD ["serve"]
