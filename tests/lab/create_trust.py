"""Create a trusted domain object on the lab's AD DC through its own LSA
(lsa_CreateTrustedDomain, as an administrator over SMB), for a domain whose
domain controllers do not exist: the DC then has a trust it cannot use.
"delete" removes it again (lsa_DeleteTrustedDomain).

    create_trust.py create|delete SERVER ADMIN PASSWORD NETBIOS-NAME DOMAIN-SID
"""
import sys

from samba import credentials, param
from samba.dcerpc import lsa, security

action, server, user, password, name, sid = sys.argv[1:7]
lp = param.LoadParm()
lp.set("workgroup", "LAB")
lp.set("realm", "LAB.TEST")
creds = credentials.Credentials()
creds.guess(lp)
creds.set_username(user)
creds.set_password(password)
creds.set_domain("LAB")
creds.set_kerberos_state(credentials.DONT_USE_KERBEROS)
conn = lsa.lsarpc("ncacn_np:%s[seal]" % server, lp, creds)
policy = conn.OpenPolicy2("", lsa.ObjectAttribute(), security.SEC_FLAG_MAXIMUM_ALLOWED)
if action == "delete":
    conn.DeleteTrustedDomain(policy, security.dom_sid(sid))
    print("trusted domain %s (%s) deleted" % (name, sid))
else:
    info = lsa.DomainInfo()
    info.name = lsa.StringLarge()
    info.name.string = name
    info.sid = security.dom_sid(sid)
    conn.CreateTrustedDomain(policy, info, security.SEC_FLAG_MAXIMUM_ALLOWED)
    print("trusted domain %s (%s) created" % (name, sid))
