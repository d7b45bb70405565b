//! Lays out the functions `mcp-oauth mcp-server` runs at start-up next to each other in
//! release builds, so that a server touches fewer pages of its executable (idle RSS; see
//! BENCHMARKS.md). The list is `startup-order.txt`, written by `bench/startup-order`; names
//! it holds that a build no longer has are skipped, so a stale list costs memory, not a build.
//!
//! Only where the linker is rustc's own `rust-lld` (the default of x86_64 Linux since Rust
//! 1.90, unless a linker is configured): GNU ld does not know the flag, and a build with
//! another linker (zig in `scripts/lambda-build`) is left as it is.

use std::env;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=startup-order.txt");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    if !uses_rust_lld() || env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    // The linker reads a copy named after the list's content: cargo relinks when the flags
    // change, not when a file they name does.
    let (Ok(list), Some(out_dir)) = (fs::read("startup-order.txt"), env::var_os("OUT_DIR")) else {
        return;
    };
    let mut hasher = DefaultHasher::new();
    list.hash(&mut hasher);
    let copy = Path::new(&out_dir).join(format!("startup-order-{:016x}.txt", hasher.finish()));
    if fs::write(&copy, &list).is_err() {
        return;
    }
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        copy.display()
    );
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}

/// Whether the binaries are linked by `rust-lld`: x86_64 Linux (GNU), no linker configured, no
/// linker flags in RUSTFLAGS, and rustc 1.90 or newer.
fn uses_rust_lld() -> bool {
    let target_is_default = env::var("TARGET").as_deref() == Ok("x86_64-unknown-linux-gnu");
    let linker_configured = env::var_os("RUSTC_LINKER").is_some()
        || env::var("CARGO_ENCODED_RUSTFLAGS").is_ok_and(|flags| flags.contains("link"));
    target_is_default && !linker_configured && rustc_minor().is_some_and(|minor| minor >= 90)
}

/// The minor version of the rustc that builds this crate (`rustc 1.95.0 (…)` gives 95).
fn rustc_minor() -> Option<u32> {
    let rustc = env::var_os("RUSTC")?;
    let output = Command::new(rustc).arg("--version").output().ok()?;
    let version = String::from_utf8(output.stdout).ok()?;
    let mut parts = version.split_whitespace().nth(1)?.split('.');
    match (parts.next()?, parts.next()?) {
        ("1", minor) => minor.parse().ok(),
        _ => None,
    }
}
