use std::time::Instant;
use glint_db::{Database, Viewer};
use glint_model::query::ImageListQuery;
#[path = "../benches/db.rs"]
#[allow(dead_code)]
mod bench;
fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = "sqlite:///tmp/probe2.db";
    let fresh = !std::path::Path::new("/tmp/probe2.db").exists();
    let db = Database::connect(url).await.unwrap();
    if fresh { for i in 0..10_000 { db.create_image(&bench::image(i)).await.unwrap(); } }
    let admin = Viewer { project_id: None, is_admin: true };
    let q = ImageListQuery::default();
    let page = db.list_images(&q, 1000, None, &admin).await.unwrap();
    let ids: Vec<_> = page.iter().map(|i| i.id).collect();
    for round in 0..1 {
        let (t, c) = (Instant::now(), cpu());
        for _ in 0..200 { db.list_images(&q, 100, None, &admin).await.unwrap(); }
        println!("{round} list: wall {:?} cpu {:.0}us", t.elapsed() / 200, (cpu() - c) * 1e6 / 200.0);
        let (t, c) = (Instant::now(), cpu());
        for i in 0..0 { db.get_image(ids[i % 1000]).await.unwrap().unwrap(); }
        println!("{round} get: wall {:?} cpu {:.0}us", t.elapsed() / 5000, (cpu() - c) * 1e6 / 5000.0);
    }
}
