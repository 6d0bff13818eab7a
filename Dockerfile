# A static, non-root fleetscore image. The SQLite driver is pure Go, so the
# binary needs no libc: CGO_ENABLED=0.
#
#   docker build -t fleetscore .
#   docker run -v fleetscore:/var/lib/fleetscore -p 8080:8080 \
#     -v ./fleetscore.yaml:/etc/fleetscore/fleetscore.yaml:ro fleetscore serve
#
# README "Running in a container" has the rest (the first user, secrets).

# pin: golang:1.26 is not pinned yet: no digest of it could be looked up
# where this was written. Get it with
#   docker buildx imagetools inspect golang:1.26 --format '{{json .Manifest.Digest}}'
# (or `crane digest golang:1.26`) and write FROM golang:1.26@sha256:<digest> AS build.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /fleetscore ./cmd/fleetscore
# The data folder, made here because the runtime image has no shell: 0700,
# and given to nonroot when copied.
RUN mkdir -p /rootfs/var/lib/fleetscore && chmod 0700 /rootfs/var/lib/fleetscore

# gcr.io/distroless/static-debian12:nonroot, by the digest of its multi-arch
# index (as public Dockerfiles pinned it on 2026-08-26). To update:
#   crane digest gcr.io/distroless/static-debian12:nonroot
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /fleetscore /usr/local/bin/fleetscore
# /var/lib/ itself is not copied, only the fleetscore folder in it (0700,
# owned by nonroot): a new named volume starts as this folder, so nonroot
# can write it. A bind-mounted folder must be writable by uid 65532.
COPY --from=build --chown=65532:65532 /rootfs/var/lib/ /var/lib/
USER nonroot:nonroot
WORKDIR /var/lib/fleetscore
VOLUME ["/var/lib/fleetscore"]
# The config is mounted at /etc/fleetscore/fleetscore.yaml (or elsewhere,
# named by FLEETSCORE_CONFIG); its relative paths (certificates, secret
# files) are relative to its folder. With no database: key, the database is
# /var/lib/fleetscore/fleetscore.db. FLEETSCORE_LISTEN overrides listen:
# (every interface: serve then requires sign-in, so add a user first).
ENV FLEETSCORE_CONFIG=/etc/fleetscore/fleetscore.yaml \
    FLEETSCORE_DATA=/var/lib/fleetscore \
    FLEETSCORE_LISTEN=:8080
EXPOSE 8080
# GET /healthz on the listen address above; the image has no curl.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/fleetscore", "healthcheck", "--timeout", "5s"]
ENTRYPOINT ["/usr/local/bin/fleetscore"]
CMD ["serve"]
