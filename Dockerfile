# syntax=docker/dockerfile:1
#
# Production image of the depeg relay processor: a static Go binary on
# distroless, run as a non-root user, listening on PORT (3000).
#
# No Docker engine runs on the project's machines: .ci/docker-build replays
# this file's build stage (its ARG, ENV, WORKDIR, COPY and RUN lines) on the
# host and checks the result, so keep the build stage to those instructions,
# with RUN lines that use paths relative to WORKDIR.

# Base images are pinned by tag. GO_VERSION must be at least the go directive
# of go.mod (GOTOOLCHAIN=local refuses to download another toolchain).
ARG GO_VERSION=1.26.8
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
# -trimpath and no VCS stamp: the same source gives the same binary. -tags nodev
# leaves dev mode (embedded chain and Redis) out of the production binary.
RUN go build -tags nodev -trimpath -buildvcs=false -ldflags="-s -w" -o bin/processor ./cmd/processor

FROM ${RUNTIME_IMAGE}
# Dokku reads Procfile and app.json from the image's WORKDIR (older versions)
# or the repository root (newer ones): both hold the same files.
WORKDIR /app
COPY --from=build /src/bin/processor /app/processor
COPY Procfile app.json /app/
# 65532 is the "nonroot" user of distroless images.
USER 65532:65532
ENV PORT=3000 NODE_ENV=production
EXPOSE 3000
# CMD rather than ENTRYPOINT: Dokku passes the Procfile command as arguments
# to an ENTRYPOINT, but replaces CMD with it.
CMD ["/app/processor"]
