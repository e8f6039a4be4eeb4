//! Glance's upload decision: does the data match the claimed `disk_format`, which
//! virtual size to record, and is the image safe to store.

use thiserror::Error;

use crate::{DetectedFormat, Inspection, SafetyError};

/// Why an upload is refused. Callers map both variants to Glance's
/// `InvalidImageData` (HTTP 415 on `PUT /file`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormatError {
    #[error("Image disk_format {claimed} does not match stream data {detected}")]
    Mismatch {
        claimed: String,
        detected: DetectedFormat,
    },
    #[error("Image fails safety check: {0}")]
    Unsafe(SafetyError),
}

/// The operator's rules for uploads (Glance's `[image_format]` options);
/// the default is Glance's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRules {
    /// Refuse `bare` data whose detected format differs from its
    /// `disk_format` (`require_image_format_match`).
    pub require_image_format_match: bool,
    /// The VMDK create types accepted, compared exactly
    /// (`vmdk_allowed_types`); an empty list refuses every VMDK.
    pub vmdk_allowed_types: Vec<String>,
    /// The names of the safety checks of partitioned (`gpt`) images whose
    /// failure is let through (`gpt_safety_checks_nonfatal`). The one
    /// check is `mbr`, the partition table's sanity, as oslo.utils names
    /// it.
    pub gpt_safety_checks_nonfatal: Vec<String>,
}

/// The name of the safety check of a partitioned image's MBR.
pub const GPT_MBR_CHECK: &str = "mbr";

impl Default for UploadRules {
    fn default() -> Self {
        UploadRules {
            require_image_format_match: true,
            // The variants whose data lives in the uploaded file itself.
            vmdk_allowed_types: vec!["streamOptimized".into(), "monolithicSparse".into()],
            gpt_safety_checks_nonfatal: Vec::new(),
        }
    }
}

/// Decides an upload of `inspection`'s data as Glance does for `bare`
/// containers: a format mismatch is fatal only when `rules` require the
/// format to match. Other containers (ovf, ova, docker, compressed, ...)
/// wrap or compress a disk, so their data is not compared with
/// `disk_format` and gives no virtual size; unlike Glance, which skips them
/// altogether, their safety verdict still applies, since the data is often
/// a disk image handed to a hypervisor as it is. A safety failure, or a
/// VMDK of a create type `rules` do not allow, is always fatal. Returns the
/// virtual size to record: none for a size of zero, which Glance does not
/// record either.
pub fn check_upload(
    disk_format: Option<&str>,
    container_format: Option<&str>,
    inspection: &Inspection,
    rules: &UploadRules,
) -> Result<Option<u64>, FormatError> {
    if container_format != Some("bare") {
        verdict(inspection, rules).map_err(FormatError::Unsafe)?;
        return Ok(None);
    }
    let virtual_size = match match_claim(disk_format.unwrap_or_default(), inspection) {
        Ok(size) => size,
        Err(mismatch) if rules.require_image_format_match => return Err(mismatch),
        // A size read by the wrong format's rules would mislead consumers.
        Err(_) => None,
    };
    verdict(inspection, rules).map_err(FormatError::Unsafe)?;
    Ok(virtual_size.filter(|size| *size > 0))
}

/// The inspector's safety verdict, after the create type of a VMDK: the
/// operator's list is the most specific reason to give, and an allowed
/// type still has to pass every other check.
fn verdict(inspection: &Inspection, rules: &UploadRules) -> Result<(), SafetyError> {
    if inspection.format == DetectedFormat::Vmdk {
        match &inspection.vmdk_create_type {
            Some(kind) if !rules.vmdk_allowed_types.contains(kind) => {
                return Err(SafetyError::VmdkSubformat(kind.clone()));
            }
            Some(_) => {}
            // The inspector refuses every VMDK whose create type it could
            // not read; an inspection saying otherwise was not made by it.
            None if inspection.safety.is_ok() => {
                return Err(SafetyError::Invalid("vmdk has no createType".into()));
            }
            None => {}
        }
    }
    match &inspection.safety {
        // Glance lets an operator accept partition tables that only
        // bend the rules.
        Err(SafetyError::Gpt(_))
            if inspection.format == DetectedFormat::Gpt
                && rules
                    .gpt_safety_checks_nonfatal
                    .iter()
                    .any(|c| c == GPT_MBR_CHECK) =>
        {
            Ok(())
        }
        other => other.clone(),
    }
}

fn match_claim(claimed: &str, inspection: &Inspection) -> Result<Option<u64>, FormatError> {
    let detected = inspection.format;
    if detected.as_str() == claimed {
        return Ok(inspection.virtual_size);
    }
    // Partitioned disks are raw disks to everything that consumes images.
    let raw_like = matches!(detected, DetectedFormat::Raw | DetectedFormat::Gpt);
    if raw_like && DetectedFormat::from_name(claimed).is_none() {
        // ami, aki, ari, ploop...: nothing to compare against, and no size to trust.
        return Ok(None);
    }
    if claimed == DetectedFormat::Raw.as_str() {
        // Compatibility: Glance lets a rich format be stored as raw, sized as stored.
        return Ok(Some(inspection.actual_size));
    }
    Err(FormatError::Mismatch {
        claimed: claimed.to_owned(),
        detected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspection(format: DetectedFormat, safety: Result<(), SafetyError>) -> Inspection {
        Inspection {
            format,
            virtual_size: Some(10 << 30),
            actual_size: 200 << 20,
            safety,
            vmdk_create_type: None,
        }
    }

    fn vmdk(create_type: &str, safety: Result<(), SafetyError>) -> Inspection {
        Inspection {
            vmdk_create_type: Some(create_type.to_owned()),
            ..inspection(DetectedFormat::Vmdk, safety)
        }
    }

    fn rules(require: bool) -> UploadRules {
        UploadRules {
            require_image_format_match: require,
            ..UploadRules::default()
        }
    }

    fn allowing(types: &[&str]) -> UploadRules {
        UploadRules {
            vmdk_allowed_types: types.iter().map(|t| t.to_string()).collect(),
            ..UploadRules::default()
        }
    }

    fn bare(
        claimed: &str,
        inspection: &Inspection,
        require: bool,
    ) -> Result<Option<u64>, FormatError> {
        check_upload(Some(claimed), Some("bare"), inspection, &rules(require))
    }

    #[test]
    fn gpt_safety_failures_are_fatal_unless_listed_as_nonfatal() {
        let bent = inspection(
            DetectedFormat::Gpt,
            Err(SafetyError::Gpt(
                "partition 0 has invalid boot flag 0x01".into(),
            )),
        );
        assert!(matches!(
            check_upload(Some("raw"), Some("bare"), &bent, &UploadRules::default()),
            Err(FormatError::Unsafe(SafetyError::Gpt(_)))
        ));
        let lenient = UploadRules {
            gpt_safety_checks_nonfatal: vec!["mbr".into()],
            ..UploadRules::default()
        };
        assert!(check_upload(Some("raw"), Some("bare"), &bent, &lenient).is_ok());
        // Only partitioned images: another format's failure stays fatal.
        let qcow2 = inspection(DetectedFormat::Qcow2, Err(SafetyError::BackingFile));
        assert!(check_upload(Some("qcow2"), Some("bare"), &qcow2, &lenient).is_err());
        let other_check = UploadRules {
            gpt_safety_checks_nonfatal: vec!["gptmbr".into()],
            ..UploadRules::default()
        };
        assert!(check_upload(Some("raw"), Some("bare"), &bent, &other_check).is_err());
    }

    const ACTUAL: u64 = 200 << 20;
    const VIRTUAL: u64 = 10 << 30;

    #[test]
    fn matching_format_records_the_inspected_virtual_size() {
        let i = inspection(DetectedFormat::Qcow2, Ok(()));
        assert_eq!(bare("qcow2", &i, true), Ok(Some(VIRTUAL)));
    }

    #[test]
    fn raw_data_claimed_as_uninspectable_format_is_accepted_without_size() {
        let i = inspection(DetectedFormat::Raw, Ok(()));
        for claimed in ["ami", "ari", "aki", "ploop"] {
            assert_eq!(bare(claimed, &i, true), Ok(None));
        }
    }

    #[test]
    fn rich_format_claimed_as_raw_is_accepted_with_actual_size() {
        let i = vmdk("monolithicSparse", Ok(()));
        assert_eq!(bare("raw", &i, true), Ok(Some(ACTUAL)));
    }

    #[test]
    fn gpt_claimed_as_raw_is_accepted_with_actual_size() {
        let i = inspection(DetectedFormat::Gpt, Ok(()));
        assert_eq!(bare("raw", &i, true), Ok(Some(ACTUAL)));
        assert_eq!(bare("ami", &i, true), Ok(None));
    }

    #[test]
    fn raw_claimed_as_raw_records_actual_size() {
        let i = Inspection {
            virtual_size: Some(ACTUAL),
            ..inspection(DetectedFormat::Raw, Ok(()))
        };
        assert_eq!(bare("raw", &i, true), Ok(Some(ACTUAL)));
    }

    #[test]
    fn other_mismatch_is_fatal_when_format_match_is_required() {
        let i = inspection(DetectedFormat::Raw, Ok(()));
        let err = bare("qcow2", &i, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Image disk_format qcow2 does not match stream data raw"
        );
        let i = inspection(DetectedFormat::Qcow2, Ok(()));
        assert!(matches!(
            bare("vmdk", &i, true),
            Err(FormatError::Mismatch { .. })
        ));
        assert!(matches!(
            bare("ami", &i, true),
            Err(FormatError::Mismatch { .. })
        ));
    }

    #[test]
    fn mismatch_is_tolerated_without_a_size_when_not_required() {
        let i = inspection(DetectedFormat::Qcow2, Ok(()));
        assert_eq!(bare("vmdk", &i, false), Ok(None));
    }

    #[test]
    fn safety_failure_is_fatal_even_when_formats_match() {
        let i = inspection(DetectedFormat::Qcow2, Err(SafetyError::BackingFile));
        assert_eq!(
            bare("qcow2", &i, true),
            Err(FormatError::Unsafe(SafetyError::BackingFile))
        );
        assert_eq!(
            bare("raw", &i, false),
            Err(FormatError::Unsafe(SafetyError::BackingFile))
        );
    }

    #[test]
    fn safety_failure_is_fatal_after_a_tolerated_mismatch() {
        let i = inspection(DetectedFormat::Qed, Err(SafetyError::QedBanned));
        assert_eq!(
            bare("qcow2", &i, false),
            Err(FormatError::Unsafe(SafetyError::QedBanned))
        );
    }

    #[test]
    fn mismatch_is_reported_before_safety() {
        let i = inspection(DetectedFormat::Qcow2, Err(SafetyError::DataFile));
        assert!(matches!(
            bare("vhd", &i, true),
            Err(FormatError::Mismatch { .. })
        ));
    }

    #[test]
    fn other_containers_are_checked_for_safety_only() {
        let unsafe_image = inspection(DetectedFormat::Qcow2, Err(SafetyError::BackingFile));
        for container in [
            Some("ovf"),
            Some("ova"),
            Some("docker"),
            Some("compressed"),
            None,
        ] {
            assert_eq!(
                check_upload(Some("raw"), container, &unsafe_image, &rules(true)),
                Err(FormatError::Unsafe(SafetyError::BackingFile))
            );
        }
        let safe = inspection(DetectedFormat::Qcow2, Ok(()));
        assert_eq!(
            check_upload(Some("vmdk"), Some("ova"), &safe, &rules(true)),
            Ok(None)
        );
        assert_eq!(
            check_upload(Some("qcow2"), Some("ovf"), &safe, &rules(true)),
            Ok(None)
        );
    }

    #[test]
    fn a_virtual_size_of_zero_is_not_recorded() {
        let empty = Inspection {
            format: DetectedFormat::Raw,
            virtual_size: Some(0),
            actual_size: 0,
            safety: Ok(()),
            vmdk_create_type: None,
        };
        assert_eq!(bare("raw", &empty, true), Ok(None));
        let i = Inspection {
            virtual_size: Some(0),
            ..inspection(DetectedFormat::Qcow2, Ok(()))
        };
        assert_eq!(bare("qcow2", &i, true), Ok(None));
    }

    #[test]
    fn missing_disk_format_is_treated_as_uninspectable() {
        let i = inspection(DetectedFormat::Raw, Ok(()));
        assert_eq!(check_upload(None, Some("bare"), &i, &rules(true)), Ok(None));
    }

    const CONTAINERS: [Option<&str>; 4] = [Some("bare"), Some("ova"), Some("docker"), None];

    #[test]
    fn default_rules_accept_both_single_file_vmdk_types() {
        for kind in ["monolithicSparse", "streamOptimized"] {
            let i = vmdk(kind, Ok(()));
            assert_eq!(bare("vmdk", &i, true), Ok(Some(VIRTUAL)), "{kind}");
        }
        let i = vmdk("monolithicFlat", Ok(()));
        assert_eq!(
            bare("vmdk", &i, true),
            Err(FormatError::Unsafe(SafetyError::VmdkSubformat(
                "monolithicFlat".into()
            )))
        );
    }

    #[test]
    fn a_vmdk_type_left_out_of_the_list_is_refused_whatever_the_claim_and_container() {
        let narrowed = allowing(&["streamOptimized"]);
        let sparse = vmdk("monolithicSparse", Ok(()));
        let refused = Err(FormatError::Unsafe(SafetyError::VmdkSubformat(
            "monolithicSparse".into(),
        )));
        for container in CONTAINERS {
            for claimed in ["vmdk", "raw", "qcow2"] {
                let rules = UploadRules {
                    require_image_format_match: false,
                    ..narrowed.clone()
                };
                assert_eq!(
                    check_upload(Some(claimed), container, &sparse, &rules),
                    refused,
                    "{claimed} in {container:?}"
                );
            }
        }
        let stream = vmdk("streamOptimized", Ok(()));
        assert_eq!(
            check_upload(Some("vmdk"), Some("bare"), &stream, &narrowed),
            Ok(Some(VIRTUAL))
        );
    }

    #[test]
    fn create_types_compare_exactly() {
        let i = vmdk("streamoptimized", Ok(()));
        assert!(matches!(
            check_upload(Some("vmdk"), Some("bare"), &i, &UploadRules::default()),
            Err(FormatError::Unsafe(SafetyError::VmdkSubformat(_)))
        ));
    }

    #[test]
    fn an_empty_list_refuses_every_vmdk_and_nothing_else() {
        let none = allowing(&[]);
        for kind in ["monolithicSparse", "streamOptimized"] {
            assert!(matches!(
                check_upload(Some("vmdk"), Some("bare"), &vmdk(kind, Ok(())), &none),
                Err(FormatError::Unsafe(SafetyError::VmdkSubformat(_)))
            ));
        }
        let qcow2 = inspection(DetectedFormat::Qcow2, Ok(()));
        assert_eq!(
            check_upload(Some("qcow2"), Some("bare"), &qcow2, &none),
            Ok(Some(VIRTUAL))
        );
    }

    #[test]
    fn an_added_vmdk_type_still_gets_every_other_safety_check() {
        let flat = allowing(&["monolithicFlat", "streamOptimized"]);
        for error in [
            SafetyError::VmdkExtent("disk-flat.vmdk".into()),
            SafetyError::BackingFile,
        ] {
            let i = vmdk("monolithicFlat", Err(error.clone()));
            assert_eq!(
                check_upload(Some("vmdk"), Some("bare"), &i, &flat),
                Err(FormatError::Unsafe(error))
            );
        }
        let i = vmdk("monolithicFlat", Ok(()));
        assert_eq!(
            check_upload(Some("vmdk"), Some("bare"), &i, &flat),
            Ok(Some(VIRTUAL))
        );
    }

    #[test]
    fn a_vmdk_without_a_create_type_is_refused() {
        let refused = inspection(DetectedFormat::Vmdk, Err(SafetyError::UnknownFeatures));
        assert_eq!(
            bare("vmdk", &refused, true),
            Err(FormatError::Unsafe(SafetyError::UnknownFeatures))
        );
        let unexplained = inspection(DetectedFormat::Vmdk, Ok(()));
        assert!(matches!(
            bare("vmdk", &unexplained, true),
            Err(FormatError::Unsafe(SafetyError::Invalid(_)))
        ));
    }
}
