# The cluster's SIP front door: Debian's Kamailio with its dispatcher module,
# configured by ivr.frontdoor from dialplan/kamailio.cfg at every start, as
# `ivr cluster up` configures it on a developer's machine.
# Build context: the repository root (see docker-compose.yml).
FROM debian:sid
# The sid mirror's Release file can be past its Valid-Until date (as in the
# Asterisk image). python3 + pydantic render the configuration.
RUN apt-get -o Acquire::Check-Valid-Until=false update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        kamailio \
        python3 \
        python3-pydantic \
        python3-pydantic-settings \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ivr12371
# Only what rendering needs: ivr.frontdoor imports ivr.dialplan (its
# renderer), ivr.settings and ivr.errors, and reads dialplan/kamailio.cfg.
COPY ivr/ ivr/
COPY dialplan/ dialplan/
COPY docker/kamailio-entrypoint.sh /usr/local/bin/kamailio-entrypoint
RUN chmod 0755 /usr/local/bin/kamailio-entrypoint
ENV PYTHONPATH=/opt/ivr12371 \
    PYTHONDONTWRITEBYTECODE=1
EXPOSE 5060/udp
ENTRYPOINT ["/usr/local/bin/kamailio-entrypoint"]
