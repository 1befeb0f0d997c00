//! The person's language: every sentence the client shows comes from the
//! Fluent catalogues in `i18n/<lang>/*.ftl`, embedded in the binary, French
//! or English, English when a sentence is missing.
//!
//! The terminal's language is chosen once, from the locale (`LC_ALL`, then
//! `LC_MESSAGES`, then `LANG`: the order the C library itself follows); the
//! page's, at each request, from the browser's `Accept-Language`.

use std::cell::Cell;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentResource, FluentValue};

pub use fluent_bundle::FluentArgs;
use unic_langid::LanguageIdentifier;

/// The languages the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English, the fallback for any other language.
    En,
    /// French.
    Fr,
}

/// The catalogues, file by file, for each language.
const CATALOGUES: [(Lang, &[&str]); 2] = [
    (
        Lang::En,
        &[
            include_str!("../../i18n/en/terminal.ftl"),
            include_str!("../../i18n/en/actions.ftl"),
            include_str!("../../i18n/en/page.ftl"),
            include_str!("../../i18n/en/help.ftl"),
        ],
    ),
    (
        Lang::Fr,
        &[
            include_str!("../../i18n/fr/terminal.ftl"),
            include_str!("../../i18n/fr/actions.ftl"),
            include_str!("../../i18n/fr/page.ftl"),
            include_str!("../../i18n/fr/help.ftl"),
        ],
    ),
];

static CHOSEN: OnceLock<Lang> = OnceLock::new();

thread_local! {
    // The page's request being answered on this thread, in its browser's language.
    static HERE: Cell<Option<Lang>> = const { Cell::new(None) };
}
static BUNDLES: OnceLock<Vec<(Lang, FluentBundle<FluentResource>)>> = OnceLock::new();

impl Lang {
    /// The language of a locale name (`fr_FR.UTF-8`, `fr`, `en_GB`, `C`).
    pub fn of_locale(locale: &str) -> Lang {
        if locale.trim().to_ascii_lowercase().starts_with("fr") {
            Lang::Fr
        } else {
            Lang::En
        }
    }

    /// The language the person's environment asks for: the first of
    /// `LC_ALL`, `LC_MESSAGES`, `LANG` that is set and not empty.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|name| get(name))
            .find(|value| !value.is_empty())
            .map(|value| Lang::of_locale(&value))
            .unwrap_or(Lang::En)
    }

    /// The language a browser's `Accept-Language` prefers among ours: the
    /// highest `q` wins, the first listed among equals; English when none.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = if tag == "fr" || tag.starts_with("fr-") {
                Lang::Fr
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, lang)| lang).unwrap_or(Lang::En)
    }

    /// The language's tag, as HTML's `lang` takes it.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }
}

/// Chooses the terminal's language from the environment; call it once, in
/// `main`. Without it, the client speaks English.
pub fn init_from_env() {
    let _ = CHOSEN.set(Lang::from_env(|name| std::env::var(name).ok()));
}

/// The language chosen for this thread's work: the page's request's, or the process's.
pub fn current() -> Lang {
    HERE.with(Cell::get)
        .or_else(|| CHOSEN.get().copied())
        .unwrap_or(Lang::En)
}

/// Runs `work` speaking `lang` on this thread (a page's request, answered
/// in its browser's language while the terminal keeps its own).
pub fn scoped<T>(lang: Lang, work: impl FnOnce() -> T) -> T {
    let before = HERE.with(|here| here.replace(Some(lang)));
    let out = work();
    HERE.with(|here| here.set(before));
    out
}

fn bundles() -> &'static [(Lang, FluentBundle<FluentResource>)] {
    BUNDLES.get_or_init(|| {
        CATALOGUES
            .iter()
            .map(|(lang, files)| {
                let id: LanguageIdentifier = lang.tag().parse().expect("a valid tag");
                let mut bundle = FluentBundle::new_concurrent(vec![id]);
                // Isolation marks would reach the terminal as invisible characters.
                bundle.set_use_isolating(false);
                for text in *files {
                    let resource = FluentResource::try_new(text.to_string())
                        .expect("the catalogues parse (a unit test checks it)");
                    bundle
                        .add_resource(resource)
                        .expect("no key twice (a unit test checks it)");
                }
                (*lang, bundle)
            })
            .collect()
    })
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    &bundles()
        .iter()
        .find(|(l, _)| *l == lang)
        .expect("every language")
        .1
}

/// The sentence `key` in `lang`, with `args`; in English if `lang` lacks it,
/// and the key itself if English does too (a unit test keeps that from happening).
pub fn text_in(lang: Lang, key: &str, args: Option<&FluentArgs>) -> String {
    for lang in [lang, Lang::En] {
        let bundle = bundle(lang);
        if let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) {
            let mut errors = vec![];
            return bundle
                .format_pattern(pattern, args, &mut errors)
                .into_owned();
        }
    }
    key.to_string()
}

/// The sentence `key` in the process's language.
pub fn text(key: &str, args: Option<&FluentArgs>) -> String {
    text_in(current(), key, args)
}

/// A value for a sentence's variable: a number (for the plural) or words.
pub fn value<'a>(v: impl Into<FluentValue<'a>>) -> FluentValue<'a> {
    v.into()
}

/// The page's sentences (the keys starting with `page-`) in `lang`, each
/// with its variables left as `{name}` for the page's script to fill in.
pub fn page_catalogue(lang: Lang) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (l, files) in CATALOGUES.iter() {
        if *l != lang {
            continue;
        }
        for text in *files {
            let resource = fluent_syntax::parser::parse(*text).expect("the catalogues parse");
            for entry in &resource.body {
                let fluent_syntax::ast::Entry::Message(message) = entry else {
                    continue;
                };
                let key = message.id.name;
                if !key.starts_with("page-") {
                    continue;
                }
                let mut args = FluentArgs::new();
                if let Some(value) = &message.value {
                    for name in vars::of_pattern(value) {
                        let slot = format!("{{{name}}}");
                        args.set(name, slot);
                    }
                }
                out.insert(key.to_string(), text_in(lang, key, Some(&args)).into());
            }
        }
    }
    out
}

/// A sentence of the catalogues in the process's language:
/// `tr!("saved-version", files = n)`.
#[macro_export]
macro_rules! tr {
    ($key:expr) => {
        $crate::lang::text($key, None)
    };
    ($key:expr, $($name:ident = $value:expr),+ $(,)?) => {{
        let mut args = $crate::lang::FluentArgs::new();
        $( args.set(stringify!($name), $crate::lang::value($value)); )+
        $crate::lang::text($key, Some(&args))
    }};
}

#[cfg(test)]
mod tests;
mod vars;
