use glint_model::query::ImageListQuery;
use std::time::Instant;
const VARS: [&str; 7] = [
    "HANDLER_READ_NEXT",
    "HANDLER_READ_KEY",
    "INNODB_BUFFER_POOL_READ_REQUESTS",
    "INNODB_BUFFER_POOL_READS",
    "CREATED_TMP_DISK_TABLES",
    "HANDLER_READ_RND_NEXT",
    "HANDLER_WRITE",
];
async fn snap(db: &glint_db::Database) -> Vec<i64> {
    let mut v = Vec::new();
    for name in VARS {
        v.push(glint_db::testing::scalar(db, &format!("SELECT CAST(VARIABLE_VALUE AS SIGNED) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='{name}'")).await.unwrap());
    }
    v
}
#[tokio::main]
async fn main() {
    let url = std::env::args().nth(1).unwrap();
    let db = glint_db::Database::connect(&url).await.unwrap();
    let v = glint_db::Viewer {
        project_id: Some("project-0".into()),
        is_admin: true,
    };
    let owned: Vec<(String, String)> = vec![("size_min".into(), "1".into())];
    let q = ImageListQuery::from_pairs(&owned).unwrap();
    let c = "SELECT COUNT(*) FROM (SELECT `images`.`id` FROM `images` FORCE INDEX (`ix_images_live_size`) WHERE `images`.`deleted` = (0) AND `images`.`sort_size` >= 1 ORDER BY `images`.`sort_size` ASC, `images`.`created_at` ASC, `images`.`id` ASC LIMIT 20000) AS `side`";
    for round in 0..3 {
        let a = snap(&db).await;
        let t = Instant::now();
        let n = glint_db::testing::scalar(&db, c).await.unwrap();
        let el = t.elapsed();
        let b = snap(&db).await;
        let d: Vec<String> = VARS
            .iter()
            .zip(a.iter().zip(&b))
            .map(|(n, (x, y))| format!("{n}={}", y - x))
            .collect();
        println!("round {round} count {n} {el:?} {}", d.join(" "));
        let t = Instant::now();
        let n = db.list_images(&q, 100, None, &v).await.unwrap().len();
        println!("list {n} {:?}", t.elapsed());
    }
}
