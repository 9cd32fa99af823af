#!/usr/bin/python3
"""Lab helper: mark a file delete-on-close while keeping it open, then try to
open it again on the same connection: the server answers the second open
STATUS_DELETE_PENDING. Uses Samba's own client library (python3-samba).

    delete_pending.py SERVER SHARE FILE USER PASSWORD
"""
import sys

from samba import NTSTATUSError

from lab_client import connect

server, share, name, user, password = sys.argv[1:6]
conn = connect(server, share, user, password)
DELETE, READ_ATTRIBUTES, SYNCHRONIZE = 0x00010000, 0x00000080, 0x00100000
fnum = conn.create(name, DesiredAccess=DELETE | READ_ATTRIBUTES | SYNCHRONIZE, ShareAccess=0x7, CreateDisposition=1)
conn.delete_on_close(fnum, True)
try:
    conn.create(name, DesiredAccess=0x00120089, ShareAccess=0x7, CreateDisposition=1)
    print("second open succeeded (unexpected)")
except NTSTATUSError as e:
    print("second open refused:", e.args)
conn.close(fnum)
