"""The physical type of each column of a Parquet file, read from its footer (Thrift compact
protocol) with no library: to check that times are INT64, not Spark's default INT96, which no
reader with Spark's own metadata in the file would tell apart."""

import struct

PHYSICAL = ["BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY",
            "FIXED_LEN_BYTE_ARRAY"]


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def byte(self):
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self):
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result

    def zigzag(self):
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def binary(self):
        n = self.varint()
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def value(self, kind):
        """Reads a value of compact type `kind`; structs come back as {field id: value}."""
        if kind in (1, 2):
            return kind == 1
        if kind == 3:
            return self.byte()
        if kind in (4, 5, 6):
            return self.zigzag()
        if kind == 7:
            self.pos += 8
            return None
        if kind == 8:
            return self.binary()
        if kind in (9, 10):
            header = self.byte()
            size, elem = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            if elem in (1, 2):  # booleans in a list are one byte each
                return [self.byte() == 1 for _ in range(size)]
            return [self.value(elem) for _ in range(size)]
        if kind == 11:
            size = self.varint()
            if size == 0:
                return {}
            types = self.byte()
            return {self.value(types >> 4): self.value(types & 0x0F) for _ in range(size)}
        if kind == 12:
            fields, last = {}, 0
            while True:
                header = self.byte()
                if header == 0:
                    return fields
                delta, ftype = header >> 4, header & 0x0F
                last = last + delta if delta else struct.unpack("<h", struct.pack("<H", self.zigzag() & 0xFFFF))[0]
                fields[last] = self.value(ftype)
        raise ValueError(f"unknown Thrift compact type {kind}")


def physical_types(path):
    """{column name: physical type name} of a Parquet file's leaf columns."""
    with open(path, "rb") as f:
        data = f.read()
    if data[-4:] != b"PAR1":
        raise ValueError(f"{path}: not a Parquet file")
    (length,) = struct.unpack("<I", data[-8:-4])
    meta = _Reader(data[-8 - length:-8]).value(12)
    out = {}
    for element in meta[2]:  # FileMetaData.schema: SchemaElement list, root first
        if 1 in element:  # a leaf has a type (field 1); the name is field 4
            out[element[4].decode("utf-8")] = PHYSICAL[element[1]]
    return out
