# attune in a small runtime image: `docker build -t attune .`
# One image for every role: `attune serve --no-worker` (replicas behind a load balancer),
# `attune worker` (fine-tuning), or `attune serve` alone on one machine. See deploy/.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
COPY dashboard dashboard
COPY data data
RUN cargo build --release --locked && strip target/release/attune

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /var/lib/attune --uid 10001 attune
COPY --from=build /src/target/release/attune /usr/local/bin/attune
USER attune
# The registry home (SQLite when no ATTUNE_DATABASE_URL), and the downloaded base models.
ENV ATTUNE_HOME=/var/lib/attune/home ATTUNE_CACHE=/var/lib/attune/cache
VOLUME ["/var/lib/attune"]
EXPOSE 8080
ENTRYPOINT ["attune"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
