//! One SMB2 message (header then body) through the body parsers of every
//! command, as a request and as a response.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smbdiag_core::smb::records::header_records::parse_smb2_header;
use smbdiag_core::smb::records::parse_body;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, hdr)) = parse_smb2_header(data) {
        let _ = parse_body(&hdr, data);
    }
});
