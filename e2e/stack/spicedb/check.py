"""Checks a running SpiceDB over gRPC: every assertion of the given bootstrap files
(`assertions: assertTrue/assertFalse`) must hold, asked with CheckPermission at full
consistency. Works against any SpiceDB, not only server.py.

  check.py --grpc-addr 127.0.0.1:50051 --grpc-preshared-key KEY FILE.yaml...

Exit status: 0 all hold, 1 one does not, 2 a call failed (down, wrong key, no schema).
"""

import argparse
import os
import sys

import grpc
from authzed.api.v1 import CheckPermissionRequest, CheckPermissionResponse, Consistency, InsecureClient

from server import parse_relationship, read_bootstrap_file


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--grpc-addr", default=os.environ.get("SPICEDB_GRPC_ADDR", "127.0.0.1:50051"))
    parser.add_argument("--grpc-preshared-key", default=os.environ.get("SPICEDB_GRPC_PRESHARED_KEY"))
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    client = InsecureClient(args.grpc_addr, args.grpc_preshared_key or "")
    failed = 0
    for path in args.files:
        _, _, assertions = read_bootstrap_file(path)
        for expected, key in ((True, "assertTrue"), (False, "assertFalse")):
            for text in assertions.get(key) or []:
                relationship = parse_relationship(text)
                request = CheckPermissionRequest(
                    consistency=Consistency(fully_consistent=True),
                    resource=relationship.resource,
                    permission=relationship.relation,
                    subject=relationship.subject,
                )
                try:
                    response = client.CheckPermission(request, timeout=args.timeout)
                except grpc.RpcError as err:
                    print(f"{text}: {err.code().name}: {err.details()}", file=sys.stderr)
                    sys.exit(2)
                held = response.permissionship == CheckPermissionResponse.PERMISSIONSHIP_HAS_PERMISSION
                if held != expected:
                    failed += 1
                    print(f"{text}: expected {expected}, got {held}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
