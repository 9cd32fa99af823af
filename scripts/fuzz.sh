#!/usr/bin/env bash
# Fuzz the core with cargo-fuzz (libFuzzer). The toolchain here is stable, so
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its sanitizer flags.
#
#   scripts/fuzz.sh smoke          every target for 20 s (the test suite's run)
#   scripts/fuzz.sh run SECONDS    every target for SECONDS, one after another
#
# Seeds come from the real captures: whole frames (public corpus and lab),
# SMB2 messages found in them, and the security blobs Wireshark extracts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ=dissector/fuzz
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
CORPUS=${SMBDIAG_FUZZ_CORPUS:-$ROOT/target/fuzz-corpus}

seed_kdc() {
    # Port-88 payloads of the lab's Kerberos captures, each stream direction
    # as one input behind a knob byte (chunk size 16, no gap).
    [ -d "$CORPUS/kdc_stream" ] && return 0
    mkdir -p "$CORPUS/kdc_stream"
    for p in "$ROOT"/tests/captures/lab/kerberos_*.pcap; do
        tshark -r "$p" -Y 'tcp.port == 88 && tcp.len > 0' -T fields -e tcp.stream -e tcp.srcport -e tcp.payload 2>/dev/null |
            python3 -c '
import sys, hashlib, os, collections
d = collections.OrderedDict()
for line in sys.stdin:
    s, port, h = (line.split("\t") + ["", "", ""])[:3]
    d.setdefault((s, port), bytearray()).extend(bytes.fromhex(h.strip().replace(":", "")))
for v in d.values():
    b = b"\x0f" + bytes(v)
    open(os.path.join(sys.argv[1], hashlib.sha1(b).hexdigest()), "wb").write(b)
' "$CORPUS/kdc_stream"
    done
    echo "seeds kdc_stream: $(ls "$CORPUS/kdc_stream" | wc -l)"
}

seed_decrypt() {
    # Transform messages of the public and lab captures, behind a cipher byte and a 32-byte key.
    [ -d "$CORPUS/decrypt" ] && return 0
    mkdir -p "$CORPUS/decrypt"
    for p in "$ROOT"/tests/captures/lab/encrypted_*.pcap "$ROOT"/tests/captures/public/zeek-zeek/smb3.pcap; do
        tshark -r "$p" -Y 'smb2.header.transform.nonce' -T fields -e tcp.payload 2>/dev/null |
            python3 -c '
import sys, hashlib, os
for i, line in enumerate(sys.stdin):
    d = bytes.fromhex(line.strip().replace(":", ""))[4:]
    b = bytes([i % 5]) + bytes(range(32)) + d
    open(os.path.join(sys.argv[1], hashlib.sha1(b).hexdigest()), "wb").write(b)
' "$CORPUS/decrypt"
    done
    echo "seeds decrypt: $(ls "$CORPUS/decrypt" | wc -l)"
}

seed_decompress() {
    # No real capture holds SMB compression: the MS-XCA examples (LZ77, LZNT1,
    # LZ77+Huffman) behind unchained headers, and a chained none/Pattern_V1/LZ77 one.
    [ -d "$CORPUS/decompress" ] && return 0
    mkdir -p "$CORPUS/decompress"
    python3 - "$CORPUS/decompress" <<'PY'
import sys, os, struct, hashlib
out = sys.argv[1]
def put(b): open(os.path.join(out, hashlib.sha1(b).hexdigest()), "wb").write(b)
def unchained(size, alg, data, prefix=b""):
    put(struct.pack("<IHHI", size, alg, 0, len(prefix)) + prefix + data)
unchained(26, 2, bytes.fromhex("3f000000") + b"abcdefghijklmnopqrstuvwxyz")
unchained(300, 2, bytes.fromhex("ffffff1f61626317000fff2601"), b"\xfeSMB")
lznt1 = bytes.fromhex("38b08846232000204720410010a24701a045204400084501507900c04520052413880"
    "5b4024a44ef0358028c091601484500be009e000401189000")
unchained(142, 1, lznt1)
huff = bytearray(256); huff[48] = 0x50; huff[49:59] = b"\x55" * 10; huff[59:62] = b"\x45\x44\x04"; huff[128] = 4
huff += bytes.fromhex("d8523ed794115be9195ff9d67cdf8d0400000000")
unchained(26, 3, bytes(huff))
chain = b"".join(struct.pack("<HHI", a, 1, len(p)) + p for a, p in [(0, b"\xfeSMB"), (4, bytes([0, 0, 0, 0, 100, 0, 0, 0])), (2, struct.pack("<I", 26) + bytes.fromhex("3f000000") + b"abcdefghijklmnopqrstuvwxyz")])
put(struct.pack("<I", 130) + chain)
PY
    echo "seeds decompress: $(ls "$CORPUS/decompress" | wc -l)"
}

seed_keytab() {
    # The lab's keytabs and the Kerberos SESSION_SETUP blobs of its encrypted
    # Kerberos captures, behind a knob byte (encryption type, key usage).
    [ -d "$CORPUS/keytab" ] && return 0
    mkdir -p "$CORPUS/keytab"
    for k in "$ROOT"/tests/captures/lab/kerberos_encrypted_*.keytab; do
        { printf '\x01'; cat "$k"; } >"$CORPUS/keytab/$(basename "$k")"
    done
    for p in "$ROOT"/tests/captures/lab/kerberos_encrypted_*.pcap; do
        tshark -r "$p" -Y 'smb2.security_blob' -T fields -e smb2.security_blob 2>/dev/null |
            python3 -c '
import sys, hashlib, os
for i, line in enumerate(sys.stdin):
    b = bytes([i % 256]) + bytes.fromhex(line.strip().replace(":", "").split(",")[0])
    open(os.path.join(sys.argv[1], hashlib.sha1(b).hexdigest()), "wb").write(b)
' "$CORPUS/keytab"
    done
    echo "seeds keytab: $(ls "$CORPUS/keytab" | wc -l)"
}

seed() {
    seed_kdc
    seed_decrypt
    seed_decompress
    seed_keytab
    [ -d "$CORPUS/frames" ] && return 0
    mkdir -p "$CORPUS"/{frames,smb2_message,security_blob}
    python3 - "$CORPUS" "$ROOT/tests/captures/public" "$ROOT/tests/captures/lab" <<'PY'
import os, struct, subprocess, sys, hashlib, tempfile
out, *dirs = sys.argv[1:]
def frames_of(path):
    # editcap -F pcap turns pcapng into classic pcap, which is simple to read.
    with tempfile.NamedTemporaryFile(suffix=".pcap") as t:
        if subprocess.run(["editcap", "-F", "pcap", path, t.name], capture_output=True).returncode:
            return b"", []
        d = open(t.name, "rb").read()
    if len(d) < 24: return b"", []
    endian = "<" if d[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    link = struct.unpack(endian + "I", d[20:24])[0]
    # The frames target feeds Ethernet, or the link type its "LINK" prefix picks.
    prefix = {1: b"", 113: b"LINK\x01", 276: b"LINK\x02", 101: b"LINK\x03", 0: b"LINK\x04"}.get(link)
    if prefix is None: return b"", []
    res, off = [], 24
    while off + 16 <= len(d):
        incl = struct.unpack(endian + "I", d[off + 8:off + 12])[0]
        res.append(d[off + 16:off + 16 + incl]); off += 16 + incl
    return prefix, res
def put(kind, data):
    open(os.path.join(out, kind, hashlib.sha1(data).hexdigest()), "wb").write(data)
for base in dirs:
    for dp, _, fs in os.walk(base):
        for f in sorted(fs):
            if not f.endswith((".pcap", ".pcapng", ".cap")): continue
            p = os.path.join(dp, f)
            prefix, fr = frames_of(p)
            fr = fr[:300]
            if fr:
                put("frames", prefix + b"".join(struct.pack("<H", min(len(x), 65535)) + x[:65535] for x in fr))
            for x in fr:
                i = x.find(b"\xfeSMB")
                if i >= 0: put("smb2_message", x[i:])
            blobs = subprocess.run(["tshark", "-r", p, "-Y", "smb2.security_blob", "-T", "fields", "-e", "smb2.security_blob"],
                                   capture_output=True, text=True).stdout.split()
            for b in blobs[:20]:
                try: put("security_blob", bytes.fromhex(b.replace(":", "").split(",")[0]))
                except ValueError: pass
PY
    for t in frames smb2_message security_blob; do echo "seeds $t: $(ls "$CORPUS/$t" | wc -l)"; done
}

run() {
    local secs=$1
    (cd "$FUZZ" && cargo fuzz build -O >/dev/null)
    for t in frames smb2_message security_blob kdc_stream decrypt decompress keytab; do
        echo "== $t for $secs s"
        (cd "$FUZZ" && cargo fuzz run -O "$t" "$CORPUS/$t" -- -max_total_time="$secs" -rss_limit_mb=4096 -max_len=262144 2>&1 | tail -3)
    done
}

case "${1:-smoke}" in
    smoke) seed; run 20 ;;
    run) seed; run "${2:-600}" ;;
    *) echo "usage: $0 smoke | run SECONDS" >&2; exit 2 ;;
esac
