//! Builds the Wireshark side of the plugin: takes Wireshark's version and
//! include paths from pkg-config, generates the C header of the Rust exports
//! (cbindgen) and the Wireshark constants Rust needs (bindgen), and compiles
//! the C shim (cc).

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn pkg_config(args: &[&str]) -> String {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("wireshark")
        .output()
        .expect("pkg-config must be installed (apt-get install pkg-config libwireshark-dev)");
    if !out.status.success() {
        panic!("pkg-config {:?} wireshark failed: install libwireshark-dev ({})", args, String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn main() {
    println!("cargo:rerun-if-changed=ffi/shim.c");
    println!("cargo:rerun-if-changed=ffi/lib.rs");
    println!("cargo:rerun-if-changed=ffi/wireshark_consts.h");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    // The plugin must say which Wireshark major.minor it was built for.
    let version = pkg_config(&["--modversion"]);
    let mut parts = version.split('.');
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).expect("wireshark major version");
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).expect("wireshark minor version");
    println!("cargo:rustc-env=SMBDIAG_WS_VERSION={version}");
    println!("cargo:rustc-env=SMBDIAG_WS_MAJOR={major}");
    println!("cargo:rustc-env=SMBDIAG_WS_MINOR={minor}");
    println!("cargo:rustc-check-cfg=cfg(ws_plugin_describe)");
    if (major, minor) >= (4, 2) {
        // 4.2 added plugin_describe(); 4.0 has none.
        println!("cargo:rustc-cfg=ws_plugin_describe");
    }

    let includes: Vec<PathBuf> = pkg_config(&["--cflags-only-I"]).split_whitespace().map(|s| PathBuf::from(s.trim_start_matches("-I"))).collect();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    // Header of the Rust functions the shim calls.
    let crate_dir = env::var("CARGO_MANIFEST_DIR").unwrap();
    let cfg = cbindgen::Config::from_file(PathBuf::from(&crate_dir).join("cbindgen.toml")).expect("cbindgen.toml");
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(cfg)
        .with_src(PathBuf::from(&crate_dir).join("ffi/lib.rs"))
        .generate()
        .expect("cbindgen")
        .write_to_file(out_dir.join("smbdiag.h"));

    // Wireshark's constants for Rust: encapsulations, field types, display
    // bases, expert groups and severities.
    let mut b = bindgen::Builder::default()
        .header("ffi/wireshark_consts.h")
        .allowlist_var("WTAP_ENCAP_.*")
        .allowlist_var("PI_(ERROR|WARN|NOTE|CHAT|SEQUENCE|RESPONSE_CODE|SECURITY|PROTOCOL|MALFORMED|UNDECODED|COMMENTS_GROUP)")
        .allowlist_type("ftenum")
        .allowlist_type("field_display_e")
        .rustified_enum("ftenum")
        .rustified_enum("field_display_e")
        .layout_tests(false);
    for i in &includes {
        b = b.clang_arg(format!("-I{}", i.display()));
    }
    b.generate().expect("bindgen on Wireshark headers").write_to_file(out_dir.join("wireshark_consts.rs")).expect("write bindings");

    let mut cc = cc::Build::new();
    cc.file("ffi/shim.c").include(&out_dir).warnings(true).flag_if_supported("-Wno-unused-parameter");
    cc.define("SMBDIAG_WS_MAJOR", major.to_string().as_str()).define("SMBDIAG_WS_MINOR", minor.to_string().as_str());
    for i in &includes {
        cc.include(i);
    }
    cc.compile("smbdiag_shim");
    for lib in ["wireshark", "wsutil", "glib-2.0"] {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
}
