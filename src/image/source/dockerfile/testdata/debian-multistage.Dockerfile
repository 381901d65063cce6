# syntax=docker/dockerfile:1
ARG DEBIAN_SUITE=bookworm
ARG GO_VERSION=1.22.5

FROM debian:${DEBIAN_SUITE}-slim AS builder
ARG GO_VERSION
ARG TARGETARCH
ENV DEBIAN_FRONTEND=noninteractive \
    GOPATH=/go
RUN set -eux; \
	apt-get update; \
	apt-get install -y --no-install-recommends \
		ca-certificates \
		curl \
# the C compiler, for cgo
		gcc \
	; \
	rm -rf /var/lib/apt/lists/*
RUN curl -fsSL "https://go.dev/dl/go${GO_VERSION}.linux-${TARGETARCH}.tar.gz" \
	| tar -C /usr/local -xz
WORKDIR $GOPATH/src/app
COPY --chmod=644 go.mod go.sum ./
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \
	/usr/local/go/bin/go build -o /out/app .

FROM debian:${DEBIAN_SUITE}-slim
LABEL org.opencontainers.image.title="app" \
      org.opencontainers.image.version=$GO_VERSION
COPY --from=builder --chown=app:app /out/app /usr/local/bin/app
USER nobody
EXPOSE 8080
CMD ["app", "--serve"]
