//! Real images built by `qemu-img`: the detected format and virtual size must agree
//! with what qemu itself reports, and the safety verdict must follow Glance.

mod common;

use common::{Workdir, inspect_file, pattern, qemu_info, rules};
use glint_format::{
    DetectedFormat, FormatError, Inspection, SafetyError, UploadRules, check_upload,
};

/// Asserts that `path` is detected as `format`, safely, with qemu's virtual size.
fn assert_safe_like_qemu(path: &std::path::Path, format: DetectedFormat) -> Inspection {
    let inspection = inspect_file(path);
    let qemu = qemu_info(path);
    assert_eq!(inspection.format, format, "{qemu:?}");
    assert_eq!(inspection.safety, Ok(()));
    assert_eq!(inspection.virtual_size, Some(qemu.virtual_size));
    assert_eq!(
        inspection.actual_size,
        std::fs::metadata(path).unwrap().len()
    );
    inspection
}

fn raw_source(dir: &Workdir, len: usize) -> std::path::PathBuf {
    let path = dir.path("source.raw");
    std::fs::write(&path, pattern(len)).unwrap();
    path
}

#[test]
fn qcow2_is_detected_with_qemu_virtual_size() {
    let dir = Workdir::new();
    let path = dir.create("disk.qcow2", "qcow2", "10M", &[]);
    let inspection = assert_safe_like_qemu(&path, DetectedFormat::Qcow2);
    assert_eq!(qemu_info(&path).format, "qcow2");
    assert_eq!(
        check_upload(Some("qcow2"), Some("bare"), &inspection, &rules(true)),
        Ok(Some(10 << 20))
    );
}

#[test]
fn qcow2_with_data_clusters_is_detected() {
    let dir = Workdir::new();
    let source = raw_source(&dir, 3 << 20);
    let path = dir.path("disk.qcow2");
    dir.qemu_img(&[
        "convert",
        "-f",
        "raw",
        "-O",
        "qcow2",
        source.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    assert_safe_like_qemu(&path, DetectedFormat::Qcow2);
}

#[test]
fn qcow2_version_2_is_safe() {
    let dir = Workdir::new();
    let path = dir.create("old.qcow2", "qcow2", "5M", &["-o", "compat=0.10"]);
    assert_safe_like_qemu(&path, DetectedFormat::Qcow2);
}

#[test]
fn qcow2_with_backing_file_is_unsafe() {
    let dir = Workdir::new();
    dir.create("base.qcow2", "qcow2", "10M", &[]);
    let path = dir.create(
        "top.qcow2",
        "qcow2",
        "10M",
        &["-b", "base.qcow2", "-F", "qcow2"],
    );
    let inspection = inspect_file(&path);
    assert_eq!(inspection.format, DetectedFormat::Qcow2);
    assert_eq!(inspection.virtual_size, Some(qemu_info(&path).virtual_size));
    assert_eq!(inspection.safety, Err(SafetyError::BackingFile));
    for claimed in ["qcow2", "raw"] {
        assert_eq!(
            check_upload(Some(claimed), Some("bare"), &inspection, &rules(false)),
            Err(FormatError::Unsafe(SafetyError::BackingFile))
        );
    }
}

#[test]
fn qcow2_with_external_data_file_is_unsafe() {
    let dir = Workdir::new();
    let path = dir.create("disk.qcow2", "qcow2", "10M", &["-o", "data_file=disk.data"]);
    let inspection = inspect_file(&path);
    assert_eq!(inspection.format, DetectedFormat::Qcow2);
    assert_eq!(inspection.safety, Err(SafetyError::DataFile));
}

#[test]
fn qcow2_claimed_as_raw_is_stored_with_its_actual_size() {
    let dir = Workdir::new();
    let path = dir.create("disk.qcow2", "qcow2", "10M", &[]);
    let inspection = inspect_file(&path);
    assert_eq!(
        check_upload(Some("raw"), Some("bare"), &inspection, &rules(true)),
        Ok(Some(inspection.actual_size))
    );
    assert!(matches!(
        check_upload(Some("vmdk"), Some("bare"), &inspection, &rules(true)),
        Err(FormatError::Mismatch {
            detected: DetectedFormat::Qcow2,
            ..
        })
    ));
}

#[test]
fn vmdk_monolithic_sparse_is_safe() {
    let dir = Workdir::new();
    let path = dir.create("disk.vmdk", "vmdk", "10M", &[]);
    let inspection = assert_safe_like_qemu(&path, DetectedFormat::Vmdk);
    assert_eq!(
        inspection.vmdk_create_type.as_deref(),
        Some("monolithicSparse")
    );
    assert_eq!(
        check_upload(
            Some("vmdk"),
            Some("bare"),
            &inspection,
            &UploadRules::default()
        ),
        Ok(Some(10 << 20))
    );
}

#[test]
fn vmdk_monolithic_sparse_is_refused_when_only_stream_optimized_is_allowed() {
    let dir = Workdir::new();
    let rules = UploadRules {
        vmdk_allowed_types: vec!["streamOptimized".into()],
        ..UploadRules::default()
    };
    let sparse = inspect_file(&dir.create("sparse.vmdk", "vmdk", "10M", &[]));
    for container in CONTAINERS {
        assert_eq!(
            check_upload(Some("vmdk"), Some(container), &sparse, &rules),
            Err(FormatError::Unsafe(SafetyError::VmdkSubformat(
                "monolithicSparse".into()
            ))),
            "{container}"
        );
    }
    let stream = dir.create(
        "stream.vmdk",
        "vmdk",
        "10M",
        &["-o", "subformat=streamOptimized"],
    );
    let stream = inspect_file(&stream);
    assert_eq!(stream.vmdk_create_type.as_deref(), Some("streamOptimized"));
    assert_eq!(
        check_upload(Some("vmdk"), Some("bare"), &stream, &rules),
        Ok(Some(10 << 20))
    );
}

#[test]
fn vmdk_stream_optimized_is_safe() {
    let dir = Workdir::new();
    let empty = dir.create(
        "empty.vmdk",
        "vmdk",
        "10M",
        &["-o", "subformat=streamOptimized"],
    );
    assert_safe_like_qemu(&empty, DetectedFormat::Vmdk);
    let source = raw_source(&dir, 3 << 20);
    let path = dir.path("data.vmdk");
    dir.qemu_img(&[
        "convert",
        "-f",
        "raw",
        "-O",
        "vmdk",
        "-o",
        "subformat=streamOptimized",
        source.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    assert_safe_like_qemu(&path, DetectedFormat::Vmdk);
}

/// Rules that also accept the multi-file VMDK types.
fn allowing_every_vmdk_type() -> UploadRules {
    let mut rules = UploadRules::default();
    rules
        .vmdk_allowed_types
        .extend(["monolithicFlat".into(), "twoGbMaxExtentSparse".into()]);
    rules
}

#[test]
fn vmdk_monolithic_flat_descriptor_is_rejected() {
    let dir = Workdir::new();
    let path = dir.create(
        "disk.vmdk",
        "vmdk",
        "10M",
        &["-o", "subformat=monolithicFlat"],
    );
    let inspection = inspect_file(&path);
    assert_eq!(inspection.format, DetectedFormat::Vmdk);
    assert_eq!(inspection.virtual_size, Some(qemu_info(&path).virtual_size));
    assert_eq!(
        inspection.vmdk_create_type.as_deref(),
        Some("monolithicFlat")
    );
    assert_eq!(
        inspection.safety,
        Err(SafetyError::VmdkExtent("disk-flat.vmdk".into()))
    );
    // Even claimed as raw, the descriptor must not reach a hypervisor.
    assert_eq!(
        check_upload(Some("raw"), Some("bare"), &inspection, &rules(false)),
        Err(FormatError::Unsafe(SafetyError::VmdkSubformat(
            "monolithicFlat".into()
        )))
    );
    // An operator who allows the type still gets the extent check.
    assert_eq!(
        check_upload(
            Some("vmdk"),
            Some("bare"),
            &inspection,
            &allowing_every_vmdk_type()
        ),
        Err(FormatError::Unsafe(SafetyError::VmdkExtent(
            "disk-flat.vmdk".into()
        )))
    );
}

#[test]
fn vmdk_split_sparse_descriptor_is_rejected() {
    let dir = Workdir::new();
    let path = dir.create(
        "disk.vmdk",
        "vmdk",
        "10M",
        &["-o", "subformat=twoGbMaxExtentSparse"],
    );
    let inspection = inspect_file(&path);
    assert_eq!(inspection.format, DetectedFormat::Vmdk);
    assert_eq!(
        inspection.vmdk_create_type.as_deref(),
        Some("twoGbMaxExtentSparse")
    );
    assert!(matches!(
        check_upload(Some("vmdk"), Some("bare"), &inspection, &rules(true)),
        Err(FormatError::Unsafe(SafetyError::VmdkSubformat(_)))
    ));
    assert!(matches!(
        check_upload(
            Some("vmdk"),
            Some("bare"),
            &inspection,
            &allowing_every_vmdk_type()
        ),
        Err(FormatError::Unsafe(SafetyError::VmdkExtent(_)))
    ));
}

#[test]
fn vmdk_descriptor_pointing_at_host_file_is_rejected() {
    let dir = Workdir::new();
    let path = dir.path("evil.vmdk");
    std::fs::write(
        &path,
        "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\n\
         createType=\"monolithicSparse\"\nRW 8 FLAT \"/etc/hostname\" 0\n",
    )
    .unwrap();
    let inspection = inspect_file(&path);
    assert_eq!(inspection.format, DetectedFormat::Vmdk);
    assert_eq!(
        inspection.safety,
        Err(SafetyError::VmdkExtent("/etc/hostname".into()))
    );
}

#[test]
fn vmdk_with_parent_is_unsafe() {
    let dir = Workdir::new();
    dir.create("base.vmdk", "vmdk", "10M", &[]);
    let path = dir.create(
        "top.vmdk",
        "vmdk",
        "10M",
        &["-b", "base.vmdk", "-F", "vmdk"],
    );
    let inspection = inspect_file(&path);
    assert_eq!(inspection.format, DetectedFormat::Vmdk);
    assert_eq!(inspection.safety, Err(SafetyError::BackingFile));
    assert_eq!(
        check_upload(
            Some("vmdk"),
            Some("bare"),
            &inspection,
            &allowing_every_vmdk_type()
        ),
        Err(FormatError::Unsafe(SafetyError::BackingFile))
    );
}

/// Every container format Glance knows: the safety verdict applies to all.
const CONTAINERS: [&str; 8] = [
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
    "ami",
    "aki",
    "ari",
];

#[test]
fn unsafe_images_are_refused_in_every_container_format() {
    let dir = Workdir::new();
    dir.create("base.qcow2", "qcow2", "10M", &[]);
    let backing = dir.create(
        "top.qcow2",
        "qcow2",
        "10M",
        &["-b", "base.qcow2", "-F", "qcow2"],
    );
    let data_file = dir.create("data.qcow2", "qcow2", "10M", &["-o", "data_file=data.raw"]);
    dir.create("base.vmdk", "vmdk", "10M", &[]);
    let parent = dir.create(
        "top.vmdk",
        "vmdk",
        "10M",
        &["-b", "base.vmdk", "-F", "vmdk"],
    );
    for (path, claimed, error) in [
        (backing, "qcow2", SafetyError::BackingFile),
        (data_file, "qcow2", SafetyError::DataFile),
        (parent, "vmdk", SafetyError::BackingFile),
    ] {
        let inspection = inspect_file(&path);
        for container in CONTAINERS {
            assert_eq!(
                check_upload(Some(claimed), Some(container), &inspection, &rules(false)),
                Err(FormatError::Unsafe(error.clone())),
                "{} in {container}",
                path.display()
            );
        }
    }
}

#[test]
fn safe_images_in_other_containers_record_no_virtual_size() {
    let dir = Workdir::new();
    let path = dir.create("disk.qcow2", "qcow2", "10M", &[]);
    let inspection = assert_safe_like_qemu(&path, DetectedFormat::Qcow2);
    for container in &CONTAINERS[1..] {
        for claimed in ["qcow2", "vmdk", "raw"] {
            assert_eq!(
                check_upload(Some(claimed), Some(container), &inspection, &rules(true)),
                Ok(None)
            );
        }
    }
}

#[test]
fn vhd_dynamic_is_detected_with_qemu_virtual_size() {
    let dir = Workdir::new();
    let path = dir.create("disk.vhd", "vpc", "10M", &[]);
    assert_safe_like_qemu(&path, DetectedFormat::Vhd);
}

#[test]
fn vhd_fixed_is_raw_as_qemu_probes_it() {
    let dir = Workdir::new();
    let path = dir.create("disk.vhd", "vpc", "1M", &["-o", "subformat=fixed"]);
    assert_eq!(qemu_info(&path).format, "raw");
    assert_safe_like_qemu(&path, DetectedFormat::Raw);
}

#[test]
fn vhdx_is_detected_with_qemu_virtual_size() {
    let dir = Workdir::new();
    let path = dir.create("disk.vhdx", "vhdx", "10M", &[]);
    assert_safe_like_qemu(&path, DetectedFormat::Vhdx);
}

#[test]
fn vhdx_with_data_is_detected_with_qemu_virtual_size() {
    let dir = Workdir::new();
    let source = raw_source(&dir, 3 << 20);
    let path = dir.path("disk.vhdx");
    dir.qemu_img(&[
        "convert",
        "-f",
        "raw",
        "-O",
        "vhdx",
        source.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    assert_safe_like_qemu(&path, DetectedFormat::Vhdx);
}

#[test]
fn vdi_is_detected_with_qemu_virtual_size() {
    let dir = Workdir::new();
    let path = dir.create("disk.vdi", "vdi", "10M", &[]);
    assert_safe_like_qemu(&path, DetectedFormat::Vdi);
}

#[test]
fn raw_is_detected_with_file_size_as_virtual_size() {
    let dir = Workdir::new();
    let empty = dir.create("empty.raw", "raw", "1M", &[]);
    let inspection = assert_safe_like_qemu(&empty, DetectedFormat::Raw);
    assert_eq!(
        check_upload(Some("raw"), Some("bare"), &inspection, &rules(true)),
        Ok(Some(1 << 20))
    );
    assert_safe_like_qemu(&raw_source(&dir, 3 << 20), DetectedFormat::Raw);
}

#[test]
fn raw_claimed_as_qcow2_is_a_mismatch() {
    let dir = Workdir::new();
    let inspection = inspect_file(&raw_source(&dir, 1 << 20));
    let err = check_upload(Some("qcow2"), Some("bare"), &inspection, &rules(true)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Image disk_format qcow2 does not match stream data raw"
    );
}

#[test]
fn qed_is_banned() {
    let dir = Workdir::new();
    let path = dir.create("disk.qed", "qed", "10M", &[]);
    let inspection = inspect_file(&path);
    assert_eq!(inspection.format, DetectedFormat::Qed);
    assert_eq!(inspection.virtual_size, Some(qemu_info(&path).virtual_size));
    assert_eq!(inspection.safety, Err(SafetyError::QedBanned));
}

#[test]
fn luks_is_detected_with_qemu_virtual_size() {
    let dir = Workdir::new();
    let path = dir.create(
        "disk.luks",
        "luks",
        "1M",
        &[
            "--object",
            "secret,id=sec0,data=secret",
            "-o",
            "key-secret=sec0,iter-time=10",
        ],
    );
    let inspection = inspect_file(&path);
    assert_eq!(inspection.format, DetectedFormat::Luks);
    assert_eq!(inspection.safety, Ok(()));
    assert_eq!(inspection.virtual_size, Some(1 << 20));
}

/// Every format qemu-img writes, holding data: glint's detected format and
/// virtual size are what `qemu-img info --output=json` reports.
#[test]
fn every_format_qemu_img_writes_agrees_with_qemu_img_info() {
    let dir = Workdir::new();
    let source = raw_source(&dir, (2 << 20) + 12_345);
    let secret = ["--object", "secret,id=sec0,data=secret"];
    let cases: [(&str, &str, &[&str], DetectedFormat); 10] = [
        (
            "v2.qcow2",
            "qcow2",
            &["-o", "compat=0.10"],
            DetectedFormat::Qcow2,
        ),
        (
            "v3.qcow2",
            "qcow2",
            &["-o", "compat=1.1"],
            DetectedFormat::Qcow2,
        ),
        (
            "sparse.vmdk",
            "vmdk",
            &["-o", "subformat=monolithicSparse"],
            DetectedFormat::Vmdk,
        ),
        (
            "stream.vmdk",
            "vmdk",
            &["-o", "subformat=streamOptimized"],
            DetectedFormat::Vmdk,
        ),
        (
            "dynamic.vhd",
            "vpc",
            &["-o", "subformat=dynamic"],
            DetectedFormat::Vhd,
        ),
        ("disk.vhdx", "vhdx", &[], DetectedFormat::Vhdx),
        ("disk.vdi", "vdi", &[], DetectedFormat::Vdi),
        (
            "static.vdi",
            "vdi",
            &["-o", "static=on"],
            DetectedFormat::Vdi,
        ),
        (
            "disk.luks",
            "luks",
            &["-o", "key-secret=sec0,iter-time=10"],
            DetectedFormat::Luks,
        ),
        ("disk.raw", "raw", &[], DetectedFormat::Raw),
    ];
    for (name, format, options, detected) in cases {
        let path = dir.path(name);
        let mut args = vec!["convert", "-q"];
        if format == "luks" {
            args.extend_from_slice(&secret);
        }
        args.extend_from_slice(&["-f", "raw", "-O", format]);
        args.extend_from_slice(options);
        args.extend_from_slice(&[source.to_str().unwrap(), path.to_str().unwrap()]);
        dir.qemu_img(&args);
        let qemu = qemu_info(&path);
        assert_eq!(qemu.format, format, "{name}");
        let inspection = inspect_file(&path);
        assert_eq!(inspection.format, detected, "{name}");
        assert_eq!(inspection.safety, Ok(()), "{name}");
        assert_eq!(inspection.virtual_size, Some(qemu.virtual_size), "{name}");
    }
}

/// The images that must never reach qemu-img or a hypervisor, each made by
/// qemu-img itself: refused whatever the claimed format.
#[test]
fn every_unsafe_variant_qemu_img_writes_is_refused() {
    let dir = Workdir::new();
    dir.create("base.qcow2", "qcow2", "1M", &[]);
    dir.create("base.vmdk", "vmdk", "1M", &[]);
    let unsafe_images = [
        dir.create(
            "backing.qcow2",
            "qcow2",
            "1M",
            &["-b", "base.qcow2", "-F", "qcow2"],
        ),
        dir.create(
            "v2-backing.qcow2",
            "qcow2",
            "1M",
            &["-o", "compat=0.10", "-b", "base.qcow2", "-F", "qcow2"],
        ),
        dir.create(
            "data-file.qcow2",
            "qcow2",
            "1M",
            &["-o", "data_file=data-file.raw"],
        ),
        dir.create(
            "raw-data.qcow2",
            "qcow2",
            "1M",
            &["-o", "data_file=raw-data.raw,data_file_raw=on"],
        ),
        dir.create(
            "flat.vmdk",
            "vmdk",
            "1M",
            &["-o", "subformat=monolithicFlat"],
        ),
        dir.create(
            "split.vmdk",
            "vmdk",
            "1M",
            &["-o", "subformat=twoGbMaxExtentSparse"],
        ),
        dir.create(
            "child.vmdk",
            "vmdk",
            "1M",
            &["-b", "base.vmdk", "-F", "vmdk"],
        ),
        dir.create("disk.qed", "qed", "1M", &[]),
    ];
    for path in unsafe_images {
        let inspection = inspect_file(&path);
        assert_ne!(inspection.safety, Ok(()), "{}", path.display());
        for claimed in ["raw", "qcow2", "vmdk", "qed"] {
            assert!(
                check_upload(
                    Some(claimed),
                    Some("bare"),
                    &inspection,
                    &allowing_every_vmdk_type()
                )
                .is_err(),
                "{} claimed as {claimed}",
                path.display()
            );
        }
    }
}
