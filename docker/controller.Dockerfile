# The 12371 controller: `ivr serve` (ARI call control, prompt files, /api/).
# Build context: the repository root (see docker-compose.yml).
FROM python:3.11-slim

# `ivr serve` builds the Mandarin prompts at start (ivr.audio.build): espeak-ng
# speaks them, sox makes telephone audio of them; ffmpeg converts and levels
# the recordings admins upload (ivr.audio.uploads).
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng sox ffmpeg \
    && rm -rf /var/lib/apt/lists/*

# Built prompts are cached in the state folder (a volume), so a restart only
# renders what changed.
RUN useradd --system --user-group --home-dir /var/lib/ivr12371 --create-home ivr

WORKDIR /opt/ivr12371
COPY pyproject.toml ./
COPY ivr/ ivr/
COPY routing/ routing/
COPY prompts/ prompts/
# Editable, so ivr finds routing/ and prompts/ beside its package (REPO_ROOT);
# a regular install would look for them inside site-packages.
RUN pip install --no-cache-dir -e .

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    IVR_STATE_DIR=/var/lib/ivr12371 \
    IVR_HTTP_HOST=0.0.0.0 \
    IVR_HTTP_PORT=8080
USER ivr
EXPOSE 8080
CMD ["ivr", "serve"]
