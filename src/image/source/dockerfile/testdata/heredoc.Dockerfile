# syntax=docker/dockerfile:1.4
FROM debian:bookworm
ARG USERNAME=dev
RUN <<EOF
set -eux
apt-get update
apt-get install -y --no-install-recommends python3
EOF
RUN <<EOT bash
  set -ex
  echo "bash reads this"
EOT
RUN <<-'EOF'
	#!/usr/bin/env python3
	print("hello")
	EOF
RUN <<FILE1 cat > /file1 && <<FILE2 cat > /file2
I am
first
FILE1
I am
second
FILE2
COPY <<EOF /etc/motd
Welcome, ${USERNAME}!
EOF
COPY --chmod=755 <<-"EOT" /usr/local/bin/greet
	#!/bin/sh
	echo "hello $1"
	EOT
RUN python3 <<EOF
print(1)
EOF
