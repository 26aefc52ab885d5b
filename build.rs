//! Generates the protobuf / gRPC types of `crate::pb` from the `.proto` files
//! under `proto/`.
//!
//! The `.proto` files are compiled in-process by `protox` (pure Rust), so no
//! `protoc` is needed at build time. The resulting descriptor set is written
//! to `$OUT_DIR/tfprobe_descriptor.bin` (for gRPC reflection and text-format
//! parsing) and handed to `tonic-prost-build`, which writes one Rust file per
//! protobuf package into `$OUT_DIR`.

use std::path::{Path, PathBuf};

const PROTO_ROOT: &str = "proto";

fn main() {
    if let Err(e) = run() {
        // Print the whole chain; protox errors say file, line and column.
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");

    let mut files = Vec::new();
    collect_protos(Path::new(PROTO_ROOT), &mut files)?;
    files.sort();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }

    // google/protobuf/*.proto imports resolve to protox's bundled copies.
    let mut compiler = protox::Compiler::new([PROTO_ROOT])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&files)?;

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("tfprobe_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Ordered maps: deterministic iteration (signature listings, JSON)
        // and deterministic encoding of map fields.
        .btree_map(".")
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}

/// Every `*.proto` file below `dir`, recursively.
fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
