//! The multihash algorithms Glance accepts for `os_hash_algo`, and the hasher
//! that computes them.
//!
//! Digests come from OpenSSL's libcrypto: on the x86-64 machines glint was
//! measured on, its md5 and sha512 are the fastest available (about 20 % and
//! 35 % more bytes per CPU-second than RustCrypto's assembly versions), and
//! those two are what bounds upload speed.

use std::fmt;
use std::io;
use std::str::FromStr;

use openssl::hash::MessageDigest;

/// An `os_hash_algo`, named as Python's `hashlib` names it (Glance passes the option
/// straight to `hashlib.new`).
/// The default is Glance's default `hashing_algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HashAlgo {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    #[default]
    Sha512,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported hash algorithm {0:?}")]
pub struct UnknownHashAlgo(pub String);

impl HashAlgo {
    pub const ALL: [HashAlgo; 6] = [
        Self::Md5,
        Self::Sha1,
        Self::Sha224,
        Self::Sha256,
        Self::Sha384,
        Self::Sha512,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha224 => "sha224",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    fn message_digest(self) -> MessageDigest {
        match self {
            Self::Md5 => MessageDigest::md5(),
            Self::Sha1 => MessageDigest::sha1(),
            Self::Sha224 => MessageDigest::sha224(),
            Self::Sha256 => MessageDigest::sha256(),
            Self::Sha384 => MessageDigest::sha384(),
            Self::Sha512 => MessageDigest::sha512(),
        }
    }

    /// A fresh hasher. Fails only when libcrypto refuses the algorithm (md5
    /// under a FIPS-only configuration, for one).
    pub(crate) fn hasher(self) -> io::Result<Hasher> {
        let inner = openssl::hash::Hasher::new(self.message_digest())
            .map_err(|e| crypto_error(self, &e))?;
        Ok(Hasher { algo: self, inner })
    }
}

/// An incremental digest of one algorithm.
pub(crate) struct Hasher {
    algo: HashAlgo,
    inner: openssl::hash::Hasher,
}

impl Hasher {
    pub(crate) fn update(&mut self, data: &[u8]) -> io::Result<()> {
        self.inner
            .update(data)
            .map_err(|e| crypto_error(self.algo, &e))
    }

    /// The lower-case hex digest of everything fed so far.
    pub(crate) fn finish_hex(mut self) -> io::Result<String> {
        let digest = self
            .inner
            .finish()
            .map_err(|e| crypto_error(self.algo, &e))?;
        Ok(hex(&digest))
    }
}

fn crypto_error(algo: HashAlgo, err: &openssl::error::ErrorStack) -> io::Error {
    io::Error::other(format!("{algo} digest failed: {err}"))
}

impl fmt::Display for HashAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HashAlgo {
    type Err = UnknownHashAlgo;

    /// `hashlib.new` accepts upper-case names too, so this does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| UnknownHashAlgo(s.to_owned()))
    }
}

/// Lower-case hex, as `hashlib`'s `hexdigest()` prints it.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashlib_names_round_trip() {
        for algo in HashAlgo::ALL {
            assert_eq!(algo.as_str().parse::<HashAlgo>(), Ok(algo));
        }
        assert_eq!("SHA256".parse::<HashAlgo>(), Ok(HashAlgo::Sha256));
        assert!("sha3_256".parse::<HashAlgo>().is_err());
        assert!("".parse::<HashAlgo>().is_err());
    }

    #[test]
    fn known_vectors_of_empty_input() {
        let digest = |algo: HashAlgo| algo.hasher().unwrap().finish_hex().unwrap();
        assert_eq!(digest(HashAlgo::Md5), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            digest(HashAlgo::Sha1),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(
            digest(HashAlgo::Sha256),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(digest(HashAlgo::Sha512).starts_with("cf83e1357eefb8bdf1542850d66d8007"));
        assert_eq!(digest(HashAlgo::Sha224).len(), 56);
        assert_eq!(digest(HashAlgo::Sha384).len(), 96);
    }
}
