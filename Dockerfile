# hubbot container image.
#
# Python 3.11 comes from Debian's own packages so that the image built on a machine without a
# registry (base imported with debootstrap, see .ci/docker-smoke) is the image built anywhere.
# Every dependency ships a manylinux wheel for cp311 (pyahocorasick included), so no compiler is
# needed; the build stage exists only to keep the source tree, pip's build environment and
# python3-venv out of the final image.

FROM debian:bookworm-slim AS python
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin

FROM python AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-venv \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/hubbot
# Dependencies first, from pyproject.toml and an empty package, so that a change under bot/
# rebuilds only the last layer instead of downloading every dependency again.
COPY pyproject.toml /deps/pyproject.toml
RUN mkdir /deps/bot && touch /deps/bot/__init__.py \
 && /opt/hubbot/bin/pip install --no-cache-dir /deps \
 && rm -rf /deps
COPY . /src
# pip and setuptools only fill the venv: nothing imports them at run time, and the venv's
# bundled setuptools is old, so the final image does without both.
RUN /opt/hubbot/bin/pip install --no-cache-dir --no-deps --force-reinstall /src \
 && /opt/hubbot/bin/pip check \
 && /opt/hubbot/bin/pip uninstall -y setuptools pip

FROM python
# The venv's interpreter is a symlink to /usr/bin/python3, provided by the same base stage.
COPY --from=build /opt/hubbot /opt/hubbot
COPY feeds.yaml /etc/hubbot/feeds.yaml

# Fixed ids so that a host directory or volume can be chowned to match.
RUN groupadd --gid 10001 hubbot \
 && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin hubbot \
 && mkdir -p /data \
 && chown hubbot:hubbot /data \
 && chmod 0700 /data
VOLUME ["/data"]

ENV PATH=/opt/hubbot/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HUBBOT_DATABASE_URL=sqlite:////data/hubbot.db \
    HUBBOT_DATA_DIR=/data \
    HUBBOT_FEEDS_FILE=/etc/hubbot/feeds.yaml

USER hubbot
WORKDIR /data
STOPSIGNAL SIGTERM
ENTRYPOINT ["hubbot"]
CMD ["run"]
