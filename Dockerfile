# Warden: one static-ish binary on a slim Debian base. Build: docker build -t warden .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY benches benches
COPY migrations migrations
COPY policies policies
COPY prompts prompts
COPY catalog.example.toml directory.example.toml ./
RUN cargo build --release --locked --bin warden

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /data warden && mkdir -p /data && chown warden /data
COPY --from=build /src/target/release/warden /usr/local/bin/warden
USER warden
WORKDIR /data
ENV WARDEN__SERVER__LISTEN=0.0.0.0:8080 \
    WARDEN__DATABASE__URL=sqlite:///data/warden.db \
    WARDEN__LOG__FORMAT=json
EXPOSE 8080
ENTRYPOINT ["warden"]
CMD ["serve"]
