//! The catalogues are whole in both languages, and the language is chosen as the person expects.

use std::collections::BTreeSet;

use fluent_syntax::ast::Entry;

use super::*;

/// Each message of a language: its key and the variables it uses.
fn messages(lang: Lang) -> Vec<(String, BTreeSet<String>)> {
    let (_, files) = CATALOGUES.iter().find(|(l, _)| *l == lang).unwrap();
    let mut all = vec![];
    for text in *files {
        let resource = fluent_syntax::parser::parse(*text).expect("the catalogue parses");
        for entry in resource.body {
            match entry {
                Entry::Message(message) => {
                    let used = message
                        .value
                        .as_ref()
                        .map(super::vars::of_pattern)
                        .unwrap_or_default();
                    all.push((message.id.name.to_string(), used));
                }
                Entry::Junk { content } => panic!("{lang:?}: unreadable: {content}"),
                _ => {}
            }
        }
    }
    all
}

#[test]
fn every_sentence_exists_in_both_languages_with_the_same_variables() {
    let en = messages(Lang::En);
    let fr = messages(Lang::Fr);
    for (lang, list) in [(Lang::En, &en), (Lang::Fr, &fr)] {
        let mut seen = BTreeSet::new();
        for (key, _) in list {
            assert!(seen.insert(key), "{lang:?}: {key} twice");
        }
    }
    let en_keys: BTreeSet<_> = en.iter().map(|(k, _)| k).collect();
    let fr_keys: BTreeSet<_> = fr.iter().map(|(k, _)| k).collect();
    let missing_fr: Vec<_> = en_keys.difference(&fr_keys).collect();
    let missing_en: Vec<_> = fr_keys.difference(&en_keys).collect();
    assert!(missing_fr.is_empty(), "missing in French: {missing_fr:?}");
    assert!(missing_en.is_empty(), "missing in English: {missing_en:?}");
    for (key, used) in &en {
        let (_, french) = fr.iter().find(|(k, _)| k == key).unwrap();
        assert_eq!(used, french, "{key}: not the same variables");
    }
    // Every sentence formats without an error in both.
    for (key, used) in &en {
        let mut args = FluentArgs::new();
        for name in used {
            args.set(name.as_str(), 2);
        }
        for lang in [Lang::En, Lang::Fr] {
            let bundle = bundle(lang);
            let pattern = bundle.get_message(key).and_then(|m| m.value()).unwrap();
            let mut errors = vec![];
            let _ = bundle.format_pattern(pattern, Some(&args), &mut errors);
            assert!(errors.is_empty(), "{lang:?} {key}: {errors:?}");
        }
    }
}

#[test]
fn the_language_comes_from_the_locale_in_the_c_library_order() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(Lang::from_env(env(&[])), Lang::En);
    assert_eq!(Lang::from_env(env(&[("LANG", "fr_FR.UTF-8")])), Lang::Fr);
    assert_eq!(Lang::from_env(env(&[("LANG", "fr_CA")])), Lang::Fr);
    assert_eq!(Lang::from_env(env(&[("LANG", "de_DE.UTF-8")])), Lang::En);
    assert_eq!(Lang::from_env(env(&[("LANG", "C")])), Lang::En);
    assert_eq!(
        Lang::from_env(env(&[("LANG", "fr_FR.UTF-8"), ("LC_MESSAGES", "en_US")])),
        Lang::En
    );
    assert_eq!(
        Lang::from_env(env(&[("LC_MESSAGES", "en_US"), ("LC_ALL", "fr_BE")])),
        Lang::Fr
    );
    // An empty variable is as if unset.
    assert_eq!(
        Lang::from_env(env(&[("LC_ALL", ""), ("LANG", "fr_FR.UTF-8")])),
        Lang::Fr
    );
}

#[test]
fn the_page_language_comes_from_accept_language() {
    assert_eq!(Lang::from_accept_language(""), Lang::En);
    assert_eq!(
        Lang::from_accept_language("fr-FR,fr;q=0.9,en;q=0.8"),
        Lang::Fr
    );
    assert_eq!(
        Lang::from_accept_language("en-US,en;q=0.9,fr;q=0.8"),
        Lang::En
    );
    assert_eq!(Lang::from_accept_language("de-DE,fr;q=0.5"), Lang::Fr);
    assert_eq!(Lang::from_accept_language("de-DE,es"), Lang::En);
    assert_eq!(Lang::from_accept_language("en;q=0.4, fr;q=0.7"), Lang::Fr);
    assert_eq!(Lang::from_accept_language("fr;q=0, en"), Lang::En);
    assert_eq!(Lang::from_accept_language("*"), Lang::En);
}

#[test]
fn numbers_choose_the_plural_and_variables_are_filled_in() {
    let say = |lang, n: usize| {
        let mut args = FluentArgs::new();
        args.set("files", n);
        text_in(lang, "saved-version", Some(&args))
    };
    assert_eq!(say(Lang::En, 1), "Saved a new version (1 file changed).");
    assert_eq!(say(Lang::En, 3), "Saved a new version (3 files changed).");
    assert_eq!(
        say(Lang::Fr, 1),
        "Nouvelle version enregistrée (1 fichier modifié)."
    );
    assert_eq!(
        say(Lang::Fr, 3),
        "Nouvelle version enregistrée (3 fichiers modifiés)."
    );
    // French counts nought as one.
    assert_eq!(
        say(Lang::Fr, 0),
        "Nouvelle version enregistrée (0 fichier modifié)."
    );
    let mut args = FluentArgs::new();
    args.set("machine", "laptop-1");
    args.set("since", "14:05");
    assert_eq!(
        text_in(Lang::Fr, "your-changes-since", Some(&args)),
        "vos modifications sur laptop-1 depuis 14:05"
    );
    // No invisible isolation marks around the variables.
    assert!(text_in(Lang::En, "your-changes-since", Some(&args)).is_ascii());
    // A key no catalogue has shows as itself rather than as nothing.
    assert_eq!(text_in(Lang::Fr, "no-such-key", None), "no-such-key");
}

#[test]
fn the_page_gets_its_sentences_with_their_variables_left_to_fill() {
    for lang in [Lang::En, Lang::Fr] {
        let words = page_catalogue(lang);
        assert!(words.len() > 40, "{lang:?}");
        assert!(words.keys().all(|k| k.starts_with("page-")));
    }
    let fr = page_catalogue(Lang::Fr);
    assert_eq!(fr["page-title"], "Vos dossiers");
    assert_eq!(fr["page-resolve-title"], "Réunir : {name}");
    assert_eq!(page_catalogue(Lang::En)["page-more"], "and {count} more");
}

#[test]
fn a_page_request_speaks_its_own_language_on_its_thread() {
    assert_eq!(text("sent", None), text_in(Lang::En, "sent", None));
    let french = scoped(Lang::Fr, || text("sent", None));
    assert_eq!(
        french,
        "Envoyé : le serveur a toutes les versions de ce dossier."
    );
    assert_eq!(current(), Lang::En);
}
