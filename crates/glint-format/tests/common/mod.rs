//! Helpers shared by the integration tests: building images with `qemu-img` and
//! inspecting them in several chunkings.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::Command;

use glint_format::{Inspection, Inspector, UploadRules};

/// Glance's default rules, with `require_image_format_match` as given.
pub fn rules(require_image_format_match: bool) -> UploadRules {
    UploadRules {
        require_image_format_match,
        ..UploadRules::default()
    }
}

/// Chunk sizes every image is fed in; results must not depend on them.
pub const CHUNK_SIZES: [usize; 5] = [1, 7, 4095, 64 * 1024, 1024 * 1024];

pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("create temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `qemu-img create -f FORMAT [ARGS...] NAME SIZE`, returning the image path.
    pub fn create(&self, name: &str, format: &str, size: &str, args: &[&str]) -> PathBuf {
        let path = self.path(name);
        let mut all = vec!["create", "-q", "-f", format];
        all.extend_from_slice(args);
        all.extend_from_slice(&[path.to_str().unwrap(), size]);
        self.qemu_img(&all);
        path
    }

    pub fn qemu_img(&self, args: &[&str]) -> String {
        qemu_img(self.dir.path(), args)
    }
}

fn qemu_img(cwd: &Path, args: &[&str]) -> String {
    let output = Command::new("qemu-img")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run qemu-img");
    assert!(
        output.status.success(),
        "qemu-img {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// What `qemu-img info --output=json` reports about the top image.
#[derive(Debug)]
pub struct QemuInfo {
    pub format: String,
    pub virtual_size: u64,
}

pub fn qemu_info(path: &Path) -> QemuInfo {
    let json = qemu_img(
        path.parent().unwrap(),
        &["info", "--output=json", path.to_str().unwrap()],
    );
    // qemu pretty-prints with four spaces per level; nested children come first.
    let top = |key: &str| {
        let prefix = format!("    \"{key}\": ");
        json.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map(|v| v.trim_end_matches(',').trim_matches('"').to_owned())
            .unwrap_or_else(|| panic!("no top-level {key} in {json}"))
    };
    QemuInfo {
        format: top("format"),
        virtual_size: top("virtual-size").parse().unwrap(),
    }
}

pub fn inspect_chunked(data: &[u8], chunk: usize) -> Inspection {
    let mut inspector = Inspector::new();
    for piece in data.chunks(chunk) {
        inspector.feed(piece);
    }
    inspector.finish()
}

/// Inspects `data` whole and in every [`CHUNK_SIZES`] chunking, asserting that all
/// agree, and returns the verdict.
pub fn inspect_every_way(data: &[u8]) -> Inspection {
    let whole = glint_format::inspect(data);
    for chunk in CHUNK_SIZES {
        assert_eq!(inspect_chunked(data, chunk), whole, "chunk size {chunk}");
    }
    whole
}

pub fn inspect_file(path: &Path) -> Inspection {
    inspect_every_way(&std::fs::read(path).expect("read image"))
}

/// Deterministic non-zero filler, so images have real data clusters.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) % 251) as u8 + 1)
        .collect()
}
