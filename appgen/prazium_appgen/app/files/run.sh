#!/bin/sh
# Serve the API. Settings: APP_HOST, APP_PORT, APP_DATABASE (see README.md).
set -e
cd "$(dirname "$0")"
exec "${PYTHON:-python3}" -m app "$@"
