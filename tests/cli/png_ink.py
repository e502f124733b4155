"""png_ink.py - how much of a PNG screenshot is not background.

Usage: png_ink.py FILE.png [GREY_OUT.png]

Decodes an 8-bit, non-interlaced PNG (grey, grey+alpha, RGB or RGBA: what
headless Chromium writes) with zlib and struct only, and prints
"WIDTH HEIGHT INK DISTINCT": the number of pixels that are not near-white
and the number of distinct grey levels (in steps of 8) among them. With a
second argument, writes the picture converted to grey (Rec. 601 luma), to
look at what a grey-scale print shows.
"""
import struct
import sys
import zlib


def decode(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, head = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, ctype, _, _, interlace = head
    if depth != 8 or interlace != 0 or ctype not in (0, 2, 4, 6):
        raise ValueError("unsupported PNG layout %r" % (head,))
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 255
            elif ftype == 2:
                line[x] = (line[x] + b) & 255
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 255
        rows.append(line)
        prev = line
    return width, height, channels, rows


def luma(line, x, channels):
    if channels < 3:
        return line[x * channels]
    r, g, b = line[x * channels:x * channels + 3]
    return (299 * r + 587 * g + 114 * b) // 1000


def write_grey(path, width, height, channels, rows):
    out = bytearray()
    for line in rows:
        out.append(0)
        out.extend(luma(line, x, channels) for x in range(width))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                           8, 0, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(bytes(out))))
        f.write(chunk(b"IEND", b""))


def main():
    width, height, channels, rows = decode(sys.argv[1])
    ink, levels = 0, set()
    for line in rows:
        for x in range(width):
            y = luma(line, x, channels)
            if y < 240:
                ink += 1
                levels.add(y // 8)
    print(width, height, ink, len(levels))
    if len(sys.argv) > 2:
        write_grey(sys.argv[2], width, height, channels, rows)


if __name__ == "__main__":
    main()
