"""MS-OVBA 2.4.1: the compression used for a VBA module's source and the ``dir`` stream
(:func:`compress`, :func:`decompress`), and the error of the whole package."""

from __future__ import annotations

import struct

__all__ = ["VBAProjectError", "compress", "decompress"]


class VBAProjectError(ValueError):
    """The bytes are not a VBA project this module understands."""


# --- MS-OVBA 2.4.1: the compression used for module source and the dir stream ----------------

_CHUNK = 4096


def _copy_token_bits(position_in_chunk: int) -> int:
    """Bits used for the offset of a copy token: grows with the position in the chunk."""
    bits = max((position_in_chunk - 1).bit_length(), 4)
    return min(bits, 12)


def decompress(data: bytes) -> bytes:
    """Decompress an MS-OVBA CompressedContainer."""
    if not data or data[0] != 0x01:
        raise VBAProjectError("not an MS-OVBA compressed container (signature byte is not 0x01)")
    out = bytearray()
    pos = 1
    while pos < len(data):
        if pos + 2 > len(data):
            raise VBAProjectError("truncated chunk header")
        (header,) = struct.unpack_from("<H", data, pos)
        size = (header & 0x0FFF) + 3
        if (header >> 12) & 0x7 != 0b011:
            raise VBAProjectError("bad chunk signature")
        compressed = bool(header & 0x8000)
        end = min(pos + size, len(data))
        pos += 2
        chunk_start = len(out)
        if not compressed:
            out += data[pos : pos + _CHUNK]
            pos += _CHUNK
            continue
        while pos < end:
            flags = data[pos]
            pos += 1
            for bit in range(8):
                if pos >= end:
                    break
                if not flags & (1 << bit):
                    out.append(data[pos])
                    pos += 1
                    continue
                (token,) = struct.unpack_from("<H", data, pos)
                pos += 2
                bits = _copy_token_bits(len(out) - chunk_start)
                length = (token & (0xFFFF >> bits)) + 3
                offset = (token >> (16 - bits)) + 1
                if offset > len(out) - chunk_start:
                    raise VBAProjectError("copy token points before its chunk")
                for _ in range(length):  # may overlap itself, byte by byte as the spec says
                    out.append(out[-offset])
    return bytes(out)


def _compress_chunk(chunk: bytes) -> bytes:
    """Compress one chunk of at most 4096 bytes to header + data (greedy longest match)."""
    body = bytearray()
    heads: dict[bytes, list[int]] = {}
    pos = 0
    n = len(chunk)
    while pos < n:
        flag_at = len(body)
        body.append(0)
        flags = 0
        for bit in range(8):
            if pos >= n:
                break
            bits = _copy_token_bits(pos)
            max_length = min((0xFFFF >> bits) + 3, n - pos)
            max_offset = 1 << bits
            best_length, best_offset = 0, 0
            if max_length >= 3:
                for candidate in reversed(heads.get(chunk[pos : pos + 3], ())):
                    offset = pos - candidate
                    if offset > max_offset:
                        break
                    length = 3
                    while length < max_length and chunk[candidate + length] == chunk[pos + length]:
                        length += 1
                    if length > best_length:
                        best_length, best_offset = length, offset
                        if length == max_length:
                            break
            step = best_length if best_length >= 3 else 1
            if best_length >= 3:
                token = ((best_offset - 1) << (16 - bits)) | (best_length - 3)
                body += struct.pack("<H", token)
                flags |= 1 << bit
            else:
                body.append(chunk[pos])
            for p in range(pos, pos + step):
                if p + 3 <= n:
                    heads.setdefault(chunk[p : p + 3], []).append(p)
            pos += step
        body[flag_at] = flags
    if len(body) + 2 > _CHUNK + 2:
        if n != _CHUNK:  # a raw chunk must hold exactly 4096 bytes; text never gets here
            raise VBAProjectError("incompressible partial chunk")
        return struct.pack("<H", 0x3000 | (_CHUNK - 1)) + chunk
    return struct.pack("<H", 0xB000 | (len(body) + 2 - 3)) + bytes(body)


def compress(data: bytes) -> bytes:
    """Compress ``data`` to an MS-OVBA CompressedContainer (deterministic)."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), _CHUNK):
        out += _compress_chunk(data[start : start + _CHUNK])
    return bytes(out)
