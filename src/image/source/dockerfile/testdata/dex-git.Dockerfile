FROM alpine:3.4

#
# dex git:latest image
#

RUN apk add --no-cache \
    git \
    openssh-client \
  && rm -rf /var/cache/apk/*

ENTRYPOINT ["git"]


#
# v1 dex-api
#

LABEL \
  org.dockerland.dex.api="v1" \
  org.dockerland.dex.docker_envars="GIT_* SSH_AUTH_SOCK" \
  org.dockerland.dex.docker_home="~" \
  org.dockerland.dex.docker_volumes="$(git rev-parse --show-toplevel):/repo /etc/ssh:/etc/ssh:ro" \
  org.dockerland.dex.host_paths="ro"
# ^^^ bind mount HOME to user's real home
