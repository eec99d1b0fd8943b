"""A gRPC client that knows nothing of Roster but what server reflection says.

Run by test/ops/python-reflection.test.ts with Debian's /usr/bin/python3
(python3-grpcio, python3-protobuf):

    python3 reflection_client.py ADDRESS TOKEN

It speaks grpc.reflection.v1 with message classes built from the reflection
service's own descriptor (one hand-encoded bootstrap request fetches it),
loads every file the server lists, with its imports, into a strict
google.protobuf DescriptorPool (the C++ pool grpc_cli and Python clients use:
it refuses unresolved or empty type names), builds requests from those
descriptors alone, calls Roster and grpc.health.v1, and prints one JSON
report on stdout for the test to check. Any failure is a non-zero exit with
the reason on stderr.
"""

import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

REFLECTION = "grpc.reflection.{}.ServerReflection"
TIMEOUT_S = 10


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data, pos):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def length_delimited_fields(data):
    """(field number, bytes) of every length-delimited field; other wire types are skipped."""
    pos = 0
    while pos < len(data):
        tag, pos = read_varint(data, pos)
        field, wire_type = tag >> 3, tag & 7
        if wire_type == 2:
            size, pos = read_varint(data, pos)
            yield field, data[pos:pos + size]
            pos += size
        elif wire_type == 0:
            _, pos = read_varint(data, pos)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError("unexpected wire type %d" % wire_type)


def bootstrap_reflection_file(channel, version):
    """The reflection service's own file, fetched with one hand-encoded request:
    ServerReflectionRequest { 4: file_containing_symbol } ->
    ServerReflectionResponse { 4: FileDescriptorResponse { 1: repeated bytes } }."""
    symbol = REFLECTION.format(version).encode()
    request = b"\x22" + varint(len(symbol)) + symbol
    call = channel.stream_stream("/%s/ServerReflectionInfo" % REFLECTION.format(version))
    response = next(call(iter([request]), timeout=TIMEOUT_S))
    for field, value in length_delimited_fields(response):
        if field == 4:
            return [raw for number, raw in length_delimited_fields(value) if number == 1]
    raise RuntimeError("bootstrap: no file_descriptor_response in %r" % response)


class ReflectedPool:
    """A strict DescriptorPool filled through reflection, file by file, imports first."""

    def __init__(self):
        self.pool = descriptor_pool.DescriptorPool()
        self.factory = message_factory.MessageFactory(self.pool)
        self.raw = {}  # file name -> serialized FileDescriptorProto, exactly as received
        self.added = []
        self.ask = None

    def take(self, serialized_files):
        names = []
        for raw in serialized_files:
            proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
            self.raw.setdefault(proto.name, raw)
            names.append(proto.name)
        return names

    def ensure(self, name, path=()):
        if name in self.added:
            return
        if name in path:
            raise RuntimeError("import cycle: %s" % " -> ".join(path + (name,)))
        if name not in self.raw:
            self.take(self.ask(file_by_filename=name))
        proto = descriptor_pb2.FileDescriptorProto.FromString(self.raw[name])
        for dependency in proto.dependency:
            self.ensure(dependency, path + (name,))
        try:
            self.pool.AddSerializedFile(self.raw[name])
        except Exception as error:  # the C++ pool raises TypeError with its reason
            raise RuntimeError("DescriptorPool refused %s: %s" % (name, error)) from error
        self.added.append(name)

    def message_class(self, full_name):
        return self.factory.GetPrototype(self.pool.FindMessageTypeByName(full_name))


def open_reflection(channel, reflected, version):
    """A ServerReflectionInfo stream whose messages are classes built from reflection."""
    request_class = reflected.message_class("grpc.reflection.%s.ServerReflectionRequest" % version)
    response_class = reflected.message_class("grpc.reflection.%s.ServerReflectionResponse" % version)
    method = channel.stream_stream(
        "/%s/ServerReflectionInfo" % REFLECTION.format(version),
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )

    def ask(**request):
        response = next(method(iter([request_class(**request)]), timeout=TIMEOUT_S))
        kind = response.WhichOneof("message_response")
        if kind == "error_response":
            raise RuntimeError("reflection %s: %s" % (request, response.error_response.error_message))
        if kind == "list_services_response":
            return [service.name for service in response.list_services_response.service]
        if kind == "file_descriptor_response":
            return list(response.file_descriptor_response.file_descriptor_proto)
        return response

    return ask


def access_rules(reflected, service):
    """Each method's (roster.v1.access) option, read from the bytes reflection sent."""
    options_class = reflected.message_class("google.protobuf.MethodOptions")
    # GetMessages registers the file's extensions on the classes they extend.
    reflected.factory.GetMessages(["roster/v1/access.proto"])
    extension = reflected.pool.FindExtensionByName("roster.v1.access")
    proto = descriptor_pb2.FileDescriptorProto.FromString(reflected.raw[service.file.name])
    declared = next(s for s in proto.service if s.name == service.name)
    rules = {}
    for method in declared.method:
        options = options_class.FromString(method.options.SerializeToString())
        rules[method.name] = (
            json_format.MessageToDict(options.Extensions[extension], preserving_proto_field_name=True)
            if options.HasExtension(extension)
            else None
        )
    return rules


def unary(channel, reflected, full_method, request_json, metadata=()):
    """Calls a unary method with a request built from its reflected descriptor."""
    service_name, method_name = full_method.split("/")
    method = reflected.pool.FindServiceByName(service_name).methods_by_name[method_name]
    request_class = reflected.factory.GetPrototype(method.input_type)
    response_class = reflected.factory.GetPrototype(method.output_type)
    call = channel.unary_unary(
        "/" + full_method,
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    request = json_format.Parse(json.dumps(request_json), request_class())
    return call(request, metadata=list(metadata), timeout=TIMEOUT_S)


def main(address, token):
    report = {}
    with grpc.insecure_channel(address) as channel:
        reflected = ReflectedPool()
        for name in reflected.take(bootstrap_reflection_file(channel, "v1")):
            reflected.ensure(name)
        reflected.ask = open_reflection(channel, reflected, "v1")

        services = reflected.ask(list_services="*")
        report["services"] = {}
        for name in services:
            reflected.take(reflected.ask(file_containing_symbol=name))
            for file_name in list(reflected.raw):
                reflected.ensure(file_name)
            service = reflected.pool.FindServiceByName(name)
            report["services"][name] = {
                "file": service.file.name,
                "methods": {m.name: [m.input_type.full_name, m.output_type.full_name] for m in service.methods},
            }
            if name.startswith("roster."):
                report["services"][name]["access"] = access_rules(reflected, service)

        # The other protocol version (its file is loaded: it is a listed service).
        report["v1alphaServices"] = open_reflection(channel, reflected, "v1alpha")(list_services="*")

        report["files"] = {}
        for name in reflected.added:
            proto = descriptor_pb2.FileDescriptorProto.FromString(reflected.raw[name])
            report["files"][name] = {"package": proto.package, "dependency": list(proto.dependency)}

        # `describe grpc.reflection.v1.ServerReflectionRequest`, as grpc_cli prints it.
        report["describe"] = {
            full_name: [field.name for field in reflected.pool.FindMessageTypeByName(full_name).fields]
            for full_name in (
                "grpc.reflection.v1.ServerReflectionRequest",
                "grpc.reflection.v1alpha.ServerReflectionRequest",
                "grpc.health.v1.HealthCheckRequest",
            )
        }

        health = unary(channel, reflected, "grpc.health.v1.Health/Check", {"service": ""})
        status_field = health.DESCRIPTOR.fields_by_name["status"]
        report["health"] = status_field.enum_type.values_by_number[health.status].name

        auth = [("authorization", "Bearer " + token)]
        created = unary(
            channel,
            reflected,
            "roster.v1.GroupService/CreateGroup",
            {"group": {"slug": "python-team", "displayName": "Python team", "labels": {"lang": "python"}}},
            auth,
        )
        fetched = unary(channel, reflected, "roster.v1.GroupService/GetGroup", {"id": created.group.id}, auth)
        report["created"] = json_format.MessageToDict(created)
        report["fetched"] = json_format.MessageToDict(fetched)
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
