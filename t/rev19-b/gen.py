# deterministic tricky bytes (same on the host and in the image): every
# invalid/edge UTF-8 form, control bytes, quotes; argv[1] = seed, argv[2] = size
import sys
pieces = [b'\xe2\x80\xa8', b'\xe2\x80\xa9', b'\xed\xa0\x80', b'\xed\xbf\xbf', b'\xf0\x9f\x98\x80',
          b'\xf4\x90\x80\x80', b'\xc0\xaf', b'\xe0\x80\xaf', b'\xe2\x82', b'\xf0\x9f\x98', b'\x00',
          b'\x01', b'\x1f', b'\x7f', b'"', b'\\', b'/', b'\xff', b'\x80', b'\xc3\xa9', b'\n', b'\r',
          b'\t', b'\x08', b'\x0c', b'a', b'\xef\xbf\xbd', b'\xc2']
x = int(sys.argv[1]); n = int(sys.argv[2]); b = bytearray()
while len(b) < n:
    x = (x * 1103515245 + 12345) & 0x7fffffff
    b += pieces[(x >> 8) % len(pieces)]
# end on a cut sequence
sys.stdout.buffer.write(bytes(b[:n]) + b'\xf0\x9f')
