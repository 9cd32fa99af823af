//! SESSION_SETUP security blobs: SPNEGO, NTLMSSP, Kerberos.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = smbdiag_core::smb::auth::parse_security_blob(data);
});
