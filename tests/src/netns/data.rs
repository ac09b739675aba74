//! Test data: files of seeded random bytes with their SHA-256, and hashing helpers.

use super::child::hex;
use sha2::{Digest, Sha256};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A test file in its own temporary directory (both removed on drop).
pub struct TestFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
    /// Its length in bytes.
    pub len: u64,
    /// SHA-256 of its contents, lowercase hex.
    pub sha256: String,
}

impl TestFile {
    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory it is in (nothing else is there).
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }
}

fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("synack-interop-")
        .tempdir()
        .expect("create a temporary directory")
}

/// A file holding `contents` (stdin for a program, a canned response).
pub fn file_with(contents: &[u8]) -> TestFile {
    let dir = scratch_dir();
    let path = dir.path().join("contents");
    std::fs::write(&path, contents).expect("write a test file");
    TestFile {
        _dir: dir,
        path,
        len: contents.len() as u64,
        sha256: sha256_hex(contents),
    }
}

/// Writes `len` bytes from a generator seeded with `seed` (xorshift64*: fast, and not the
/// kind of data any layer could compress or special-case) and hashes them on the way.
pub fn random_file(len: u64, seed: u64) -> TestFile {
    let dir = scratch_dir();
    let path = dir.path().join("random.bin");
    let file = std::fs::File::create(&path).expect("create the random file");
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut block = vec![0u8; 1 << 16];
    let mut left = len;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            word.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        let take = left.min(block.len() as u64) as usize;
        let chunk = &block[..take];
        hasher.update(chunk);
        out.write_all(chunk).expect("write the random file");
        left -= take as u64;
    }
    out.flush().expect("flush the random file");
    TestFile {
        _dir: dir,
        path,
        len,
        sha256: hex(&hasher.finalize()),
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}
