#!/usr/bin/env bash
# Runs one SpiceDB (the embedded library behind server.py) in the foreground: for up.sh,
# and for tests that need a private instance to stop at will. Takes server.py's flags:
#   SPICEDB_GRPC_PRESHARED_KEY=KEY serve.sh --grpc-addr 127.0.0.1:PORT \
#     --datastore-bootstrap-files test-relationships.yaml
# The port opens once the bootstrap files are loaded. The last step is an exec, so this
# script's pid is the server's: killing it takes SpiceDB down.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$HERE/../lib.sh"

[[ -x $VENV_PYTHON && -f $SPICEDB_LIB ]] || die "SpiceDB is not installed: run e2e/stack/install.sh"
export SPICEDB_LIBRARY=${SPICEDB_LIBRARY:-$SPICEDB_LIB}
exec "$VENV_PYTHON" "$HERE/server.py" "$@"
