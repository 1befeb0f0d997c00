//! Prepared versions: the person's changes sorted, before anything is saved,
//! into named versions kept in order. A change is a part of a text file or a
//! whole file; each is in at most one prepared version. What each version's
//! files become when saved in order is worked out here too.
//!
//! Pure: values in, values out. Where it is stored and how it is saved is
//! the actions' business.

use serde::{Deserialize, Serialize};

use crate::parts::{self, Misfit, Part};
use crate::tr;

/// A whole file as it is now: its git mode (`100644`, `100755`, `120000`)
/// and the name of its kept content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whole {
    /// `100644` for a file, `100755` for a program, `120000` for a link.
    pub mode: String,
    /// Its content's id, under which a copy of it is kept.
    pub id: String,
}

/// What a change does to its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum What {
    /// One passage of a text file.
    Part(Part),
    /// The whole file: its content now, or `None` when it was removed.
    Whole(Option<Whole>),
}

/// One change since the last version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The file, relative to the folder.
    pub path: String,
    /// The id of its content in the last version, if it was there: a change
    /// is made against that content and applies to it only.
    pub base: Option<String>,
    /// What it does.
    pub what: What,
}

/// A version prepared ahead: a name and the changes it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// The name it is saved under.
    pub name: String,
    /// Its changes, in the order they were put in.
    pub changes: Vec<Change>,
}

/// The prepared versions of a folder, in the order they will be saved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepared {
    /// The versions, first saved first.
    #[serde(default)]
    pub versions: Vec<Version>,
    /// While they are being saved: the newest version they make, so that
    /// a save stopped right after it happened is not offered again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_as: Option<String>,
}

/// Why a request on the prepared versions was refused, in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// What a file becomes in one saved version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Becomes {
    /// This text (the file's mode is kept).
    Text(String),
    /// This whole file, or removed (`None`).
    Whole(Option<Whole>),
}

/// A name as given: trimmed, and not empty.
pub fn clean_name(name: &str) -> Result<String, Refused> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Refused(tr!("prepared-needs-name")));
    }
    if name.contains('\n') || name.contains('\0') {
        return Err(Refused(tr!("prepared-one-line")));
    }
    Ok(name.to_string())
}

impl Prepared {
    /// The position of the version named `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        let name = name.trim();
        self.versions.iter().position(|v| v.name == name)
    }

    /// The name of the version holding `change`, if one does.
    pub fn holder(&self, change: &Change) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.changes.contains(change))
            .map(|v| v.name.as_str())
    }

    /// Puts `changes` into the version `name`, made (last) if new; a change
    /// already in another version moves, and a version left empty by that
    /// is dropped. Returns the names of the versions dropped.
    pub fn put(&mut self, name: &str, changes: &[Change]) -> Result<Vec<String>, Refused> {
        let name = clean_name(name)?;
        if changes.is_empty() {
            return Err(Refused(tr!("prepared-needs-change")));
        }
        let mut emptied = Vec::new();
        for version in self.versions.iter_mut().filter(|v| v.name != name) {
            let before = version.changes.len();
            version.changes.retain(|c| !changes.contains(c));
            if before > 0 && version.changes.is_empty() {
                emptied.push(version.name.clone());
            }
        }
        self.versions.retain(|v| !emptied.contains(&v.name));
        let index = match self.find(&name) {
            Some(index) => index,
            None => {
                self.versions.push(Version {
                    name,
                    changes: vec![],
                });
                self.versions.len() - 1
            }
        };
        let version = &mut self.versions[index];
        for change in changes {
            if !version.changes.contains(change) {
                version.changes.push(change.clone());
            }
        }
        Ok(emptied)
    }

    /// Removes the version `name`; the others keep their order. Its changes
    /// are left out again (nothing happens to the folder).
    pub fn remove(&mut self, name: &str) -> Result<Version, Refused> {
        let index = self.find(name).ok_or_else(|| self.unknown(name))?;
        Ok(self.versions.remove(index))
    }

    /// Renames the version `old` to `new`, in its place.
    pub fn rename(&mut self, old: &str, new: &str) -> Result<(), Refused> {
        let index = self.find(old).ok_or_else(|| self.unknown(old))?;
        let new = clean_name(new)?;
        if self.find(&new).is_some_and(|other| other != index) {
            return Err(Refused(tr!("prepared-exists", name = format!("{new:?}"))));
        }
        self.versions[index].name = new;
        Ok(())
    }

    fn unknown(&self, name: &str) -> Refused {
        let names: Vec<String> = self
            .versions
            .iter()
            .map(|v| format!("{:?}", v.name))
            .collect();
        let name = format!("{:?}", name.trim());
        Refused(if names.is_empty() {
            tr!("no-prepared-named-none", name = name)
        } else {
            tr!("no-prepared-named", name = name, names = names.join(", "))
        })
    }

    /// The changes held that are not among `now` (the changes the folder
    /// has now): their file changed since they were put in. With the name
    /// of their version.
    pub fn stale<'a>(&'a self, now: &[Change]) -> Vec<(&'a str, &'a Change)> {
        self.versions
            .iter()
            .flat_map(|v| v.changes.iter().map(move |c| (v.name.as_str(), c)))
            .filter(|(_, c)| !now.contains(c))
            .collect()
    }

    /// What each version's files become, saved in order: each version's
    /// files as the changes of that version and every earlier one make
    /// them, from `old` (a text file's content in the last version).
    pub fn becomes(
        &self,
        old: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<Vec<(String, Becomes)>>, Refused> {
        let mut out = Vec::new();
        for (index, version) in self.versions.iter().enumerate() {
            let mut files: Vec<&str> = version.changes.iter().map(|c| c.path.as_str()).collect();
            files.sort();
            files.dedup();
            let mut step = Vec::new();
            for path in files {
                let so_far: Vec<&Change> = self.versions[..=index]
                    .iter()
                    .flat_map(|v| &v.changes)
                    .filter(|c| c.path == path)
                    .collect();
                let wholes: Vec<&Whole> = so_far.iter().filter_map(|c| whole(c)).collect();
                let removed = so_far.iter().any(|c| c.what == What::Whole(None));
                let parts: Vec<&Part> = so_far
                    .iter()
                    .filter_map(|c| match &c.what {
                        What::Part(part) => Some(part),
                        What::Whole(_) => None,
                    })
                    .collect();
                let becomes = match (parts.is_empty(), wholes.len() + usize::from(removed)) {
                    (true, 1) => Becomes::Whole(wholes.first().map(|w| (*w).clone())),
                    (false, 0) => {
                        let base = old(path)
                            .ok_or_else(|| Refused(tr!("no-longer-as-last", file = path)))?;
                        let text = parts::apply(&base, &parts).map_err(|misfit| match misfit {
                            Misfit::Moved(_) => Refused(tr!("no-longer-as-last", file = path)),
                            Misfit::Overlap(_) => Refused(tr!("parts-overlap", file = path)),
                        })?;
                        Becomes::Text(text)
                    }
                    _ => {
                        return Err(Refused(format!(
                            "{path} is held twice, as a whole and in parts, or as two different \
                             files: remove one of the prepared versions holding it"
                        )));
                    }
                };
                step.push((path.to_string(), becomes));
            }
            out.push(step);
        }
        Ok(out)
    }
}

fn whole(change: &Change) -> Option<&Whole> {
    match &change.what {
        What::Whole(Some(whole)) => Some(whole),
        _ => None,
    }
}

/// Numbers a list of changes as the person sees them: `intro.txt, part 2 of
/// 2`, `logo.png, the whole file`, `old.txt, removed`.
pub fn labels(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|change| {
            let of = changes.iter().filter(|c| c.path == change.path).count();
            let nth = changes
                .iter()
                .filter(|c| c.path == change.path)
                .position(|c| c == change)
                .unwrap_or(0)
                + 1;
            match &change.what {
                What::Part(_) => tr!("label-part", file = change.path.clone(), nth = nth, of = of),
                What::Whole(None) => tr!("label-removed", file = change.path.clone()),
                What::Whole(Some(_)) if change.base.is_none() => {
                    tr!("label-new", file = change.path.clone())
                }
                What::Whole(Some(_)) => tr!("label-whole", file = change.path.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(path: &str, at: usize, new: &str) -> Change {
        Change {
            path: path.into(),
            base: Some(format!("base-of-{path}")),
            what: What::Part(Part {
                at,
                old: vec![format!("line {}\n", at + 1)],
                new: vec![format!("{new}\n")],
            }),
        }
    }

    fn whole_file(path: &str, id: &str) -> Change {
        Change {
            path: path.into(),
            base: None,
            what: What::Whole(Some(Whole {
                mode: "100644".into(),
                id: id.into(),
            })),
        }
    }

    fn names(p: &Prepared) -> Vec<&str> {
        p.versions.iter().map(|v| v.name.as_str()).collect()
    }

    fn text(n: usize) -> String {
        (1..=n).map(|i| format!("line {i}\n")).collect()
    }

    #[test]
    fn a_new_name_is_placed_last() {
        let mut p = Prepared::default();
        p.put("budget", &[part("a.txt", 0, "x")]).unwrap();
        p.put("typos", &[part("a.txt", 9, "y")]).unwrap();
        p.put(" intro ", &[part("b.txt", 0, "z")]).unwrap();
        assert_eq!(names(&p), ["budget", "typos", "intro"]);
    }

    #[test]
    fn putting_into_an_existing_version_adds_to_it() {
        let mut p = Prepared::default();
        p.put("budget", &[part("a.txt", 0, "x")]).unwrap();
        p.put("typos", &[part("a.txt", 9, "y")]).unwrap();
        p.put("budget", &[part("b.txt", 0, "z"), part("a.txt", 0, "x")])
            .unwrap();
        assert_eq!(names(&p), ["budget", "typos"]);
        assert_eq!(p.versions[0].changes.len(), 2);
    }

    #[test]
    fn a_change_moves_and_an_emptied_version_goes() {
        let mut p = Prepared::default();
        p.put("one", &[part("a.txt", 0, "x")]).unwrap();
        p.put("two", &[part("a.txt", 9, "y")]).unwrap();
        let emptied = p.put("two", &[part("a.txt", 0, "x")]).unwrap();
        assert_eq!(emptied, ["one"]);
        assert_eq!(names(&p), ["two"]);
        assert_eq!(p.holder(&part("a.txt", 0, "x")), Some("two"));
        assert_eq!(p.holder(&part("c.txt", 0, "x")), None);
    }

    #[test]
    fn a_name_is_needed_and_a_change_too() {
        let mut p = Prepared::default();
        assert!(p.put("  ", &[part("a.txt", 0, "x")]).is_err());
        assert!(p.put("two\nlines", &[part("a.txt", 0, "x")]).is_err());
        assert!(p.put("empty", &[]).is_err());
        assert_eq!(p, Prepared::default());
    }

    #[test]
    fn removing_keeps_the_order_of_the_others() {
        let mut p = Prepared::default();
        for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
            p.put(name, &[part("f.txt", i * 10, name)]).unwrap();
        }
        let removed = p.remove("b").unwrap();
        assert_eq!(removed.name, "b");
        assert_eq!(names(&p), ["a", "c", "d"]);
        assert!(p.remove("b").is_err());
    }

    #[test]
    fn renaming_keeps_the_place() {
        let mut p = Prepared::default();
        p.put("a", &[part("f.txt", 0, "a")]).unwrap();
        p.put("b", &[part("f.txt", 10, "b")]).unwrap();
        p.rename("a", "the new introduction").unwrap();
        assert_eq!(names(&p), ["the new introduction", "b"]);
        assert!(p.rename("b", "the new introduction").is_err());
        assert!(p.rename("nope", "x").is_err());
        assert!(p.rename("b", " ").is_err());
        p.rename("b", "b").unwrap();
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let mut p = Prepared::default();
        assert!(p.remove("x").unwrap_err().0.contains("there is none"));
        p.put("budget", &[part("f.txt", 0, "a")]).unwrap();
        assert!(p.remove("x").unwrap_err().0.contains("\"budget\""));
    }

    #[test]
    fn changes_no_longer_there_are_stale() {
        let mut p = Prepared::default();
        p.put("a", &[part("f.txt", 0, "a"), whole_file("img.png", "1")])
            .unwrap();
        let now = vec![part("f.txt", 0, "a"), whole_file("img.png", "2")];
        let stale = p.stale(&now);
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].0, "a");
        assert_eq!(stale[0].1.path, "img.png");
    }

    #[test]
    fn each_version_builds_on_the_ones_before() {
        let old = text(30);
        let mut p = Prepared::default();
        p.put("first", &[part("f.txt", 0, "one")]).unwrap();
        p.put("second", &[part("f.txt", 20, "twenty-one")]).unwrap();
        let steps = p.becomes(&|_| Some(old.clone())).unwrap();
        assert_eq!(steps.len(), 2);
        let first = old.replacen("line 1\n", "one\n", 1);
        assert_eq!(
            steps[0],
            vec![("f.txt".into(), Becomes::Text(first.clone()))]
        );
        let second = first.replace("line 21\n", "twenty-one\n");
        assert_eq!(steps[1], vec![("f.txt".into(), Becomes::Text(second))]);
    }

    #[test]
    fn whole_files_and_removals_become_themselves() {
        let mut p = Prepared::default();
        let gone = Change {
            path: "old.txt".into(),
            base: Some("b".into()),
            what: What::Whole(None),
        };
        p.put("v", &[whole_file("img.png", "7"), gone]).unwrap();
        let steps = p.becomes(&|_| None).unwrap();
        assert_eq!(steps[0].len(), 2);
        assert_eq!(steps[0][0].0, "img.png");
        assert!(matches!(&steps[0][0].1, Becomes::Whole(Some(w)) if w.id == "7"));
        assert_eq!(steps[0][1], ("old.txt".into(), Becomes::Whole(None)));
    }

    #[test]
    fn a_text_changed_since_is_refused_when_building() {
        let mut p = Prepared::default();
        p.put("v", &[part("f.txt", 3, "four")]).unwrap();
        let refused = p.becomes(&|_| Some("other\n".into())).unwrap_err();
        assert!(refused.0.contains("f.txt"), "{refused:?}");
        assert!(p.becomes(&|_| None).is_err());
    }

    #[test]
    fn a_file_held_whole_and_in_parts_is_refused() {
        let mut p = Prepared::default();
        p.put("a", &[part("f.txt", 0, "x")]).unwrap();
        p.put("b", &[whole_file("f.txt", "9")]).unwrap();
        assert!(p.becomes(&|_| Some(text(3))).is_err());
    }

    #[test]
    fn labels_number_parts_within_their_file() {
        let changes = vec![
            part("intro.txt", 0, "a"),
            part("intro.txt", 10, "b"),
            whole_file("logo.png", "1"),
            Change {
                path: "old.txt".into(),
                base: Some("b".into()),
                what: What::Whole(None),
            },
            Change {
                path: "plan.odt".into(),
                base: Some("b".into()),
                what: What::Whole(Some(Whole {
                    mode: "100644".into(),
                    id: "2".into(),
                })),
            },
        ];
        assert_eq!(
            labels(&changes),
            [
                "intro.txt, part 1 of 2",
                "intro.txt, part 2 of 2",
                "logo.png, new file",
                "old.txt, removed",
                "plan.odt, the whole file",
            ]
        );
    }

    #[test]
    fn stored_and_read_back() {
        let mut p = Prepared::default();
        p.put("a", &[part("f.txt", 0, "x"), whole_file("i.png", "3")])
            .unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Prepared>(&json).unwrap(), p);
        assert_eq!(
            serde_json::from_str::<Prepared>("{}").unwrap(),
            Prepared::default()
        );
    }
}
