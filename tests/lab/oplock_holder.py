#!/usr/bin/python3
"""Lab helper: open a file with a batch oplock and then stop listening, as a
hung or sleeping client would: the server's oplock break is never
acknowledged, so another client's open of the file waits for the server's
break timeout. Uses Samba's own client library (python3-samba).

    oplock_holder.py SERVER SHARE FILE USER PASSWORD SECONDS
"""
import sys
import time

from lab_client import connect

server, share, name, user, password, secs = sys.argv[1:7]
conn = connect(server, share, user, password)
REQUEST_BATCH_OPLOCK = 0x04  # cli_ntcreate CreatFlags: SMB2 oplock level BATCH
fnum = conn.create(name, CreateFlags=REQUEST_BATCH_OPLOCK, DesiredAccess=0x0012019F,
                   ShareAccess=0x7, CreateDisposition=1)
print("holding", name, "with a batch oplock", flush=True)
time.sleep(float(secs))  # no event loop runs: the break is not acknowledged
