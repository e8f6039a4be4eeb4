//! Cost of property protections: one decision, and hiding the unreadable
//! properties of a list page of 100 images with 10 properties each, as one
//! request does it (a fresh `CallerAccess` per page).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use glint_core::protections::CallerAccess;
use glint_core::{PropertyProtections, ProtectionSection, RuleFormat};
use glint_model::properties::PropertyOperation;
use glint_model::{Image, NewImage};
use glint_policy::{Credentials, Enforcer};

/// Glance's own test rules for the roles format (15 sections).
const ROLES: &[(&str, [&str; 4])] = &[
    ("^x_owner_.*", ["admin,member"; 4]),
    (
        "spl_create_prop",
        ["admin,spl_role", "admin,spl_role", "admin", "admin"],
    ),
    (
        "spl_read_prop",
        ["admin,spl_role", "admin,spl_role", "admin", "admin"],
    ),
    (
        "spl_read_only_prop",
        ["admin", "admin,spl_role", "admin", "admin"],
    ),
    ("spl_update_prop", ["admin,spl_role"; 4]),
    ("spl_delete_prop", ["admin,spl_role"; 4]),
    ("spl_delete_empty_prop", ["admin,spl_role"; 4]),
    ("^x_all_permitted.*", ["@"; 4]),
    ("^x_none_permitted.*", ["!"; 4]),
    ("x_none_read", ["admin,member", "!", "!", "!"]),
    (
        "x_none_update",
        ["admin,member", "admin,member", "!", "admin,member"],
    ),
    (
        "x_none_delete",
        ["admin,member", "admin,member", "admin,member", "!"],
    ),
    ("x_case_insensitive", ["admin,Member"; 4]),
    ("x_foo_matcher", ["admin"; 4]),
    (".*", ["admin"; 4]),
];

fn sections(format: RuleFormat) -> Vec<ProtectionSection> {
    ROLES
        .iter()
        .map(|(name, values)| ProtectionSection {
            name: (*name).to_owned(),
            options: PropertyOperation::ALL
                .iter()
                .zip(values)
                .map(|(op, value)| {
                    let value = match (format, *value) {
                        (RuleFormat::Roles, v) | (_, v @ ("@" | "!")) => v,
                        (RuleFormat::Policies, v) if v.contains("member") => "default",
                        (RuleFormat::Policies, _) => "context_is_admin",
                    };
                    (op.as_str().to_owned(), value.to_owned())
                })
                .collect(),
        })
        .collect()
}

fn page() -> Vec<Image> {
    let names = [
        "x_owner_a",
        "x_owner_b",
        "spl_read_prop",
        "x_none_read",
        "x_all_permitted_1",
        "hw_disk_bus",
        "os_distro",
        "os_version",
        "x_foo_matcher",
        "x_case_insensitive",
    ];
    (0..100)
        .map(|_| {
            let mut image = NewImage::default().into_image(Some("p".into()));
            for name in names {
                image.properties.insert(name.to_owned(), "value".to_owned());
            }
            image
        })
        .collect()
}

fn bench_protections(c: &mut Criterion) {
    let policy = Enforcer::with_glance_defaults();
    let member = Credentials::default().with_roles(["member", "reader"]);
    let images = page();
    for format in [RuleFormat::Roles, RuleFormat::Policies] {
        let protections = PropertyProtections::new(format, &sections(format), &policy).unwrap();
        let name = format.as_str();
        c.bench_function(&format!("{name}: one decision, last section"), |b| {
            b.iter(|| {
                protections.allows(
                    black_box("os_distro"),
                    PropertyOperation::Read,
                    &member,
                    &policy,
                )
            });
        });
        c.bench_function(&format!("{name}: hide unreadable, 100 images x 10"), |b| {
            b.iter_batched(
                || images.clone(),
                |mut images| {
                    let access = CallerAccess::new(&protections, &member, &policy);
                    for image in &mut images {
                        access.hide_unreadable(image);
                    }
                    images
                },
                criterion::BatchSize::LargeInput,
            );
        });
    }
}

criterion_group!(benches, bench_protections);
criterion_main!(benches);
