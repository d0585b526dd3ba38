# the JSON string json-c wrote for json_string_lossy(bytes): each byte of an
# invalid sequence a U+FFFD, control characters escaped (python's json.dumps
# with ensure_ascii=False escapes the same set the same way)
import sys, json
def seq(s, i):
    c = s[i]
    if c < 0x80: return 1
    if 0xC2 <= c <= 0xDF: l, cp = 2, c & 0x1F
    elif 0xE0 <= c <= 0xEF: l, cp = 3, c & 0x0F
    elif 0xF0 <= c <= 0xF4: l, cp = 4, c & 0x07
    else: return 0
    if len(s) - i < l: return 0
    for k in range(1, l):
        if s[i + k] & 0xC0 != 0x80: return 0
        cp = (cp << 6) | (s[i + k] & 0x3F)
    if (l == 3 and (cp < 0x800 or 0xD800 <= cp <= 0xDFFF)) or (l == 4 and (cp < 0x10000 or cp > 0x10FFFF)): return 0
    return l
s = sys.stdin.buffer.read(); out = bytearray(); i = 0
while i < len(s):
    k = seq(s, i)
    if k: out += s[i:i + k]; i += k
    else: out += b'\xef\xbf\xbd'; i += 1
sys.stdout.buffer.write(json.dumps(out.decode('utf-8'), ensure_ascii=False).encode('utf-8'))
