//! `get_image` and `list_images` (pages of 100) on a SQLite catalogue of
//! 10,000 images, in wall-clock time and (`cpu/…`) in CPU time of the whole
//! process. Run with `cargo bench -p glint-db --bench db`; `-- cpu/` runs
//! only the CPU-time half.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use glint_db::{Database, Viewer};
use glint_model::query::ImageListQuery;
use glint_model::time::from_micros;
use glint_model::{Image, ImageId, ImageStatus, Location, Visibility};
use tokio::runtime::Runtime;

const IMAGES: usize = 10_000;

fn image(i: usize) -> Image {
    let created = from_micros(1_767_225_600_000_000 + i64::try_from(i).unwrap_or(0) * 1_000_003);
    let mut properties = BTreeMap::new();
    properties.insert("os_distro".to_string(), "cirros".to_string());
    properties.insert("hw_disk_bus".to_string(), "scsi".to_string());
    Image {
        id: ImageId::new_random(),
        name: Some(format!("image-{i:05}")),
        status: ImageStatus::Active,
        visibility: [Visibility::Public, Visibility::Private, Visibility::Shared][i % 3],
        protected: false,
        os_hidden: false,
        checksum: Some(format!("{i:032x}")),
        os_hash_algo: Some("sha512".into()),
        os_hash_value: Some(format!("{i:0128x}")),
        owner: Some(format!("project-{}", i % 20)),
        size: Some(1 << 20),
        virtual_size: Some(1 << 30),
        container_format: Some("bare".into()),
        disk_format: Some("qcow2".into()),
        min_ram: 0,
        min_disk: 0,
        created_at: created,
        updated_at: created,
        deleted_at: None,
        tags: vec!["bench".into(), format!("t{}", i % 7)],
        properties,
        locations: vec![Location::new(
            format!("file:///var/lib/glint/images/{i}"),
            "local",
        )],
    }
}

/// A SQLite catalogue of [`IMAGES`] images in a temporary directory, built
/// once and shared by the wall-clock and the CPU-time runs.
struct Catalogue {
    rt: Runtime,
    db: Database,
    ids: Vec<ImageId>,
    _dir: tempfile::TempDir,
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let rt = Runtime::new().expect("tokio runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/bench.db", dir.path().display());
        let (db, ids) = rt.block_on(async {
            let db = Database::connect(&url).await.expect("connect");
            let mut ids = Vec::with_capacity(IMAGES);
            for i in 0..IMAGES {
                let image = image(i);
                db.create_image(&image).await.expect("create");
                ids.push(image.id);
            }
            (db, ids)
        });
        Catalogue {
            rt,
            db,
            ids,
            _dir: dir,
        }
    })
}

/// CPU time of the whole process (every thread: the caller, tokio's
/// workers, its blocking pool and any driver threads), the cost a server
/// pays per call whatever else runs on the machine.
struct ProcessCpu;

fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(t.tv_nsec).unwrap_or(0);
    Duration::new(secs, nanos)
}

impl Measurement for ProcessCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        process_cpu()
    }
    fn end(&self, started: Duration) -> Duration {
        process_cpu().saturating_sub(started)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_secs_f64() * 1e9
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical_ns: f64, values: &mut [f64]) -> &'static str {
        let (divisor, unit) = match typical_ns {
            t if t < 1e3 => (1.0, "ns cpu"),
            t if t < 1e6 => (1e3, "µs cpu"),
            t if t < 1e9 => (1e6, "ms cpu"),
            _ => (1e9, "s cpu"),
        };
        values.iter_mut().for_each(|v| *v /= divisor);
        unit
    }
    fn scale_throughputs(&self, _: f64, _: &Throughput, _: &mut [f64]) -> &'static str {
        "(no throughput)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn bench<M: Measurement + 'static>(c: &mut Criterion<M>, prefix: &str) {
    let Catalogue { rt, db, ids, .. } = catalogue();
    let admin = Viewer {
        project_id: None,
        is_admin: true,
    };
    let user = Viewer {
        project_id: Some("project-3".into()),
        is_admin: false,
    };
    let q = ImageListQuery::default();
    let list = |viewer: &Viewer, marker: Option<&Image>| {
        let page = rt.block_on(db.list_images(&q, 100, marker, viewer));
        black_box(page.expect("list"))
    };

    let mut n = 0;
    c.bench_function(&format!("{prefix}get_image"), |b| {
        b.iter(|| {
            n = (n + 7919) % IMAGES;
            black_box(rt.block_on(db.get_image(ids[n])).expect("get"))
        })
    });
    c.bench_function(
        &format!("{prefix}list_images admin first page (100)"),
        |b| b.iter(|| list(&admin, None)),
    );
    c.bench_function(&format!("{prefix}list_images user first page (100)"), |b| {
        b.iter(|| list(&user, None))
    });
    // A marker deep in the catalogue: the page must cost the same.
    let deep = rt.block_on(db.get_image(ids[IMAGES / 10]));
    let deep = deep.expect("get").expect("marker");
    c.bench_function(
        &format!("{prefix}list_images admin page after 9,000 (100)"),
        |b| b.iter(|| list(&admin, Some(&deep))),
    );
    c.bench_function(
        &format!("{prefix}list_images user page after 9,000 (100)"),
        |b| b.iter(|| list(&user, Some(&deep))),
    );
}

fn wall_time(c: &mut Criterion) {
    bench(c, "");
}

fn cpu_time(c: &mut Criterion<ProcessCpu>) {
    bench(c, "cpu/");
}

criterion_group!(wall, wall_time);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ProcessCpu);
    targets = cpu_time
}
criterion_main!(wall, cpu);
