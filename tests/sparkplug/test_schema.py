"""`schema.py` builds the same descriptor as `sparkplug_b.proto` says (compiled by protoc or grpcio-tools)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from smartfactory.sparkplug import schema

PROTO = Path(schema.__file__).with_name("sparkplug_b.proto")


def _compiler() -> list[str] | None:
    if importlib.util.find_spec("grpc_tools") is not None:
        return [sys.executable, "-m", "grpc_tools.protoc"]
    protoc = shutil.which("protoc")
    return [protoc] if protoc else None


def _normalised(file: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    copy = descriptor_pb2.FileDescriptorProto()
    copy.CopyFrom(file)
    copy.ClearField("source_code_info")
    if copy.syntax == "proto2":
        copy.ClearField("syntax")  # older protoc leaves the default out

    def clear(message: descriptor_pb2.DescriptorProto) -> None:
        for field in message.field:
            field.ClearField("json_name")
        for nested in message.nested_type:
            clear(nested)

    for message in copy.message_type:
        clear(message)
    return copy


def test_built_descriptor_matches_the_proto_file(tmp_path: Path) -> None:
    compiler = _compiler()
    if compiler is None:
        pytest.skip("neither grpcio-tools nor protoc is installed (apt install protobuf-compiler)")
    out = tmp_path / "sparkplug_b.desc"
    subprocess.run(
        [*compiler, f"--proto_path={PROTO.parent}", f"--descriptor_set_out={out}", PROTO.name],
        check=True,
        capture_output=True,
    )
    compiled = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    assert _normalised(schema.file_descriptor()) == _normalised(compiled)


def test_the_proto_file_ships_with_the_package() -> None:
    text = PROTO.read_text(encoding="utf-8")
    assert 'syntax = "proto2";' in text
    assert "package org.eclipse.tahu.protobuf;" in text
