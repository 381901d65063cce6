# escape=`

FROM debian:bookworm-slim
ENV GREETING="hello world" `
    TARGET=/srv/app
RUN echo "C:\path\not\escaped" > /tmp/p && `
    mkdir -p $TARGET
COPY app.conf ${TARGET}/
