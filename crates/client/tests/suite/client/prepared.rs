//! Prepared versions: changes of several files gone through one by one,
//! sorted into versions prepared ahead, one removed, the rest saved in
//! order; what was left out kept aside and discarded from the folder.

use super::*;

/// `n` numbered lines.
fn lines(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

/// A file no one would call text.
const LOGO: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR first";
const LOGO_NEW: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR second, bigger";

/// No git word reaches the person, the sorting's own words included.
fn plainer(run: &Run) {
    plain(run);
    let text = format!("{}\n{}", run.stdout, run.stderr).to_lowercase();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        assert!(
            ![
                "commit", "commits", "stage", "staged", "hunk", "hunks", "patch", "patches",
                "index", "rebase", "diff", "diffs", "head",
            ]
            .contains(&word),
            "{word:?} shown to the person:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}

/// Where the server's versions are fetched to.
const MAIN: &str = "refs/remotes/server/main";

/// The server's copy of `alice/report`, fetched into a history of its own.
struct OnServer {
    git: girofle_client::git::Git,
    _dir: tempfile::TempDir,
}

impl OnServer {
    fn fetch(server: &Server) -> OnServer {
        let dir = tempfile::tempdir().unwrap();
        let git = girofle_client::git::Git::new(
            &dir.path().join("history"),
            dir.path(),
            "Test",
            "test@example.org",
        )
        .with_token(USERS[0].1);
        git.run(&["init", "--quiet"]).unwrap();
        git.run(&[
            "fetch",
            "--quiet",
            &format!("{}/alice/report.git", server.url),
            "+refs/heads/main:refs/remotes/server/main",
        ])
        .unwrap();
        OnServer { git, _dir: dir }
    }

    /// The names of the versions, oldest first.
    fn names(&self) -> Vec<String> {
        let log = self
            .git
            .run(&["log", "--reverse", "--format=%s", MAIN])
            .unwrap();
        log.lines().map(str::to_string).collect()
    }

    /// A file's bytes in a version (`~1` the one before the newest, `` the newest).
    fn file(&self, version: &str, path: &str) -> Vec<u8> {
        self.git
            .bytes(
                &["cat-file", "blob", &format!("{MAIN}{version}:{path}")],
                None,
            )
            .unwrap()
    }

    /// The files a version holds.
    fn files(&self, version: &str) -> Vec<String> {
        let text = self
            .git
            .run(&["ls-tree", "-r", "--name-only", &format!("{MAIN}{version}")])
            .unwrap();
        text.lines().map(str::to_string).collect()
    }
}

/// A saved folder `Report` with two text files and an image, changed in
/// four places (budget 1 part, intro 2 parts, the image).
fn report_with_changes(machine: &Machine) -> (PathBuf, String, String) {
    let report = machine.folder("Report");
    write(&report, "intro.txt", &lines(30));
    write(&report, "budget.txt", &lines(20));
    std::fs::write(report.join("logo.png"), LOGO).unwrap();
    machine.run(&["new", "Report"]).expect_code(0);
    let intro = lines(30)
        .replace("line 2\n", "line two, reworded\n")
        .replace("line 25\n", "line 25, typo fixed\n");
    let budget = lines(20).replace("line 10\n", "line 10: 4,200 euros\n");
    write(&report, "intro.txt", &intro);
    write(&report, "budget.txt", &budget);
    std::fs::write(report.join("logo.png"), LOGO_NEW).unwrap();
    (report, intro, budget)
}

#[test]
fn three_prepared_versions_one_removed_the_others_saved_in_order_the_rest_kept_aside() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let (report, intro, budget) = report_with_changes(&laptop1);

    let review = laptop1.run_in(&report, &["review"]).expect_code(0);
    plainer(&review);
    let numbered: Vec<&str> = review
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(
        numbered,
        [
            "  1  budget.txt, part 1 of 1",
            "  2  intro.txt, part 1 of 2",
            "  3  intro.txt, part 2 of 2",
            "  4  logo.png, the whole file",
        ],
        "{}",
        review.stdout
    );
    assert!(
        review.stdout.contains("- line 10\n")
            && review.stdout.contains("+ line 10: 4,200 euros\n")
            && review.stdout.contains("  line 9\n"),
        "a part is shown with the lines around it:\n{}",
        review.stdout
    );

    for (name, numbers) in [
        ("the budget figures", &["1"][..]),
        ("the new introduction", &["2", "4"][..]),
        ("typos", &["3"][..]),
    ] {
        let mut args = vec!["prepare", name];
        args.extend(numbers);
        let run = laptop1.run_in(&report, &args).expect_code(0);
        plainer(&run);
    }
    let run = laptop1
        .run_in(&report, &["prepared", "--rename", "typos", "small typos"])
        .expect_code(0);
    plainer(&run);
    let listed = laptop1.run_in(&report, &["prepared"]).expect_code(0);
    plainer(&listed);
    assert_eq!(
        listed.stdout,
        "1. the budget figures\n     budget.txt, part 1 of 1\n\
         2. the new introduction\n     intro.txt, part 1 of 2\n     logo.png, the whole file\n\
         3. small typos\n     intro.txt, part 2 of 2\n"
    );
    let review = laptop1.run_in(&report, &["review"]).expect_code(0);
    assert!(
        review
            .stdout
            .contains("  3  intro.txt, part 2 of 2   (in \"small typos\")"),
        "{}",
        review.stdout
    );
    let status = laptop1.run_in(&report, &["status"]).expect_code(0);
    assert!(
        status.stdout.contains(
            "Prepared ahead, not saved yet (girofle-client prepared): \"the budget figures\", \
             \"the new introduction\", \"small typos\".\n"
        ),
        "{}",
        status.stdout
    );
    // Nothing of the folder changed so far.
    assert_eq!(read(&report, "intro.txt"), intro);
    assert_eq!(read(&report, "budget.txt"), budget);
    assert_eq!(std::fs::read(report.join("logo.png")).unwrap(), LOGO_NEW);

    let run = laptop1
        .run_in(&report, &["prepared", "--remove", "the new introduction"])
        .expect_code(0);
    plainer(&run);
    let listed = laptop1.run_in(&report, &["prepared"]).expect_code(0);
    assert_eq!(
        listed.stdout,
        "1. the budget figures\n     budget.txt, part 1 of 1\n\
         2. small typos\n     intro.txt, part 2 of 2\n"
    );

    let saved = laptop1
        .run_in(&report, &["prepared", "--save"])
        .expect_code(0);
    plainer(&saved);
    assert!(
        saved
            .stderr
            .contains("Saved the version \"the budget figures\"")
            && saved.stderr.contains("Saved the version \"small typos\""),
        "{}",
        saved.stderr
    );
    // The folder holds the saved versions only; what was left out is aside.
    let only_typos = lines(30).replace("line 25\n", "line 25, typo fixed\n");
    assert_eq!(read(&report, "intro.txt"), only_typos);
    assert_eq!(read(&report, "budget.txt"), budget);
    assert_eq!(std::fs::read(report.join("logo.png")).unwrap(), LOGO);
    let asides = names_starting(&laptop1.documents, "Report (copy ");
    assert_eq!(asides.len(), 1, "{asides:?}");
    assert_eq!(read(&asides[0], "intro.txt"), intro);
    assert_eq!(std::fs::read(asides[0].join("logo.png")).unwrap(), LOGO_NEW);
    let status = laptop1.run_in(&report, &["status"]).expect_code(0);
    assert!(
        status.stdout.contains("No unsaved changes."),
        "{}",
        status.stdout
    );
    let listed = laptop1.run_in(&report, &["prepared"]).expect_code(0);
    assert_eq!(listed.stdout, "No prepared version.\n");

    laptop1.run_in(&report, &["sync"]).expect_code(0);
    let on_server = OnServer::fetch(&server);
    let names = on_server.names();
    assert_eq!(
        names[names.len() - 2..],
        ["the budget figures", "small typos"],
        "{names:?}"
    );
    assert_eq!(on_server.file("~1", "budget.txt"), budget.as_bytes());
    assert_eq!(on_server.file("~1", "intro.txt"), lines(30).as_bytes());
    assert_eq!(on_server.file("~1", "logo.png"), LOGO);
    assert_eq!(on_server.file("", "budget.txt"), budget.as_bytes());
    assert_eq!(on_server.file("", "intro.txt"), only_typos.as_bytes());
    assert_eq!(on_server.file("", "logo.png"), LOGO);
    assert_eq!(on_server.files(""), ["budget.txt", "intro.txt", "logo.png"]);
}

#[test]
fn a_stop_before_saving_leaves_the_folder_unchanged_and_the_prepared_versions_kept() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let (report, intro, budget) = report_with_changes(&laptop1);
    laptop1
        .run_in(&report, &["prepare", "budget", "1"])
        .expect_code(0);
    laptop1
        .run_in(&report, &["prepare", "images", "4"])
        .expect_code(0);

    // A save stopped while it waits for the folder (another client holds it).
    let lock = std::fs::File::options()
        .write(true)
        .open(laptop1.home.join(".local/share/girofle/folders.lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut save = laptop1
        .command(&report)
        .args(["prepared", "--save"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        save.try_wait().unwrap().is_none(),
        "the save waits for the folder"
    );
    save.kill().unwrap();
    save.wait().unwrap();
    drop(lock);

    assert_eq!(read(&report, "intro.txt"), intro);
    assert_eq!(read(&report, "budget.txt"), budget);
    assert_eq!(std::fs::read(report.join("logo.png")).unwrap(), LOGO_NEW);
    let listed = laptop1.run_in(&report, &["prepared"]).expect_code(0);
    assert_eq!(
        listed.stdout,
        "1. budget\n     budget.txt, part 1 of 1\n2. images\n     logo.png, the whole file\n"
    );

    // The image changed again meanwhile: its prepared change no longer
    // applies, is said so, and nothing is saved; its content is kept.
    std::fs::write(report.join("logo.png"), b"\x89PNG\0 third").unwrap();
    let listed = laptop1.run_in(&report, &["prepared"]).expect_code(0);
    plainer(&listed);
    assert!(
        listed
            .stdout
            .contains("logo.png, the whole file: no longer applies, the file changed since"),
        "{}",
        listed.stdout
    );
    let refused = laptop1
        .run_in(&report, &["prepared", "--save"])
        .expect_code(1);
    plainer(&refused);
    assert!(
        refused
            .stderr
            .contains("nothing was saved and your folder is unchanged")
            && refused
                .stderr
                .contains("\"images\" (logo.png changed since)"),
        "{}",
        refused.stderr
    );
    assert_eq!(read(&report, "budget.txt"), budget);
    let kept: Vec<Vec<u8>> = std::fs::read_dir(
        laptop1
            .home
            .join(".local/share/girofle/prepared")
            .read_dir()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("kept"),
    )
    .unwrap()
    .map(|e| std::fs::read(e.unwrap().path()).unwrap())
    .collect();
    assert_eq!(kept, [LOGO_NEW.to_vec()], "the prepared image is kept");

    // Removed, the rest saves; the image as it is now is kept aside.
    laptop1
        .run_in(&report, &["prepared", "--remove", "images"])
        .expect_code(0);
    laptop1
        .run_in(&report, &["prepared", "--save"])
        .expect_code(0);
    assert_eq!(std::fs::read(report.join("logo.png")).unwrap(), LOGO);
    assert_eq!(read(&report, "budget.txt"), budget);
    let asides = names_starting(&laptop1.documents, "Report (copy ");
    assert_eq!(
        std::fs::read(asides[0].join("logo.png")).unwrap(),
        b"\x89PNG\0 third"
    );

    // A save stopped right after its versions were made leaves them marked
    // with the newest: they are not offered again. Stopped before, they are.
    let data = laptop1.home.join(".local/share/girofle");
    let kept = std::fs::read_dir(data.join("prepared"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let history = data
        .join("histories")
        .join(format!("{}.git", kept.file_name().to_string_lossy()));
    let head = Command::new("git")
        .arg("--git-dir")
        .arg(&history)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    for (saved_as, listed) in [
        (head.as_str(), "No prepared version.\n"),
        ("0123456789012345678901234567890123456789", "1. budget\n"),
    ] {
        std::fs::write(
            kept.path().join("versions.json"),
            format!(r#"{{"versions":[{{"name":"budget","changes":[]}}],"saved_as":"{saved_as}"}}"#),
        )
        .unwrap();
        let run = laptop1.run_in(&report, &["prepared"]).expect_code(0);
        assert_eq!(run.stdout, listed);
    }
}
