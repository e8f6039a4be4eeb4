//! Image data for uploads and the digests Glance reports for it.

/// Hex of the MD5 of `data`, as Glance's `checksum`.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex(&md5::Md5::digest(data))
}

/// Hex of the SHA-512 of `data`, as Glance's default `os_hash_value`.
pub fn sha512_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha512::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `len` bytes that look like no disk format (seeded xorshift, so every
/// run uploads the same data).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Runs `qemu-img` with `args` in `dir`; panics on failure.
pub fn qemu_img(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("qemu-img")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("qemu-img is installed");
    assert!(
        out.status.success(),
        "qemu-img {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A qcow2 image whose header names a backing file (made in `dir`).
pub fn qcow2_with_backing_file(dir: &std::path::Path) -> Vec<u8> {
    qemu_img(dir, &["create", "-q", "-f", "qcow2", "base.qcow2", "16M"]);
    let over = ["create", "-q", "-f", "qcow2", "-b", "base.qcow2"];
    qemu_img(dir, &[&over[..], &["-F", "qcow2", "over.qcow2"]].concat());
    std::fs::read(dir.join("over.qcow2")).expect("the image qemu-img made")
}
