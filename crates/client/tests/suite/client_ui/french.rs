//! The page in French for a browser that asks for French, while the terminal
//! that started it speaks English: every word of the page, the folder's state
//! and what an action answers.

use super::*;
use crate::common::plain;

fn no_english(text: &str, english: &[String]) {
    plain(text);
    for sentence in english {
        assert!(
            !text.contains(sentence.as_str()),
            "English on the page: {sentence:?} in\n{text}"
        );
    }
}

#[test]
fn the_page_speaks_french_to_a_french_browser() {
    let english = crate::common::english_sentences();
    let server = Server::with_page_users();
    let laptop = server.page_machine("alice", "laptop-1");
    let report = laptop.folder("Rapport");
    write(&report, "plan.txt", "premier plan\n");
    laptop.run(&["new", "Rapport"]).expect_code(0);

    let page = laptop.page();
    // The page's words follow the request's Accept-Language.
    let words = |accept: &str| {
        let mut answer = agent()
            .get(format!("{}/words.js", page.origin()))
            .header("Accept-Language", accept)
            .call()
            .unwrap();
        answer.body_mut().read_to_string().unwrap()
    };
    assert!(words("fr-FR,fr;q=0.9").contains("\"page-title\":\"Vos dossiers\""));
    assert!(words("en-GB,en;q=0.9,fr;q=0.5").contains("\"page-title\":\"Your folders\""));

    let browser = Browser::start_with(&["--lang=fr-FR", "--accept-lang=fr-FR,fr"]);
    browser.go(&page.url);
    let report_card = card("alice/rapport");
    let state = format!("{report_card} .state");
    browser.wait_text(&state, "Tout est enregistré et envoyé");
    browser.wait_text("h1", "Vos dossiers");
    browser.wait_text("#who", "alice sur laptop-1");
    write(&report, "plan.txt", "deuxième plan\n");
    browser.wait_text(&state, "Modifications non enregistrées");
    let shown = browser.wait_text(&report_card, "modifié : plan.txt");
    assert!(
        shown.contains("1 fichier modifié depuis le dernier enregistrement."),
        "{shown}"
    );
    no_english(&browser.text("body").unwrap(), &english);
    browser.screenshot("dossiers");

    browser.click(&format!("{report_card} button[data-action=save]"));
    browser.wait_text(
        "#messages",
        "Nouvelle version enregistrée (1 fichier modifié).",
    );
    browser.wait_text(&state, "Enregistré mais pas envoyé");
    no_english(&browser.text("body").unwrap(), &english);
    browser.click(&format!("{report_card} button[data-action=sync]"));
    browser.wait_text("#messages", "Envoyé : le serveur a toutes les versions");
    browser.wait_text(&state, "Tout est enregistré et envoyé");
    no_english(&browser.text("body").unwrap(), &english);

    // The terminal that started the page keeps its own language.
    let status = laptop.run_in(&report, &["status"]).expect_code(0);
    assert!(
        status.stdout.contains("No unsaved changes."),
        "{}",
        status.stdout
    );
}
