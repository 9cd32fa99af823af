"""Shared by the lab's Python helpers: a connection to a share with Samba's
own client library (python3-samba), as the given user."""
from samba import credentials
from samba.samba3 import libsmb_samba_internal as libsmb
from samba.samba3 import param as s3param


def connect(server, share, user, password):
    lp = s3param.get_context()
    lp.load_default()
    creds = credentials.Credentials()
    creds.guess(lp)
    creds.set_username(user)
    creds.set_password(password)
    return libsmb.Conn(server, share, lp, creds)
