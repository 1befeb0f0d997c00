//! The benchmark's data: GitLab-shaped trees, generated from a seed, and the 1% changed between runs.

use super::*;

/// SplitMix64: deterministic from the seed, fast enough to write gigabytes.
pub(crate) struct Random(pub(crate) u64);

impl Random {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1).max(1)
    }
    pub(crate) fn fill(&mut self, buffer: &mut [u8]) {
        for chunk in buffer.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

pub(crate) fn write_file(
    random: &mut Random,
    path: &Path,
    size: u64,
    owner: (u32, u32),
    mode: u32,
) {
    let mut file = fs::File::create(path).unwrap();
    let mut buffer = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buffer.len() as u64) as usize;
        random.fill(&mut buffer[..n]);
        file.write_all(&buffer[..n]).unwrap();
        left -= n as u64;
    }
    drop(file);
    std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1)).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

pub(crate) fn make_dir(path: &Path, owner: (u32, u32), mode: u32) {
    fs::create_dir_all(path).unwrap();
    std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1)).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

pub(crate) const GIT: (u32, u32) = (998, 998);
pub(crate) const PSQL: (u32, u32) = (996, 996);

/// Fills `volumes` (config/, data/, log/) with GitLab-shaped data of about `size` bytes.
pub(crate) fn generate(volumes: &Path, size: u64, seed: u64) -> (u64, u64) {
    let mut random = Random(seed);
    let data = volumes.join("data");
    let (mut files, mut bytes) = (0u64, 0u64);
    let mut count = |size: u64| {
        files += 1;
        bytes += size;
    };
    make_dir(&volumes.join("config"), (0, 0), 0o775);
    write_file(
        &mut random,
        &volumes.join("config/gitlab-secrets.json"),
        2_000,
        (0, 0),
        0o600,
    );
    count(2_000);
    // Repositories: 40%, in pack files of 1-50 MB, and thousands of loose objects.
    let repositories = data.join("git-data/repositories/@hashed");
    make_dir(&data.join("git-data"), GIT, 0o2770);
    make_dir(&data.join("git-data/repositories"), GIT, 0o2770);
    let mut budget = size * 40 / 100;
    let mut project = 0;
    while budget > 0 {
        project += 1;
        let repo = repositories.join(format!(
            "{:02x}/{:02x}/{project:064x}.git",
            project % 256,
            project / 256 % 256
        ));
        make_dir(&repo.join("objects/pack"), GIT, 0o2770);
        let pack = random.between(1 << 20, 50 << 20).min(budget).max(1);
        write_file(
            &mut random,
            &repo.join(format!("objects/pack/pack-{project:040x}.pack")),
            pack,
            GIT,
            0o444,
        );
        count(pack);
        budget = budget.saturating_sub(pack);
        let loose = (pack / 20_000).clamp(5, 2_000);
        for object in 0..loose {
            let directory = repo.join(format!("objects/{:02x}", object % 256));
            if !directory.exists() {
                make_dir(&directory, GIT, 0o2755);
            }
            let size = random.between(100, 4_000);
            let name = format!("{:038x}", random.next() as u128 * 7919 + object as u128);
            write_file(&mut random, &directory.join(name), size, GIT, 0o444);
            count(size);
            budget = budget.saturating_sub(size);
        }
        write_file(&mut random, &repo.join("HEAD"), 23, GIT, 0o644);
        count(23);
    }
    // PostgreSQL: 35%, 1 GiB segment files and many small relation files.
    let base = data.join("postgresql/data/base/16384");
    make_dir(&data.join("postgresql"), PSQL, 0o700);
    make_dir(&data.join("postgresql/data"), PSQL, 0o700);
    make_dir(&data.join("postgresql/data/base"), PSQL, 0o700);
    make_dir(&base, PSQL, 0o700);
    let mut budget = size * 35 / 100;
    let small = (budget / 3).min(200 << 20);
    let mut relation = 16_400;
    let mut small_left = small;
    while small_left > 0 {
        relation += 1;
        let size = random.between(8_192, 65_536).min(small_left).max(1);
        write_file(
            &mut random,
            &base.join(relation.to_string()),
            size,
            PSQL,
            0o600,
        );
        count(size);
        small_left = small_left.saturating_sub(size);
    }
    budget -= small;
    let mut segment = 0;
    while budget > 0 {
        let size = budget.min(1 << 30);
        let name = if segment == 0 {
            "16384".to_string()
        } else {
            format!("16384.{segment}")
        };
        write_file(&mut random, &base.join(name), size, PSQL, 0o600);
        count(size);
        budget -= size;
        segment += 1;
    }
    // Uploads: 20%, tens of thousands of small files.
    let uploads = data.join("gitlab-rails/uploads/@hashed");
    make_dir(&data.join("gitlab-rails"), (0, 0), 0o755);
    let mut budget = size * 20 / 100;
    let mut upload = 0u64;
    while budget > 0 {
        upload += 1;
        let directory = uploads.join(format!("{:02x}/{:02x}", upload % 256, upload / 256 % 256));
        if !directory.exists() {
            make_dir(&directory, GIT, 0o700);
        }
        let size = random.between(1_000, 20_000).min(budget).max(1);
        write_file(
            &mut random,
            &directory.join(format!("{upload:016x}.png")),
            size,
            GIT,
            0o644,
        );
        count(size);
        budget = budget.saturating_sub(size);
    }
    // Logs: 5%.
    let logs = volumes.join("log");
    for service in ["gitlab-rails", "gitaly", "nginx", "postgresql"] {
        make_dir(&logs.join(service), (0, 0), 0o755);
        let size = (size * 5 / 100 / 4).max(1);
        write_file(
            &mut random,
            &logs.join(service).join("current"),
            size,
            (0, 0),
            0o644,
        );
        count(size);
    }
    (files, bytes)
}

/// Makes the stand-in append to every hundredth file of the data volume as
/// it stops (after a backup's first pass, before its second); returns how
/// many files that is.
pub(crate) fn write_on_stop(volumes: &Path, script: &Path) -> usize {
    let data = volumes.join("data");
    let mut files = regular_files(&data);
    files.retain(|path| !path.starts_with(data.join("postgresql")));
    let chosen: Vec<String> = files
        .iter()
        .step_by(100)
        .map(|path| path.strip_prefix(&data).unwrap().display().to_string())
        .collect();
    fs::write(
        volumes.join("config/standin-on-stop.list"),
        chosen.join("\n") + "\n",
    )
    .unwrap();
    fs::write(
        script,
        "while read -r path; do echo 'written while stopping' >> \"$path\"; done < /etc/gitlab/standin-on-stop.list\n",
    )
    .unwrap();
    chosen.len()
}

/// The regular files under `root`, sorted.
pub(crate) fn regular_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(directory) = stack.pop() {
        for entry in fs::read_dir(&directory).unwrap().flatten() {
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

/// The regular files of the data volume `data` but the stand-in's own
/// database (its WAL, segments and catalog, which it checks at start: a
/// page of random bytes there is a torn database, and GitLab answers 503
/// until a restore waits its 30 minutes out); the generated relation
/// files beside it, in `base/16384`, stay.
pub(crate) fn changeable_files(data: &Path) -> Vec<PathBuf> {
    let database = data.join("postgresql/data");
    let generated = database.join("base/16384");
    let mut files = regular_files(data);
    files.retain(|path| !path.starts_with(&database) || path.starts_with(&generated));
    files
}

/// Rewrites about 1% of the files (the content of each changes, its size stays).
pub(crate) fn change_one_percent(root: &Path, seed: u64) -> usize {
    let mut random = Random(seed);
    let files = changeable_files(root);
    let wanted = (files.len() / 100).max(1);
    let mut changed = 0;
    for _ in 0..wanted {
        let path = &files[(random.next() % files.len() as u64) as usize];
        let metadata = fs::metadata(path).unwrap();
        // Big segment files change in place, as PostgreSQL writes pages.
        let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
        let mut page = vec![0u8; 8_192.min(metadata.len() as usize)];
        random.fill(&mut page);
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0)).unwrap();
        file.write_all(&page).unwrap();
        changed += 1;
    }
    changed
}

// ------------------------------------------------------------------ running

/// Fills `volumes` with `count` small files (200 B to 8 KiB) laid out as a
/// GitLab host keeps them: loose objects (45%), uploads (20%), CI artifacts
/// (15%), LFS objects (10%), PostgreSQL relation files (10%).
pub(crate) fn generate_files(volumes: &Path, count: u64, seed: u64) -> (u64, u64) {
    let mut random = Random(seed);
    let data = volumes.join("data");
    let (mut files, mut bytes) = (0u64, 0u64);
    make_dir(&volumes.join("config"), (0, 0), 0o775);
    write_file(
        &mut random,
        &volumes.join("config/gitlab-secrets.json"),
        2_000,
        (0, 0),
        0o600,
    );
    files += 1;
    bytes += 2_000;
    for service in ["gitlab-rails", "gitaly", "nginx", "postgresql"] {
        make_dir(&volumes.join("log").join(service), (0, 0), 0o755);
        write_file(
            &mut random,
            &volumes.join("log").join(service).join("current"),
            100_000,
            (0, 0),
            0o644,
        );
        files += 1;
        bytes += 100_000;
    }
    make_dir(&data.join("git-data"), GIT, 0o2770);
    make_dir(&data.join("git-data/repositories"), GIT, 0o2770);
    make_dir(&data.join("gitlab-rails"), (0, 0), 0o755);
    make_dir(&data.join("gitlab-rails/shared"), GIT, 0o751);
    make_dir(&data.join("postgresql"), PSQL, 0o700);
    make_dir(&data.join("postgresql/data/base/16384"), PSQL, 0o700);
    let mut made = std::collections::HashSet::new();
    let mut directory = |path: PathBuf, owner: (u32, u32), mode: u32| -> PathBuf {
        if made.insert(path.clone()) {
            make_dir(&path, owner, mode);
        }
        path
    };
    let target = count.saturating_sub(files);
    for index in 0..target {
        let size = random.between(200, 8_192);
        let share = index * 100 / target.max(1);
        let (path, owner, mode) = if share < 45 {
            // Repositories of 2,000 loose objects in 256 fan-out directories.
            let project = index / 2_000;
            let repo = data.join(format!(
                "git-data/repositories/@hashed/{:02x}/{:02x}/{project:064x}.git",
                project % 256,
                project / 256 % 256
            ));
            let fan = directory(
                repo.join(format!("objects/{:02x}", random.next() % 256)),
                GIT,
                0o2755,
            );
            (
                fan.join(format!("{:038x}", index as u128 * 7919)),
                GIT,
                0o444,
            )
        } else if share < 65 {
            // Uploads: a secret directory per file, ten per project.
            let project = index / 10;
            let dir = directory(
                data.join(format!(
                    "gitlab-rails/uploads/@hashed/{:02x}/{:02x}/{project:064x}/{index:032x}",
                    project % 256,
                    project / 256 % 256
                )),
                GIT,
                0o700,
            );
            (dir.join("image.png"), GIT, 0o644)
        } else if share < 80 {
            // CI artifacts: a directory per job.
            let job = index / 3;
            let dir = directory(
                data.join(format!(
                    "gitlab-rails/shared/artifacts/{:02x}/{:02x}/{job:064x}/2026_11_25/{job}",
                    job % 256,
                    job / 256 % 256
                )),
                GIT,
                0o700,
            );
            (dir.join(format!("{index}.zip")), GIT, 0o644)
        } else if share < 90 {
            let dir = directory(
                data.join(format!(
                    "gitlab-rails/shared/lfs-objects/{:02x}/{:02x}",
                    index % 256,
                    index / 256 % 256
                )),
                GIT,
                0o700,
            );
            (dir.join(format!("{index:060x}")), GIT, 0o644)
        } else {
            (
                data.join(format!("postgresql/data/base/16384/{}", 20_000 + index)),
                PSQL,
                0o600,
            )
        };
        write_file(&mut random, &path, size, owner, mode);
        files += 1;
        bytes += size;
    }
    (files, bytes)
}
