FROM ubuntu:14.04
MAINTAINER Jane Doe <jane@example.com>

ENV HOME /root
ENV PATH /usr/local/bin:$PATH
ENV LANG C.UTF-8

RUN apt-get update && apt-get install -y \
    # build tools
    build-essential \

    # version control
    git \
 && rm -rf /var/lib/apt/lists/*

VOLUME ["/data"]
EXPOSE 80 443
HEALTHCHECK --interval=30s CMD curl -f http://localhost/ || exit 1
STOPSIGNAL SIGTERM
ONBUILD RUN echo "onbuild"

WORKDIR /root
CMD bash
