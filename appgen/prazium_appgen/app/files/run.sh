#!/bin/sh
# The app's two commands, run from anywhere:
#   ./run.sh serve   serve the app (settings: APP_HOST, APP_PORT, APP_DATABASE; README.md)
#   ./run.sh test    run the app's tests
# Without a command it serves, so `sh run.sh` keeps working as a start command.
set -e
cd "$(dirname "$0")"
python=${PYTHON:-python3}
usage() {
    echo "usage: ./run.sh [serve|test]" >&2
    echo "  serve  serve the app and its web interface (default; settings: README.md)" >&2
    echo "  test   run the app's tests" >&2
}
command=${1:-serve}
[ "$#" -eq 0 ] || shift
case "$command" in
    serve) exec "$python" -m app "$@" ;;
    test) exec "$python" -m unittest discover -s tests -t . "$@" ;;
    help | -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown command: $command" >&2; usage; exit 2 ;;
esac
