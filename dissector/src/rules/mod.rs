//! Diagnosis rules: the catalog of rule ids and the rules that raise findings.

pub mod catalog;
pub mod status_advice;
