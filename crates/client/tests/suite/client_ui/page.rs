//! The page in a headless Chromium: saving, syncing, resolving, discarding, going on without changes.

use super::*;
use crate::common::{contents, plain};

#[test]
fn the_page_saves_syncs_and_a_refused_get_names_the_other_machine() {
    let server = Server::with_page_users();
    let laptop1 = server.page_machine("alice", "laptop-1");
    let laptop2 = server.page_machine("alice", "laptop-2");
    let report = laptop1.folder("Report");
    write(&report, "plan.txt", "first plan\n");
    write(&report, "notes/monday.txt", "monday\n");
    laptop1.run(&["new", "Report"]).expect_code(0);
    write(&laptop1.folder("Slides"), "talk.txt", "the talk\n");
    laptop1.run(&["new", "Slides"]).expect_code(0);

    let page1 = laptop1.page();
    // Without the key, or with another, nothing of the person's is served
    // (the page's own assets are, and hold nothing).
    let origin = page1.origin().to_string();
    assert_eq!(http_get(&format!("{origin}/api/state")).0, 403);
    assert_eq!(
        http_get(&format!("{origin}/api/state?t={}", page1.key())).0,
        403,
        "the key is not taken from an address"
    );
    let mut wrong = agent()
        .get(format!("{origin}/api/state"))
        .header("X-Girofle-Key", "0123456789abcdef0123456789abcdef")
        .call()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    let _ = wrong.body_mut().read_to_string();
    assert_eq!(page1.get("/api/state").0, 200);
    let (status, page) = http_get(&format!("{origin}/"));
    assert!(!page.contains(page1.key()), "the page's key is not in it");
    assert_eq!(status, 200);
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "every asset comes from the program itself:\n{page}"
    );

    // Without --no-browser, xdg-open is handed a file of the person's that
    // leads to the page, not the address (a command line is public).
    let tools = tempfile::tempdir().unwrap();
    let fake = tools.path().join("xdg-open");
    std::fs::write(
        &fake,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$(dirname \"$0\")/opened.tmp\"\n\
         mv \"$(dirname \"$0\")/opened.tmp\" \"$(dirname \"$0\")/opened\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        tools.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut opened_page = laptop1
        .command(&laptop1.documents)
        .arg("ui")
        .env("PATH", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(opened_page.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !tools.path().join("opened").exists() {
        assert!(Instant::now() < deadline, "xdg-open was not run");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = opened_page.kill();
    let _ = opened_page.wait();
    let handed = std::fs::read_to_string(tools.path().join("opened")).unwrap();
    let token = line.trim().split('#').nth(1).unwrap().to_string();
    assert!(!handed.contains(&token), "the key is not on a command line");
    let opener = PathBuf::from(handed.trim());
    assert!(
        read(opener.parent().unwrap(), "page.html").contains(line.trim()),
        "the file leads to the page"
    );
    assert_eq!(
        std::fs::metadata(&opener).unwrap().permissions().mode() & 0o077,
        0,
        "the file is the person's alone"
    );

    let browser = Browser::start();
    browser.go(&page1.url);
    let report_card = card("alice/report");
    let state = format!("{report_card} .state");
    browser.wait_text(&state, "All saved and sent");
    browser.wait_text("#who", "alice on laptop-1");
    let slides = format!("{} .state", card("alice/slides"));
    browser.wait_text(&slides, "All saved and sent");
    // Nothing left to send: the tab's title is the page's, no warning above.
    let title = || browser.script("return document.title;", json!([]));
    assert_eq!(title(), json!("Your folders"));
    assert_eq!(browser.text("#unsent"), None);

    // A change on disk shows without a reload, and the server hears of it at
    // once: laptop-2 is refused the folder, naming laptop-1.
    write(&report, "plan.txt", "second plan\n");
    browser.wait_text(&state, "Changes not saved");
    // The tab's title and the top of the page say a folder holds changes
    // the server does not have, so that leaving without sending shows.
    assert_eq!(title(), json!("(1) not sent: Your folders"));
    assert_eq!(
        browser.text("#unsent").as_deref(),
        Some(
            "Folders with changes not sent to the server yet: 1. \
             Press each one's highlighted button (Save, then Sync) before you leave."
        )
    );
    let shown = browser.wait_text(&report_card, "changed: plan.txt");
    assert!(
        shown.contains("1 file changed since the last save."),
        "{shown}"
    );
    plain(&browser.text("body").unwrap());
    assert_eq!(
        browser.text(&slides).as_deref(),
        Some("All saved and sent"),
        "only the folder that changed"
    );
    browser.screenshot("folders");
    let refused = laptop2.run(&["get", "report"]).expect_code(1);
    assert!(
        refused.stderr.contains("your changes on laptop-1 since "),
        "{}",
        refused.stderr
    );

    // Save.
    browser.click(&format!("{report_card} button[data-action=save]"));
    browser.wait_text("#messages", "Saved a new version (1 file changed).");
    browser.wait_text(&state, "Saved but not sent");
    browser.wait_text(&report_card, "1 saved version not sent to the server yet.");
    let status = laptop1.run_in(&report, &["status"]).expect_code(0);
    assert!(
        status.stdout.contains("No unsaved changes.")
            && status.stdout.contains("1 saved version not sent"),
        "{}",
        status.stdout
    );

    // On laptop-2's page, Get a folder is refused, naming laptop-1.
    let page2 = laptop2.page();
    browser.go(&page2.url);
    browser.wait_text("#folders", "None of your folders is on this machine yet");
    browser.click("#get-button");
    let get = "#dialog tr[data-folder=\"alice/report\"] button[data-action=get]";
    browser.click(get);
    let refusal = browser.wait_text("#dialog .error", "changes on laptop-1 since ");
    assert!(
        refusal.contains("were never sent; sync there first"),
        "{refusal}"
    );
    browser.wait_text("#dialog", "Go on without them");
    plain(&browser.text("body").unwrap());
    browser.screenshot("get-refused");
    assert!(!laptop2.folder("Report").exists(), "nothing was brought");

    // Sync on laptop-1's page.
    browser.go(&page1.url);
    browser.wait_text(&state, "Saved but not sent");
    browser.click(&format!("{report_card} button[data-action=sync]"));
    browser.wait_text("#messages", "Sent: the server has every version");
    browser.wait_text(&state, "All saved and sent");
    plain(&browser.text("body").unwrap());

    // Now laptop-2's page gets it.
    browser.go(&page2.url);
    browser.click("#get-button");
    browser.click(get);
    browser.wait_text("#messages", "alice/report is here");
    browser.wait_text(&state, "All saved and sent");
    assert_eq!(contents(&laptop2.folder("Report")), contents(&report));
    assert_eq!(read(&laptop2.folder("Report"), "plan.txt"), "second plan\n");

    // The server has newer versions: a page opened afterwards says so, and
    // Sync brings them here.
    write(&report, "plan.txt", "third plan\n");
    laptop1.run_in(&report, &["sync"]).expect_code(0);
    drop(page2);
    let page2 = laptop2.page();
    browser.go(&page2.url);
    browser.wait_text(&state, "The server has newer versions");
    browser.wait_text(&report_card, "1 newer version from your other machines");
    browser.click(&format!("{report_card} button[data-action=sync]"));
    browser.wait_text("#messages", "Brought in 1 new version from the server.");
    browser.wait_text(&state, "All saved and sent");
    assert_eq!(read(&laptop2.folder("Report"), "plan.txt"), "third plan\n");

    // Share, from laptop-2's page: bob may then get it.
    browser.click(&format!("{report_card} button[data-action=share]"));
    browser.type_into("#person", "bob");
    browser.click("#dialog button.confirm");
    browser.wait_text(
        "#dialog .said",
        "bob may now get alice/report and send versions to it.",
    );
    browser.screenshot("share");
    let desk = server.page_machine("bob", "desk");
    assert_eq!(
        desk.run(&["get"]).expect_code(0).stdout.trim(),
        "alice/report"
    );
}

#[test]
fn the_page_resolves_file_by_file_and_discards_after_asking() {
    let server = Server::with_page_users();
    let laptop1 = server.page_machine("alice", "laptop-1");
    let laptop2 = server.page_machine("alice", "laptop-2");
    let report = laptop1.folder("Report");
    for name in ["x.txt", "y.txt", "z.txt"] {
        write(&report, name, &format!("{name} first\n"));
    }
    laptop1.run(&["new", "Report"]).expect_code(0);
    laptop2.run(&["get", "report"]).expect_code(0);
    let there = laptop2.folder("Report");
    write(&there, "x.txt", "x from laptop-2\n");
    write(&there, "y.txt", "y from laptop-2\n");
    laptop2.run_in(&there, &["sync"]).expect_code(0);
    // Both machines changed x and y.
    write(&report, "x.txt", "x from laptop-1\n");
    write(&report, "y.txt", "y from laptop-1\n");

    let page = laptop1.page();
    let browser = Browser::start();
    browser.go(&page.url);
    let report_card = card("alice/report");
    let state = format!("{report_card} .state");
    browser.wait_text(
        &state,
        "The server has newer versions, and this machine has changes",
    );
    browser.screenshot("both-changed");

    // Resolve: a screen listing exactly the files that differ.
    browser.click(&format!("{report_card} button[data-action=resolve]"));
    browser.wait_text("#dialog tr[data-file=\"x.txt\"]", "x.txt");
    let listed = browser.script(
        "return [...document.querySelectorAll('#dialog tr[data-file]')].map(r => r.dataset.file);",
        json!([]),
    );
    assert_eq!(listed, json!(["x.txt", "y.txt"]));
    let row = |file: &str| format!("#dialog tr[data-file=\"{file}\"]");
    let text = browser.text(&row("x.txt")).unwrap();
    for choice in [
        "Keep mine",
        "Keep the server's",
        "Keep both",
        "Open mine",
        "Open the server's",
    ] {
        assert!(text.contains(choice), "{choice}: {text}");
    }
    let screen = browser.text("#dialog").unwrap();
    plain(&screen);
    assert!(
        screen.contains("Your folder as it was is kept in") && !screen.contains("null"),
        "{screen}"
    );
    browser.screenshot("resolve");
    // Both versions open, each in a tab of its own.
    for (side, text) in [("mine", "x from laptop-1"), ("server", "x from laptop-2")] {
        browser.click(&format!("{} button[data-side={side}]", row("x.txt")));
        browser.in_new_tab(|| browser.wait_text("body", text));
    }
    let file = |name: &str| {
        format!(
            "/file?folder={}&file={name}&side=mine",
            report.display().to_string().replace('/', "%2F")
        )
    };
    assert_eq!(page.get(&file("x.txt")), (200, "x from laptop-1\n".into()));
    assert_eq!(
        page.get(&file("..%2F..%2Fclient.toml")).0,
        404,
        "only files waiting for a choice"
    );

    browser.click(&format!("{} button[data-keep=mine]", row("x.txt")));
    browser.wait_gone(&row("x.txt"));
    browser.click(&format!("{} button[data-keep=both]", row("y.txt")));
    browser.wait_text("#dialog .said", "Every file is chosen");
    plain(&browser.text("body").unwrap());
    let chosen = files(&[
        ("x.txt", "x from laptop-1\n"),
        ("y (from laptop-1).txt", "y from laptop-1\n"),
        ("y.txt", "y from laptop-2\n"),
        ("z.txt", "z.txt first\n"),
    ]);
    assert_eq!(contents(&report), chosen);
    browser.click("#dialog button.cancel");
    browser.wait_gone("#dialog");
    browser.click(&format!("{report_card} button[data-action=sync]"));
    browser.wait_text(&state, "All saved and sent");
    laptop2.run_in(&there, &["sync"]).expect_code(0);
    assert_eq!(contents(&there), chosen);

    // Discard shows what will be thrown away and asks first.
    write(&report, "x.txt", "a mistake\n");
    write(&report, "stray.txt", "stray\n");
    browser.wait_text(&state, "Changes not saved");
    browser.click(&format!("{report_card} button[data-action=discard]"));
    browser.wait_text("#dialog li[data-file=\"x.txt\"]", "changed: x.txt");
    browser.wait_text("#dialog li[data-file=\"stray.txt\"]", "new: stray.txt");
    browser.wait_text("#dialog", "This cannot be undone.");
    plain(&browser.text("body").unwrap());
    browser.screenshot("discard");
    // "No": nothing is thrown away.
    browser.click("#dialog button.cancel");
    browser.wait_gone("#dialog");
    assert_eq!(read(&report, "x.txt"), "a mistake\n");
    assert_eq!(read(&report, "stray.txt"), "stray\n");
    // "Yes": the folder is as last saved, and no copy is left behind.
    let copies_before = copies(&laptop1.documents, "Report (copy ");
    browser.click(&format!("{report_card} button[data-action=discard]"));
    browser.click("#dialog button.confirm");
    browser.wait_text("#messages", "The folder is back at version");
    browser.wait_text(&state, "All saved and sent");
    assert_eq!(contents(&report), chosen);
    assert_eq!(copies(&laptop1.documents, "Report (copy "), copies_before);
    // The folder made anew is watched as the old one was (twice: the first
    // change may be seen along with the discard's own stir).
    write(&report, "after.txt", "after the discard\n");
    browser.wait_text(&state, "Changes not saved");
    browser.wait_text(&report_card, "new: after.txt");
    write(&report, "later.txt", "later still\n");
    browser.wait_text(&report_card, "new: later.txt");
}

#[test]
fn the_page_goes_on_without_changes_never_sent_only_when_asked_and_they_are_kept() {
    let server = Server::with_page_users();
    let laptop1 = server.page_machine("alice", "laptop-1");
    let desk = server.page_machine("bob", "desk");
    let plan = laptop1.folder("Plan");
    write(&plan, "plan.txt", "alice's plan\n");
    laptop1.run(&["new", "Plan"]).expect_code(0);
    laptop1.run(&["share", "Plan", "bob"]).expect_code(0);

    let page1 = laptop1.page();
    let browser = Browser::start();
    browser.go(&page1.url);
    let plan_card = card("alice/plan");
    let state = format!("{plan_card} .state");
    browser.wait_text(&state, "All saved and sent");
    write(&plan, "plan.txt", "alice's second plan\n");
    browser.wait_text(&state, "Changes not saved");

    // bob's page: refused first, naming alice's machine; then he chooses to
    // go on without her changes.
    let page_desk = desk.page();
    browser.go(&page_desk.url);
    browser.click("#get-button");
    browser.click("#dialog tr[data-folder=\"alice/plan\"] button[data-action=get]");
    browser.wait_text("#dialog .error", "alice's changes on laptop-1 since ");
    assert!(
        !desk.folder("Plan").exists(),
        "nothing brought before he chooses"
    );
    browser.click("#dialog button.take-over");
    browser.wait_text("#messages", "Took the folder over");
    browser.wait_text(&state, "All saved and sent");
    plain(&browser.text("body").unwrap());
    assert_eq!(read(&desk.folder("Plan"), "plan.txt"), "alice's plan\n");

    // alice's page, at her next action: her work is kept aside, and the file
    // that differs waits for her choice.
    browser.go(&page1.url);
    browser.click(&format!("{plan_card} button[data-action=save]"));
    browser.wait_text("#messages", "took this folder over");
    browser.wait_text(&state, "Some files wait for your choice");
    plain(&browser.text("body").unwrap());
    let kept: Vec<PathBuf> = std::fs::read_dir(&laptop1.documents)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("Plan (copy "))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(read(&kept[0], "plan.txt"), "alice's second plan\n");
    browser.click(&format!("{plan_card} button[data-action=resolve]"));
    browser.click("#dialog tr[data-file=\"plan.txt\"] button[data-keep=mine]");
    browser.wait_text("#dialog .said", "Every file is chosen");
    assert_eq!(read(&plan, "plan.txt"), "alice's second plan\n");
}

#[test]
fn the_page_shows_a_folder_by_the_name_it_was_given_and_brings_it_under_that_name() {
    // Issue 20 §2: GitLab refuses this name and makes no path of it that a
    // person would recognise; the project's name and path are made for
    // GitLab, and the page shows the folder exactly as it was named.
    let server = Server::with_page_users();
    let laptop1 = server.page_machine("alice", "laptop-1");
    let laptop2 = server.page_machine("alice", "laptop-2");
    let name = "Rapport d'activité (2026)";
    write(&laptop1.folder(name), "plan.txt", "the plan\n");
    laptop1.run(&["new", name]).expect_code(0);
    let path = "alice/rapport-d-activite-2026";

    let page = laptop2.page();
    let browser = Browser::start();
    browser.go(&page.url);
    browser.click("#get-button");
    let row = format!("#dialog tr[data-folder=\"{path}\"]");
    let shown = browser.wait_text(&format!("{row} td.file"), name);
    assert_eq!(shown.trim(), name);
    browser.click(&format!("{row} button[data-action=get]"));
    browser.wait_text("#messages", &format!("{path} is here"));
    assert_eq!(read(&laptop2.folder(name), "plan.txt"), "the plan\n");
    let title = browser.wait_text(&format!("{} h2", card(path)), name);
    assert_eq!(title.trim(), name);
}
