//! What the DER/BER readers (SPNEGO tokens, Kerberos KDC messages) share.

use der_parser::asn1_rs::{Any, FromBer};

/// The children of a constructed value, at most `max` of them (a hostile
/// token cannot make the list grow without bound); stops at the first one
/// that does not parse.
pub fn children(mut data: &[u8], max: usize) -> Vec<Any<'_>> {
    let mut out = Vec::new();
    while !data.is_empty() && out.len() < max {
        match Any::from_ber(data) {
            Ok((rest, a)) => {
                out.push(a);
                data = rest;
            }
            Err(_) => break,
        }
    }
    out
}
