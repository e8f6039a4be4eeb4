//! The text descriptor of a VMDK, parsed strictly: anything that is not a comment,
//! a `ddb.` line, a `key=value` line or an extent line makes the image invalid, so a
//! crafted descriptor cannot smuggle in syntax that qemu reads differently.

use crate::SafetyError;

const EXTENT_ACCESS: [&[u8]; 3] = [b"RW", b"RDONLY", b"NOACCESS"];
/// Keeps error messages short whatever the descriptor holds.
const MAX_EXCERPT: usize = 80;

#[derive(Debug, Default)]
pub(crate) struct Descriptor {
    create_type: Option<String>,
    /// qemu opens the named file as a backing image.
    parent_hint: bool,
    extents: Vec<Extent>,
}

#[derive(Debug)]
struct Extent {
    line: String,
    sectors: Option<u64>,
    file: Option<String>,
}

impl Descriptor {
    /// Parses the descriptor text, which ends at the first NUL byte if any.
    pub fn parse(bytes: &[u8]) -> Result<Self, SafetyError> {
        let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
        let mut descriptor = Self::default();
        for line in text.split(|&b| b == b'\n').map(<[u8]>::trim_ascii) {
            if line.is_empty() || line.starts_with(b"#") || line.starts_with(b"ddb.") {
                continue;
            }
            if let Some(extent) = Extent::parse(line) {
                descriptor.extents.push(extent);
                continue;
            }
            let Some(eq) = line.iter().position(|&b| b == b'=') else {
                return Err(invalid(format!(
                    "unexpected vmdk descriptor line {:?}",
                    excerpt(line)
                )));
            };
            let (key, value) = (
                line[..eq].trim_ascii(),
                unquote(line[eq + 1..].trim_ascii()),
            );
            match key {
                b"createType" if descriptor.create_type.is_some() => {
                    return Err(invalid("vmdk descriptor repeats createType".into()));
                }
                b"createType" => descriptor.create_type = Some(excerpt(value)),
                b"parentFileNameHint" => descriptor.parent_hint = true,
                _ => {}
            }
        }
        Ok(descriptor)
    }

    /// The `createType` line's value, as written (cut to an excerpt).
    pub fn create_type(&self) -> Option<&str> {
        self.create_type.as_deref()
    }

    /// Glance's rules for a descriptor embedded in a sparse VMDK, whatever
    /// its create type: which types are acceptable is the operator's
    /// choice (`vmdk_allowed_types`), applied to the upload as a whole.
    pub fn check(&self) -> Result<(), SafetyError> {
        if self.create_type.is_none() {
            return Err(invalid("vmdk descriptor has no createType".into()));
        }
        if self.extents.is_empty() {
            return Err(invalid("vmdk descriptor has no extents".into()));
        }
        // Absolute or relative paths would make qemu read other host files
        // (CVE-2022-47951).
        if let Some(extent) = self.extents.iter().find(|e| e.line.contains('/')) {
            return Err(SafetyError::VmdkExtent(extent.name()));
        }
        if self.parent_hint {
            return Err(SafetyError::BackingFile);
        }
        Ok(())
    }

    /// The first extent's file name, for a descriptor that stands alone and so
    /// necessarily refers to other files.
    pub fn first_extent(&self) -> Option<String> {
        self.extents.first().map(Extent::name)
    }

    /// The disk size the extents add up to.
    pub fn virtual_size(&self) -> Option<u64> {
        self.extents.iter().try_fold(0u64, |total, extent| {
            total.checked_add(extent.sectors?.checked_mul(512)?)
        })
    }
}

impl Extent {
    /// `ACCESS SECTORS TYPE ["FILE" [OFFSET]]`; `None` when the line is no extent.
    fn parse(line: &[u8]) -> Option<Self> {
        let mut tokens = line
            .split(u8::is_ascii_whitespace)
            .filter(|t| !t.is_empty());
        if !EXTENT_ACCESS.contains(&tokens.next()?) {
            return None;
        }
        let sectors = tokens
            .next()
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(|t| t.parse().ok());
        let file = line.iter().position(|&b| b == b'"').and_then(|open| {
            let rest = &line[open + 1..];
            let close = rest.iter().position(|&b| b == b'"')?;
            Some(excerpt(&rest[..close]))
        });
        Some(Self {
            line: String::from_utf8_lossy(line).into_owned(),
            sectors,
            file,
        })
    }

    fn name(&self) -> String {
        self.file
            .clone()
            .unwrap_or_else(|| excerpt(self.line.as_bytes()))
    }
}

fn unquote(value: &[u8]) -> &[u8] {
    value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value)
}

fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_EXCERPT)]).into_owned()
}

fn invalid(why: String) -> SafetyError {
    SafetyError::Invalid(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPARSE: &str = "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n\
        createType=\"monolithicSparse\"\n\n# Extent description\nRW 20480 SPARSE \"disk.vmdk\"\n\n\
        # The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\nddb.adapterType = \"ide\"\n";

    fn checked(text: &str) -> Result<(), SafetyError> {
        Descriptor::parse(text.as_bytes())?.check()
    }

    #[test]
    fn monolithic_sparse_descriptor_passes() {
        assert_eq!(checked(SPARSE), Ok(()));
        let d = Descriptor::parse(SPARSE.as_bytes()).unwrap();
        assert_eq!(d.virtual_size(), Some(20480 * 512));
    }

    #[test]
    fn text_after_nul_is_ignored() {
        let text = format!("{SPARSE}\0garbage line\n");
        assert_eq!(checked(&text), Ok(()));
    }

    #[test]
    fn crlf_line_endings_are_accepted() {
        assert_eq!(checked(&SPARSE.replace('\n', "\r\n")), Ok(()));
    }

    #[test]
    fn create_type_is_reported_as_written_and_left_to_the_upload_rules() {
        let d = Descriptor::parse(SPARSE.as_bytes()).unwrap();
        assert_eq!(d.create_type(), Some("monolithicSparse"));
        let text = SPARSE.replace("monolithicSparse", "twoGbMaxExtentSparse");
        let d = Descriptor::parse(text.as_bytes()).unwrap();
        assert_eq!(d.create_type(), Some("twoGbMaxExtentSparse"));
        assert_eq!(d.check(), Ok(()));
    }

    #[test]
    fn any_create_type_still_gets_the_extent_and_parent_checks() {
        let other = SPARSE.replace("monolithicSparse", "monolithicFlat");
        let text = other.replace("\"disk.vmdk\"", "\"/etc/shadow\"");
        assert_eq!(
            checked(&text),
            Err(SafetyError::VmdkExtent("/etc/shadow".into()))
        );
        let text = other.replace("version=1", "version=1\nparentFileNameHint=\"base.vmdk\"");
        assert_eq!(checked(&text), Err(SafetyError::BackingFile));
    }

    #[test]
    fn extent_with_a_path_is_refused() {
        let text = SPARSE.replace("\"disk.vmdk\"", "\"/etc/shadow\"");
        assert_eq!(
            checked(&text),
            Err(SafetyError::VmdkExtent("/etc/shadow".into()))
        );
        let text = SPARSE.replace("\"disk.vmdk\"", "\"../other.vmdk\"");
        assert!(matches!(checked(&text), Err(SafetyError::VmdkExtent(_))));
    }

    #[test]
    fn missing_extent_is_invalid() {
        let text = SPARSE.replace("RW 20480 SPARSE \"disk.vmdk\"", "");
        assert!(matches!(checked(&text), Err(SafetyError::Invalid(_))));
    }

    #[test]
    fn missing_or_repeated_create_type_is_invalid() {
        let text = SPARSE.replace("createType=\"monolithicSparse\"", "");
        assert!(matches!(checked(&text), Err(SafetyError::Invalid(_))));
        let text = SPARSE.replace("version=1", "createType=\"streamOptimized\"");
        assert!(matches!(checked(&text), Err(SafetyError::Invalid(_))));
    }

    #[test]
    fn stray_line_is_invalid() {
        let text = format!("{SPARSE}this is not a descriptor line\n");
        assert!(matches!(checked(&text), Err(SafetyError::Invalid(_))));
    }

    #[test]
    fn parent_hint_is_a_backing_file() {
        let text = SPARSE.replace("version=1", "version=1\nparentFileNameHint=\"base.vmdk\"");
        assert_eq!(checked(&text), Err(SafetyError::BackingFile));
    }

    #[test]
    fn all_access_modes_are_extents() {
        let text = SPARSE.replace(
            "RW 20480 SPARSE \"disk.vmdk\"",
            "RDONLY 10 SPARSE \"a.vmdk\"\nNOACCESS 6 ZERO",
        );
        let d = Descriptor::parse(text.as_bytes()).unwrap();
        assert_eq!(d.virtual_size(), Some(16 * 512));
        assert_eq!(d.first_extent().as_deref(), Some("a.vmdk"));
        assert_eq!(d.check(), Ok(()));
    }
}
