# A static, non-root fleetscore image. The SQLite driver is pure Go, so the
# binary needs no libc: CGO_ENABLED=0.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /fleetscore ./cmd/fleetscore

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /fleetscore /usr/local/bin/fleetscore
WORKDIR /var/lib/fleetscore
USER nonroot:nonroot
ENV FLEETSCORE_CONFIG=/etc/fleetscore/fleetscore.yaml
ENTRYPOINT ["/usr/local/bin/fleetscore"]
CMD ["collect"]
