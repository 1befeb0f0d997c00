//! Drives the copy engine's restore path on a synthetic tree, so that its
//! peak memory can be measured (`/usr/bin/time -v`, heaptrack) at several
//! tree sizes without a GitLab container:
//!
//! ```sh
//! memory generate TREE FILES [FLAT]  # the benchmark's layout (benches/girofle/data.rs), tiny files;
//!                                    # FLAT: how many files at most in one directory
//! memory backup TREE BACKUP [PREV]   # a backup of TREE's volumes (MANIFEST included)
//! memory copy BACKUP STAGING         # the restore's staged copy, checked (copy_checked)
//! memory describe TREE TEMP [REF]    # the replaced data's description (describe_to_file)
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use girofle_snapshot::{Copier, copy_checked, describe_to_file};

const VOLUMES: [&str; 3] = ["config", "data", "log"];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |index: usize| PathBuf::from(&args[index]);
    match args.first().map(String::as_str) {
        Some("generate") => generate(
            &arg(1),
            args[2].parse()?,
            args.get(3).map(|flat| flat.parse()).transpose()?,
        ),
        Some("backup") => {
            let tops = VOLUMES
                .iter()
                .map(|volume| (PathBuf::from(volume), arg(1).join(volume)))
                .collect();
            std::fs::create_dir_all(arg(2))?;
            let previous = args.get(3).map(PathBuf::from);
            let mut copier = Copier::new(&arg(2), tops, previous.as_deref());
            let stats = copier.pass()?;
            copier.write_manifest(&[("id".into(), "synthetic".into())])?;
            eprintln!("{stats:?}");
            Ok(())
        }
        Some("copy") => {
            std::fs::create_dir_all(arg(2))?;
            let copy = copy_checked(&arg(1), &VOLUMES, &arg(2), None)
                .map_err(|failure| anyhow::anyhow!("{failure:?}"))?;
            eprintln!(
                "{} entries, {} problems, {:?}",
                copy.verification.entries, copy.verification.problem_count, copy.stats
            );
            Ok(())
        }
        Some("describe") => {
            let reference = args.get(3).map(PathBuf::from);
            let (_, count) = describe_to_file(&arg(1), &arg(2), reference.as_deref())?;
            eprintln!("{count} entries described");
            Ok(())
        }
        _ => anyhow::bail!("usage: see the comment at the top of examples/memory.rs"),
    }
}

/// The layout of `generate_files` in benches/girofle/data.rs (loose
/// objects 45%, uploads 20%, CI artifacts 15%, LFS objects 10%, PostgreSQL
/// relation files 10%, these all in one directory), with files of 64 bytes:
/// memory depends on the number of entries, not on their size. With `flat`,
/// the relation files are spread over directories of at most that many.
fn generate(volumes: &Path, count: u64, flat: Option<u64>) -> anyhow::Result<()> {
    let data = volumes.join("data");
    for service in ["gitlab-rails", "gitaly", "nginx", "postgresql"] {
        let directory = volumes.join("log").join(service);
        std::fs::create_dir_all(&directory)?;
        std::fs::write(directory.join("current"), b"log\n")?;
    }
    std::fs::create_dir_all(volumes.join("config"))?;
    std::fs::write(volumes.join("config/gitlab-secrets.json"), b"{}\n")?;
    let mut made = std::collections::HashSet::new();
    let content = [b'x'; 64];
    for index in 0..count {
        let share = index * 100 / count.max(1);
        let (directory, name) = if share < 45 {
            let project = index / 2_000;
            (
                data.join(format!(
                    "git-data/repositories/@hashed/{:02x}/{:02x}/{project:064x}.git/objects/{:02x}",
                    project % 256,
                    project / 256 % 256,
                    index.wrapping_mul(2_654_435_761) % 256
                )),
                format!("{:038x}", index as u128 * 7919),
            )
        } else if share < 65 {
            let project = index / 10;
            (
                data.join(format!(
                    "gitlab-rails/uploads/@hashed/{:02x}/{:02x}/{project:064x}/{index:032x}",
                    project % 256,
                    project / 256 % 256
                )),
                "image.png".to_string(),
            )
        } else if share < 80 {
            let job = index / 3;
            (
                data.join(format!(
                    "gitlab-rails/shared/artifacts/{:02x}/{:02x}/{job:064x}/2026_11_25/{job}",
                    job % 256,
                    job / 256 % 256
                )),
                format!("{index}.zip"),
            )
        } else if share < 90 {
            (
                data.join(format!(
                    "gitlab-rails/shared/lfs-objects/{:02x}/{:02x}",
                    index % 256,
                    index / 256 % 256
                )),
                format!("{index:060x}"),
            )
        } else {
            let base = data.join("postgresql/data/base/16384");
            (
                match flat {
                    Some(flat) => base.join(format!("{}", index / flat)),
                    None => base,
                },
                format!("{}", 20_000 + index),
            )
        };
        if made.insert(directory.clone()) {
            std::fs::create_dir_all(&directory)?;
        }
        let mut file = std::fs::File::create(directory.join(name))?;
        file.write_all(&content[..(index % 64) as usize])?;
    }
    Ok(())
}
