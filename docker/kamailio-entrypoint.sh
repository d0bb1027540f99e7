#!/bin/sh
# Render the front door's configuration for the Asterisks in DOOR_ASTERISKS
# (host:port, comma-separated) with ivr.frontdoor, then become Kamailio.
set -eu
: "${DOOR_ASTERISKS:?set DOOR_ASTERISKS to the Asterisks' host:port list}"
folder=/run/ivr12371-door
set --
for node in $(echo "$DOOR_ASTERISKS" | tr ',' ' '); do
  set -- "$@" --asterisk "$node"
done
python3 -m ivr.frontdoor --listen "${DOOR_LISTEN:-0.0.0.0:5060}" "$@" "$folder"
exec kamailio -DD -E -f "$folder/kamailio.cfg" -P "$folder/kamailio.pid" -m 64 -M 8
