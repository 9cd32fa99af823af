#!/usr/bin/python3
"""Lab helper: a non-compliant SMB 3 client that ignores a share's request for
encryption. The server's TREE_CONNECT response sets SMB2_SHAREFLAG_ENCRYPT_DATA
(Samba `server smb encrypt = desired` on the share), which obliges an SMB 3
client to encrypt everything it sends on that tree (MS-SMB2 3.2.5.5); this
one keeps sending plain messages, as a client with encryption broken or
turned off would, and a server that does not reject unencrypted access
serves it (Samba encrypts its answers on that tree all the same, so the
capture holds plain requests and encrypted responses; impacket has the keys
and reads them). Samba's own clients always honour the flag, so this uses
impacket (python3-impacket) and clears its per-tree EncryptData after the
connect.

    plain_on_encrypted_share.py SERVER SHARE FILE USER PASSWORD
"""
import sys

from impacket import smb3structs as s
from impacket.smbconnection import SMBConnection

server, share, name, user, password = sys.argv[1:6]
conn = SMBConnection(server, server, preferredDialect=s.SMB2_DIALECT_30)
smb = conn.getSMBServer()  # the impacket.smb3.SMB3 object underneath
conn.login(user, password)
# impacket encrypts the whole session on its own initiative (it keeps the
# keys, so encrypted answers still decode); a plain session instead, so that
# only the share asks for encryption.
smb._Session['SessionFlags'] &= ~s.SMB2_SESSION_FLAG_ENCRYPT_DATA
tid = conn.connectTree(share)
print("share flags ask for encryption:", smb._Session['TreeConnectTable'][tid]['EncryptData'], flush=True)
smb._Session['TreeConnectTable'][tid]['EncryptData'] = False  # the non-compliance
print("%d names in the share" % len(conn.listPath(share, '*')), flush=True)
fid = conn.openFile(tid, name)
print("read %d bytes of %s" % (len(conn.readFile(tid, fid)), name), flush=True)
conn.closeFile(tid, fid)
conn.disconnectTree(tid)
conn.close()
