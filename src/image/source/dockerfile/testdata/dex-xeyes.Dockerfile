FROM alpine:edge

#
# dex xeyes:latest image
#

RUN apk add --update \
    xeyes\
  && rm -rf /var/cache/apk/*

ENTRYPOINT ["xeyes"]


#
# v1 dex-api
#

LABEL org.dockerland.dex.api="v1"
LABEL org.dockerland.dex.docker_flags="--interactive --tty"
LABEL org.dockerland.dex.window="true"
