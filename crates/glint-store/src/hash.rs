//! The multihash algorithms Glance accepts for `os_hash_algo`.

use std::fmt;
use std::str::FromStr;

use sha2::digest::DynDigest;

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

    /// A fresh hasher; boxed so one worker loop serves every algorithm.
    pub(crate) fn hasher(self) -> Box<dyn DynDigest + Send> {
        match self {
            Self::Md5 => Box::new(md5::Md5::default()),
            Self::Sha1 => Box::new(sha1::Sha1::default()),
            Self::Sha224 => Box::new(sha2::Sha224::default()),
            Self::Sha256 => Box::new(sha2::Sha256::default()),
            Self::Sha384 => Box::new(sha2::Sha384::default()),
            Self::Sha512 => Box::new(sha2::Sha512::default()),
        }
    }
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
pub(crate) fn hex(bytes: &[u8]) -> String {
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
        let digest = |algo: HashAlgo| hex(&algo.hasher().finalize());
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
