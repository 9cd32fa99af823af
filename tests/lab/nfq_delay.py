#!/usr/bin/env python3
"""Hold each packet of an NFQUEUE queue for a fixed time before letting it
through: a delay on the router (this kernel has no netem).

    nfq_delay.py QUEUE_NUM DELAY_MS

Through libnetfilter_queue (Debian libnetfilter-queue1) with ctypes: the
callback only notes the packet's id and when it is due; the loop gives the
verdicts, in arrival order, once they are due.
"""
import ctypes
import ctypes.util
import select
import signal
import socket
import sys
import time
from collections import deque

NF_ACCEPT = 1
NFQNL_COPY_META = 1

lib = ctypes.CDLL("libnetfilter_queue.so.1", use_errno=True)
lib.nfq_open.restype = ctypes.c_void_p
lib.nfq_create_queue.restype = ctypes.c_void_p
lib.nfq_create_queue.argtypes = [ctypes.c_void_p, ctypes.c_uint16, ctypes.c_void_p, ctypes.c_void_p]
lib.nfq_get_msg_packet_hdr.restype = ctypes.c_void_p
lib.nfq_get_msg_packet_hdr.argtypes = [ctypes.c_void_p]
lib.nfq_set_verdict.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p]
lib.nfq_handle_packet.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
lib.nfq_fd.argtypes = [ctypes.c_void_p]
lib.nfq_set_mode.argtypes = [ctypes.c_void_p, ctypes.c_uint8, ctypes.c_uint32]
lib.nfq_bind_pf.argtypes = [ctypes.c_void_p, ctypes.c_uint16]
lib.nfq_unbind_pf.argtypes = [ctypes.c_void_p, ctypes.c_uint16]

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


def main():
    queue, delay = int(sys.argv[1]), float(sys.argv[2]) / 1000.0
    due = deque()

    def on_packet(_qh, _msg, nfad, _data):
        hdr = lib.nfq_get_msg_packet_hdr(nfad)
        # struct nfqnl_msg_packet_hdr: packet_id is its first field, network order.
        pid = socket.ntohl(ctypes.c_uint32.from_address(hdr).value)
        due.append((time.monotonic() + delay, pid))
        return 0

    cb = CALLBACK(on_packet)
    h = lib.nfq_open()
    if not h:
        sys.exit("nfq_open failed")
    lib.nfq_unbind_pf(h, socket.AF_INET)
    lib.nfq_bind_pf(h, socket.AF_INET)
    qh = lib.nfq_create_queue(h, queue, cb, None)
    if not qh:
        sys.exit("nfq_create_queue failed")
    lib.nfq_set_mode(qh, NFQNL_COPY_META, 0)
    fd = lib.nfq_fd(h)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("holding packets %d ms" % (delay * 1000), flush=True)
    buf = ctypes.create_string_buffer(65536)
    while True:
        now = time.monotonic()
        while due and due[0][0] <= now:
            lib.nfq_set_verdict(qh, due.popleft()[1], NF_ACCEPT, 0, None)
        timeout = max(0.0, due[0][0] - now) if due else 1.0
        r, _, _ = select.select([fd], [], [], timeout)
        if r:
            n = libc.recv(fd, buf, len(buf), 0)
            if n > 0:
                lib.nfq_handle_packet(h, buf, n)


if __name__ == "__main__":
    main()
