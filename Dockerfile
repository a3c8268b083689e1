# Build: docker build -t streamhard .
# Run:   docker run -p 8080:8080 -p 8189:8189/udp streamhard --public-ip <host's public IP>
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p streamhard

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/streamhard --create-home streamhard
COPY --from=build /src/target/release/streamhard /usr/local/bin/streamhard
USER streamhard
WORKDIR /var/lib/streamhard
# HTTP (API, WHIP) and the one UDP port every WebRTC session shares.
EXPOSE 8080 8189/udp
ENV STREAMHARD_LISTEN=0.0.0.0:8080 \
    STREAMHARD_DATA_DIR=/var/lib/streamhard
ENTRYPOINT ["streamhard", "serve"]
