//! Cost of one policy decision for a project member against an image.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use glint_policy::{Credentials, Enforcer, NoRemote, Target};
use serde_json::json;

fn image_target() -> Target {
    [
        ("id", json!("0b1c6e62-9d8a-4c57-8a8d-0ff4c4a6a0c1")),
        ("project_id", json!("owner-project")),
        ("owner", json!("owner-project")),
        ("visibility", json!("private")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn bench_enforce(c: &mut Criterion) {
    let enforcer = Enforcer::with_glance_defaults();
    let target = image_target();
    let member = Credentials::default()
        .with_roles(["member", "reader"])
        .with_project("owner-project");
    for rule in ["get_image", "modify_image"] {
        c.bench_function(&format!("enforce {rule} as member"), |b| {
            b.iter(|| {
                enforcer.enforce(
                    black_box(rule),
                    black_box(&target),
                    black_box(&member),
                    &NoRemote,
                )
            });
        });
    }
}

criterion_group!(benches, bench_enforce);
criterion_main!(benches);
