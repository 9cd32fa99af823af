//! Builds the Wireshark side of the plugin: takes Wireshark's version and
//! include paths from pkg-config (or, where there is no pkg-config, from
//! environment variables), generates the C header of the Rust exports
//! (cbindgen) and the Wireshark constants Rust needs (bindgen), and compiles
//! the C shim (cc).
//!
//! Without pkg-config (Windows, macOS), set:
//!   SMBDIAG_WS_INCLUDE_DIRS  Wireshark's include folder (the one holding
//!                            ws_version.h and epan/) and GLib's include
//!                            folders, separated like PATH
//!   SMBDIAG_WS_LIB_DIRS      the folders holding the wireshark, wsutil and
//!                            glib-2.0 libraries (import libraries on Windows)
//!   SMBDIAG_WS_VERSION       optional: major.minor.micro; read from
//!                            ws_version.h when not set
//! These also take precedence over pkg-config when SMBDIAG_WS_INCLUDE_DIRS is set.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const ENV_INCLUDES: &str = "SMBDIAG_WS_INCLUDE_DIRS";
const ENV_LIBS: &str = "SMBDIAG_WS_LIB_DIRS";
const ENV_VERSION: &str = "SMBDIAG_WS_VERSION";

/// `pkg-config ARGS wireshark`, or None when pkg-config or the .pc file is missing.
fn pkg_config(args: &[&str]) -> Option<String> {
    let out = Command::new("pkg-config").args(args).arg("wireshark").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Where Wireshark is: version, include folders, library folders.
struct Wireshark {
    version: String,
    includes: Vec<PathBuf>,
    lib_dirs: Vec<PathBuf>,
}

fn from_env() -> Option<Wireshark> {
    let includes: Vec<PathBuf> = env::split_paths(&env::var_os(ENV_INCLUDES)?).collect();
    let lib_dirs = env::var_os(ENV_LIBS).map(|v| env::split_paths(&v).collect()).unwrap_or_default();
    let version = env::var(ENV_VERSION).ok().or_else(|| version_from_header(&includes)).unwrap_or_else(|| {
        panic!("{ENV_INCLUDES} is set but no ws_version.h is in those folders: set {ENV_VERSION} (e.g. 4.6.9) or add Wireshark's include folder")
    });
    Some(Wireshark { version, includes, lib_dirs })
}

fn from_pkg_config() -> Option<Wireshark> {
    let version = pkg_config(&["--modversion"])?;
    let includes = pkg_config(&["--cflags-only-I"])?.split_whitespace().map(|s| PathBuf::from(s.trim_start_matches("-I"))).collect();
    let lib_dirs = pkg_config(&["--libs-only-L"])?.split_whitespace().map(|s| PathBuf::from(s.trim_start_matches("-L"))).collect();
    Some(Wireshark { version, includes, lib_dirs })
}

/// major.minor.micro from the WIRESHARK_VERSION_* lines of ws_version.h.
fn version_from_header(includes: &[PathBuf]) -> Option<String> {
    let text = includes.iter().find_map(|d| std::fs::read_to_string(Path::new(d).join("ws_version.h")).ok())?;
    let part = |name: &str| {
        text.lines().find_map(|l| l.trim().strip_prefix("#define ")?.strip_prefix(name)?.trim().parse::<u32>().ok())
    };
    Some(format!("{}.{}.{}", part("WIRESHARK_VERSION_MAJOR")?, part("WIRESHARK_VERSION_MINOR")?, part("WIRESHARK_VERSION_MICRO").unwrap_or(0)))
}

fn main() {
    println!("cargo:rerun-if-changed=ffi/shim.c");
    println!("cargo:rerun-if-changed=ffi/lib.rs");
    println!("cargo:rerun-if-changed=ffi/wireshark_consts.h");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    for v in [ENV_INCLUDES, ENV_LIBS, ENV_VERSION, "PKG_CONFIG_PATH"] {
        println!("cargo:rerun-if-env-changed={v}");
    }

    let ws = from_env().or_else(from_pkg_config).unwrap_or_else(|| {
        panic!(
            "Wireshark's development files were not found: on Linux install pkg-config and libwireshark-dev; \
             elsewhere set {ENV_INCLUDES} and {ENV_LIBS} (see README, Windows and macOS)"
        )
    });
    // The plugin must say which Wireshark major.minor it was built for.
    let version = ws.version;
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

    let includes = ws.includes;
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
    for d in &ws.lib_dirs {
        println!("cargo:rustc-link-search=native={}", d.display());
    }
    for lib in ["wireshark", "wsutil", "glib-2.0"] {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
}
