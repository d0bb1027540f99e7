# Asterisk for the 12371 IVR: Debian sid's Asterisk 22, the same packages that
# `ivr asterisk up` puts in its chroot (ivr.dialplan.ASTERISK_PACKAGES), with the
# configuration rendered at start from dialplan/ by ivr.dialplan itself.
# Build context: the repository root (see docker-compose.yml).

# -- The native fallback's two prompts ---------------------------------------
# Built here, the way `ivr asterisk up` builds them (ivr.cli.serve), so callers
# hear the apology even when the controller has never run. Same base and
# espeak-ng as the controller image, so both speak alike.
FROM python:3.11-slim AS prompts
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng sox \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ivr12371
COPY pyproject.toml ./
COPY ivr/ ivr/
COPY routing/ routing/
COPY prompts/ prompts/
# Editable, so ivr finds routing/ and prompts/ beside its package (REPO_ROOT).
RUN pip install --no-cache-dir -e .
RUN IVR_STATE_DIR=/tmp/ivr python -c "\
from pathlib import Path; \
from ivr import dialplan; \
from ivr.cli import serve as service; \
from ivr.settings import Settings; \
s = Settings(); \
catalog = service.build_prompts(s, service.load_directory()); \
out = dialplan.Layout(root=None, base=Path('/out'), state=Path('/tmp/ivr')); \
dialplan.install_sounds(out, service.fallback_sounds(s, catalog))" \
    && ls /out/sounds/fallback-apology.wav /out/sounds/fallback-thanks.wav

# -- Asterisk -----------------------------------------------------------------
FROM debian:sid
# The sid mirror's Release file can be past its Valid-Until date (as in
# devtools.asterisk.ensure_rootfs). No Recommends, like mmdebstrap's chroot.
# python3 + pydantic render the configuration; curl serves the healthcheck.
RUN apt-get -o Acquire::Check-Valid-Until=false update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        asterisk \
        asterisk-modules \
        asterisk-core-sounds-en-wav \
        asterisk-moh-opsound-wav \
        sox \
        python3 \
        python3-pydantic \
        python3-pydantic-settings \
        curl \
        ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ivr12371
# Only what rendering needs: ivr.dialplan imports ivr.settings and ivr.errors,
# and reads the templates from dialplan/ beside the package (REPO_ROOT).
COPY ivr/ ivr/
COPY dialplan/ dialplan/
COPY --from=prompts /out/sounds/ fallback-sounds/
COPY docker/asterisk-entrypoint.sh /usr/local/bin/asterisk-entrypoint
RUN chmod 0755 /usr/local/bin/asterisk-entrypoint
# IVR_ASTERISK_BINARY makes ivr.dialplan use host mode (no chroot), so the
# instance lives under $IVR_STATE_DIR/asterisk/instance.
ENV PYTHONPATH=/opt/ivr12371 \
    PYTHONDONTWRITEBYTECODE=1 \
    IVR_ASTERISK_BINARY=/usr/sbin/asterisk \
    IVR_STATE_DIR=/var/lib/ivr12371
# ARI (8088) is not EXPOSEd: only the controller reaches it, on the
# compose network.
EXPOSE 5060/udp
ENTRYPOINT ["/usr/local/bin/asterisk-entrypoint"]
