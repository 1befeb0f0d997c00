//! The page's Review screen in a headless Chromium: changes ticked and put
//! into prepared versions, the page closed and opened again mid-review, a
//! version renamed, and the prepared versions saved.

use super::*;
use crate::common::plain;

fn lines(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

/// Ticks the changes numbered `numbers`, names the version, puts them in it.
fn put(browser: &Browser, numbers: &[u32], name: &str) {
    for number in numbers {
        browser.click(&format!(
            "#dialog li.change input[data-number=\"{number}\"]"
        ));
    }
    browser.type_into("#version-name", name);
    browser.click("#dialog button[data-action=prepare]");
    browser.wait_text(&format!("#dialog .box[data-version=\"{name}\"]"), name);
}

#[test]
fn the_page_sorts_changes_into_prepared_versions_kept_across_a_closed_page() {
    let server = Server::with_page_users();
    let laptop1 = server.page_machine("alice", "laptop-1");
    let report = laptop1.folder("Report");
    write(&report, "intro.txt", &lines(30));
    write(&report, "budget.txt", &lines(20));
    laptop1.run(&["new", "Report"]).expect_code(0);
    let intro = lines(30)
        .replace("line 2\n", "line two, reworded\n")
        .replace("line 25\n", "line 25, typo fixed\n");
    let budget = lines(20).replace("line 10\n", "line 10: 4,200 euros\n");
    write(&report, "intro.txt", &intro);
    write(&report, "budget.txt", &budget);
    write(&report, "notes.txt", "new notes\n");

    let page = laptop1.page();
    let browser = Browser::start();
    browser.go(&page.url);
    let report_card = card("alice/report");
    browser.wait_text(&format!("{report_card} .state"), "Changes not saved");
    browser.click(&format!("{report_card} button[data-action=review]"));
    browser.wait_text(
        "#dialog li.change[data-number=\"3\"]",
        "intro.txt, part 2 of 2",
    );
    let shown = browser
        .text("#dialog li.change[data-number=\"1\"]")
        .unwrap();
    assert!(
        shown.contains("budget.txt, part 1 of 1")
            && shown.contains("- line 10")
            && shown.contains("+ line 10: 4,200 euros"),
        "{shown}"
    );
    // A whole file opens as it is now (and, new, has nothing before).
    browser.wait_text(
        "#dialog li.change[data-number=\"4\"]",
        "notes.txt, new file",
    );
    browser.click("#dialog li.change[data-number=\"4\"] button[data-side=now]");
    browser.in_new_tab(|| browser.wait_text("body", "new notes"));
    let opened = |number: u32, side: &str| {
        page.get(&format!(
            "/review-file?folder={}&number={number}&side={side}",
            report.display().to_string().replace('/', "%2F")
        ))
    };
    assert_eq!(opened(4, "now"), (200, "new notes\n".to_string()));
    assert_eq!(opened(4, "before").0, 404);
    assert_eq!(opened(9, "now").0, 404);
    put(&browser, &[1], "the budget figures");
    put(&browser, &[3], "typos");
    browser.wait_text("#dialog", "is in the prepared version \"typos\"");
    plain(&browser.text("body").unwrap());
    browser.screenshot("review");
    assert_eq!(read(&report, "intro.txt"), intro, "the folder is untouched");

    // The page closed and opened again: the prepared versions are there.
    drop(page);
    let page = laptop1.page();
    browser.go(&page.url);
    browser.wait_text(
        &report_card,
        "2 versions prepared ahead, not saved yet: press Review to see them.",
    );
    browser.click(&format!("{report_card} button[data-action=review]"));
    browser.wait_text(
        "#dialog .box[data-version=\"typos\"]",
        "intro.txt, part 2 of 2",
    );
    let boxes = browser.script(
        "return [...document.querySelectorAll('#dialog .box')].map(b => b.dataset.version);",
        json!([]),
    );
    assert_eq!(boxes, json!(["the budget figures", "typos"]));
    browser.wait_text(
        "#dialog li.change[data-number=\"1\"]",
        "in \"the budget figures\"",
    );

    browser.click("#dialog .box[data-version=\"typos\"] button[data-action=rename]");
    browser.script(
        "document.querySelector('#dialog input.rename').value = arguments[0];",
        json!(["small typos"]),
    );
    browser.click("#dialog .box[data-version=\"typos\"] button[data-action=rename-ok]");
    browser.wait_text("#dialog .box[data-version=\"small typos\"]", "small typos");
    browser.script(
        "document.querySelector('#dialog .actions').scrollIntoView();",
        json!([]),
    );
    browser.screenshot("prepared-versions");

    browser.click("#dialog button[data-action=save-prepared]");
    browser.wait_text("#dialog", "Saved the version \"small typos\"");
    plain(&browser.text("body").unwrap());
    assert_eq!(read(&report, "budget.txt"), budget);
    assert_eq!(
        read(&report, "intro.txt"),
        lines(30).replace("line 25\n", "line 25, typo fixed\n")
    );
    let asides: Vec<PathBuf> = std::fs::read_dir(&laptop1.documents)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("Report (copy "))
        .collect();
    assert_eq!(asides.len(), 1);
    assert_eq!(
        read(&asides[0], "intro.txt"),
        intro,
        "what was left out is kept aside"
    );
}
