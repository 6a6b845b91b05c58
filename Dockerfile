# Orderly's container image: the Spin application (spin.toml + the .wasm components) served
# by the bundled Spin-compatible host `orderly-host` in release mode, with `orderly-migrate`
# (the migration Job) and `orderly-admin` (operator commands, the health check). It runs on
# any Kubernetes today; SpinKube and Fermyon/Akamai Functions take the Spin OCI artifact
# instead (`spin registry push`, docs/deploy.md).
#
#   buildah bud --format docker -t orderly:dev .        # or: docker build -t orderly:dev .
#
# Final image: no shell, no package manager, no compiler; user 65532; every file root-owned;
# the only writable directories are /var/lib/orderly/data, /var/cache/orderly and /tmp (mode
# 1777: any user id works; mount volumes there and run with a read-only root file system). The tree is laid out by
# deploy/image/assemble.sh, the same script .ci/run runs on the host for
# `--target image-prebuilt` (the image from an already-built tree, where no Rust image can be
# pulled).

ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm

# --- the runtime configuration every final stage inherits ------------------------------
FROM scratch AS runtime
ENV ORDERLY_HOST_CACHE_DIR=/var/cache/orderly \
    RUST_LOG=warn
WORKDIR /app
USER 65532:65532
EXPOSE 3000
# No shell or curl in the image: orderly-admin does one plain GET. Kubernetes ignores
# HEALTHCHECK and uses the probes of deploy/kubernetes/deployment.yaml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/orderly-admin", "probe", "http://127.0.0.1:3000/health"]
ENTRYPOINT ["/usr/local/bin/orderly-host", "--manifest", "/app/spin.toml", \
            "--state-dir", "/var/lib/orderly", "--listen", "0.0.0.0:3000"]
CMD ["--runtime-config-file", "/etc/orderly/runtime-config.toml"]
LABEL org.opencontainers.image.title="orderly" \
      org.opencontainers.image.description="Orderly: OAuth 2.0 / OIDC server, catalogue and orders as Spin (WASI p3) components, served by orderly-host" \
      org.opencontainers.image.licenses="Apache-2.0"

# --- from a tree already assembled on the host (.ci/run) --------------------------------
FROM runtime AS image-prebuilt
COPY target/image/rootfs/ /

# --- from source ------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS build
WORKDIR /src
RUN rustup target add wasm32-wasip2
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,id=orderly-target \
    deploy/image/assemble.sh /out

# The default target (last stage): built from source.
FROM runtime AS image
COPY --from=build /out/rootfs/ /
