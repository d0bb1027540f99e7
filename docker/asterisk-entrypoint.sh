#!/bin/sh
# Start Asterisk in the container the way `ivr asterisk up` starts it on a
# developer's machine: the configuration is rendered from the same dialplan/
# templates and IVR_* settings by ivr.dialplan, so the two cannot drift apart.
#
# Host mode (IVR_ASTERISK_BINARY is set in the image): the files go under
# $IVR_STATE_DIR/asterisk/instance/{etc,run,log,spool,db,cache,sounds}.
set -eu

# Python replaces itself with Asterisk (os.execvp), so no shell or Python
# process is left between Asterisk and the container's init.
exec python3 - <<'PY'
import os
import subprocess
from pathlib import Path

from ivr import dialplan
from ivr.settings import Settings

# Built into the image from prompts/ (see docker/asterisk.Dockerfile), so the
# native fallback speaks even if the controller never started.
FALLBACK_SOUNDS = Path("/opt/ivr12371/fallback-sounds")

settings = Settings()
lay = dialplan.layout(settings)
if lay.root is not None:
    raise SystemExit("asterisk-entrypoint: no asterisk binary; the image is broken")
dialplan.install_config(settings, lay)
sounds = {path.stem: path for path in sorted(FALLBACK_SOUNDS.glob("*.wav"))}
if not sounds:
    raise SystemExit(f"asterisk-entrypoint: no fallback sounds in {FALLBACK_SOUNDS}")
dialplan.install_sounds(lay, sounds)
# Asterisk reads all but asterisk.conf after dropping to its own user, and
# writes its run, log, spool and db folders as that user; host mode leaves
# everything owned by root, and the volumes may come from an older image.
subprocess.run(["chown", "-R", "asterisk:asterisk", str(lay.base)], check=True)
command = dialplan.command(settings, lay)
print("asterisk-entrypoint:", " ".join(command), flush=True)
os.execvp(command[0], command)
PY
