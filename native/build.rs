//! Compiles the shared C core (src/pyz_deflate.c) and links Debian's static libdeflate
//! (`apt-get install libdeflate-dev`). No crates: the C compiler and `ar` are run directly.
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(command: &mut Command) {
    let status = command
        .status()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    if !status.success() {
        panic!("{command:?} failed with {status}");
    }
}

/// Where libdeflate.a lives: $PYZ_LIBDEFLATE_LIB_DIR, else the multiarch dir Debian uses.
fn libdeflate_dir() -> PathBuf {
    if let Ok(dir) = env::var("PYZ_LIBDEFLATE_LIB_DIR") {
        return PathBuf::from(dir);
    }
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let candidates = [
        format!("/usr/lib/{arch}-linux-gnu"),
        "/usr/lib".to_string(),
        "/usr/local/lib".to_string(),
        "/opt/homebrew/lib".to_string(),
    ];
    for candidate in &candidates {
        if Path::new(candidate).join("libdeflate.a").exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "libdeflate.a not found in {candidates:?}; install it with `apt-get install -y libdeflate-dev` \
         or set PYZ_LIBDEFLATE_LIB_DIR"
    );
}

fn main() {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let compiler = env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let object = out_dir.join("pyz_deflate.o");
    let library = out_dir.join("libpyzdeflate.a");
    let mut compile = Command::new(&compiler);
    compile.args(["-c", "-O2", "-fPIC", "-std=c99", "-Wall", "-Wextra", "-DNDEBUG"]);
    if let Ok(include) = env::var("PYZ_LIBDEFLATE_INCLUDE_DIR") {
        compile.arg(format!("-I{include}"));
    }
    compile.arg("src/pyz_deflate.c").arg("-o").arg(&object);
    run(&mut compile);
    let _ = std::fs::remove_file(&library);
    run(Command::new(env::var("AR").unwrap_or_else(|_| "ar".to_string()))
        .arg("rcs")
        .arg(&library)
        .arg(&object));

    println!("cargo:rustc-link-search=native={}", out_dir.display());
    println!("cargo:rustc-link-lib=static=pyzdeflate");
    println!("cargo:rustc-link-search=native={}", libdeflate_dir().display());
    println!("cargo:rustc-link-lib=static=deflate");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        // Node-API symbols come from the node binary at load time.
        println!("cargo:rustc-cdylib-link-arg=-undefined");
        println!("cargo:rustc-cdylib-link-arg=dynamic_lookup");
    }
    println!("cargo:rerun-if-changed=src/pyz_deflate.c");
    println!("cargo:rerun-if-changed=src/pyz_deflate.h");
    println!("cargo:rerun-if-env-changed=PYZ_LIBDEFLATE_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PYZ_LIBDEFLATE_INCLUDE_DIR");
}
