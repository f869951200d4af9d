"""The Sparkplug B protobuf schema, built with protobuf's public descriptor API (no generated code).

`sparkplug_b.proto` beside this module is the schema as text, written from the Sparkplug 3.0.0 specification
(section 6.4 and its protobuf annex). This module builds the same `FileDescriptorProto` field by field
(`descriptor_pb2`), adds it to a pool of its own (`descriptor_pool.DescriptorPool`, so another Sparkplug library in
the same process cannot clash with it) and asks `message_factory.GetMessageClass` for the message classes. Building
instead of generating keeps smartfactory independent of the protoc version a generated `_pb2` module would pin;
tests/sparkplug/test_schema.py compiles the `.proto` with grpcio-tools, when installed, and checks both agree.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "org.eclipse.tahu.protobuf"
FILE_NAME = "sparkplug_b.proto"
_MAX = 536_870_912  # "to max": one past the largest field number, 2^29 - 1 (extension ranges are end-exclusive)

_F = descriptor_pb2.FieldDescriptorProto
_TYPES = {
    "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES,
    "bool": _F.TYPE_BOOL,
    "uint32": _F.TYPE_UINT32,
    "uint64": _F.TYPE_UINT64,
    "float": _F.TYPE_FLOAT,
    "double": _F.TYPE_DOUBLE,
}

# (label, type, name, number, oneof): label "optional" | "repeated" | "oneof"; a type not in _TYPES is a message,
# named relative to Payload (".org.eclipse.tahu.protobuf.Payload." + type).
_Field = tuple[str, str, str, int]


def _message(
    name: str,
    fields: list[_Field],
    nested: tuple[descriptor_pb2.DescriptorProto, ...] = (),
    extensions_from: int | None = None,
) -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name=name)
    message.nested_type.extend(nested)
    has_oneof = False
    for label, type_name, field_name, number in fields:
        field = message.field.add(name=field_name, number=number)
        if label == "repeated":
            field.label = _F.LABEL_REPEATED
        else:
            field.label = _F.LABEL_OPTIONAL
        if label == "oneof":
            field.oneof_index = 0
            has_oneof = True
        if type_name in _TYPES:
            field.type = _TYPES[type_name]
        else:
            field.type = _F.TYPE_MESSAGE
            field.type_name = f".{PACKAGE}.Payload.{type_name}"
    if has_oneof:
        message.oneof_decl.add(name="value")
    if extensions_from is not None:
        message.extension_range.add(start=extensions_from, end=_MAX)
    return message


def _extension(name: str) -> descriptor_pb2.DescriptorProto:
    return _message(name, [], extensions_from=1)


def _scalar_oneof(first: int) -> list[_Field]:
    """The value oneof shared by Parameter, DataSetValue and PropertyValue: int … string from field `first`."""
    kinds = ("uint32", "uint64", "float", "double", "bool", "string")
    names = ("int_value", "long_value", "float_value", "double_value", "boolean_value", "string_value")
    return [("oneof", kind, name, first + i) for i, (kind, name) in enumerate(zip(kinds, names, strict=True))]


def file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """`sparkplug_b.proto` as a `FileDescriptorProto`."""
    parameter = _message(
        "Parameter",
        [
            ("optional", "string", "name", 1),
            ("optional", "uint32", "type", 2),
            *_scalar_oneof(3),
            ("oneof", "Template.Parameter.ParameterValueExtension", "extension_value", 9),
        ],
        nested=(_extension("ParameterValueExtension"),),
    )
    template = _message(
        "Template",
        [
            ("optional", "string", "version", 1),
            ("repeated", "Metric", "metrics", 2),
            ("repeated", "Template.Parameter", "parameters", 3),
            ("optional", "string", "template_ref", 4),
            ("optional", "bool", "is_definition", 5),
        ],
        nested=(parameter,),
        extensions_from=6,
    )
    dataset_value = _message(
        "DataSetValue",
        [*_scalar_oneof(1), ("oneof", "DataSet.DataSetValue.DataSetValueExtension", "extension_value", 7)],
        nested=(_extension("DataSetValueExtension"),),
    )
    row = _message("Row", [("repeated", "DataSet.DataSetValue", "elements", 1)], extensions_from=2)
    dataset = _message(
        "DataSet",
        [
            ("optional", "uint64", "num_of_columns", 1),
            ("repeated", "string", "columns", 2),
            ("repeated", "uint32", "types", 3),
            ("repeated", "DataSet.Row", "rows", 4),
        ],
        nested=(dataset_value, row),
        extensions_from=5,
    )
    property_value = _message(
        "PropertyValue",
        [
            ("optional", "uint32", "type", 1),
            ("optional", "bool", "is_null", 2),
            *_scalar_oneof(3),
            ("oneof", "PropertySet", "propertyset_value", 9),
            ("oneof", "PropertySetList", "propertysets_value", 10),
            ("oneof", "PropertyValue.PropertyValueExtension", "extension_value", 11),
        ],
        nested=(_extension("PropertyValueExtension"),),
    )
    property_set = _message(
        "PropertySet",
        [("repeated", "string", "keys", 1), ("repeated", "PropertyValue", "values", 2)],
        extensions_from=3,
    )
    property_set_list = _message("PropertySetList", [("repeated", "PropertySet", "propertyset", 1)], extensions_from=2)
    metadata = _message(
        "MetaData",
        [
            ("optional", "bool", "is_multi_part", 1),
            ("optional", "string", "content_type", 2),
            ("optional", "uint64", "size", 3),
            ("optional", "uint64", "seq", 4),
            ("optional", "string", "file_name", 5),
            ("optional", "string", "file_type", 6),
            ("optional", "string", "md5", 7),
            ("optional", "string", "description", 8),
        ],
        extensions_from=9,
    )
    metric = _message(
        "Metric",
        [
            ("optional", "string", "name", 1),
            ("optional", "uint64", "alias", 2),
            ("optional", "uint64", "timestamp", 3),
            ("optional", "uint32", "datatype", 4),
            ("optional", "bool", "is_historical", 5),
            ("optional", "bool", "is_transient", 6),
            ("optional", "bool", "is_null", 7),
            ("optional", "MetaData", "metadata", 8),
            ("optional", "PropertySet", "properties", 9),
            ("oneof", "uint32", "int_value", 10),
            ("oneof", "uint64", "long_value", 11),
            ("oneof", "float", "float_value", 12),
            ("oneof", "double", "double_value", 13),
            ("oneof", "bool", "boolean_value", 14),
            ("oneof", "string", "string_value", 15),
            ("oneof", "bytes", "bytes_value", 16),
            ("oneof", "DataSet", "dataset_value", 17),
            ("oneof", "Template", "template_value", 18),
            ("oneof", "Metric.MetricValueExtension", "extension_value", 19),
        ],
        nested=(_extension("MetricValueExtension"),),
    )
    payload = _message(
        "Payload",
        [
            ("optional", "uint64", "timestamp", 1),
            ("repeated", "Metric", "metrics", 2),
            ("optional", "uint64", "seq", 3),
            ("optional", "string", "uuid", 4),
            ("optional", "bytes", "body", 5),
        ],
        nested=(template, dataset, property_value, property_set, property_set_list, metadata, metric),
        extensions_from=6,
    )
    return descriptor_pb2.FileDescriptorProto(name=FILE_NAME, package=PACKAGE, syntax="proto2", message_type=[payload])


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(file_descriptor())

#: The protobuf message classes (typed Any: they are built at run time, so there are no stubs to check against).
Payload: Any = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.Payload"))
Metric: Any = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.Payload.Metric"))
PropertySet: Any = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.Payload.PropertySet"))
