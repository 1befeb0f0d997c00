//! GitLab's own rules for project names and paths, members and topics, objects checked.

use super::*;

/// POSTs a project as Alice from JSON; returns the status and the body.
fn create_json(gitlab: &Instance, body: serde_json::Value) -> (u16, serde_json::Value) {
    let answer = gitlab.api(
        "POST",
        "/projects",
        Some(ALICE),
        Some(("application/json", &body.to_string())),
    );
    (answer.status, answer.json)
}

// GitLab's own examples, from its specs (spec/lib/gitlab/regex_spec.rb,
// spec/lib/gitlab/path_regex_spec.rb), and the folder names of issue 20.
const NAMES_GITLAB_TAKES: [&str; 7] = [
    "gitlab-ce",
    "GitLab CE",
    "100 lines",
    "gitlab.git",
    "Český název",
    "Dash – is this",
    "Gitlab++",
];
const NAMES_GITLAB_REFUSES: [&str; 9] = [
    "?gitlab",
    "Users's something",
    "users/something",
    "Rapport d'activité",
    "Budget (2024)",
    "Q&A",
    "Documents d'équipe",
    "(Invalid Group name)",
    "🫠 melting",
];
const PATHS_GITLAB_TAKES: [&str; 7] = [
    "gitlab-ce",
    "gitlab_git",
    "100px.com",
    "my_project",
    "admin",
    "activity",
    "subgroups",
];
/// With the words GitLab's answer holds for each.
const PATHS_GITLAB_REFUSES: [(&str, &str); 17] = [
    ("?gitlab", "can contain only letters"),
    ("git lab", "can contain only letters"),
    ("gitlab.git", "end in '.git'"),
    (
        "_underscore.js",
        "must not start or end with a special character",
    ),
    (
        "_myproject",
        "must not start or end with a special character",
    ),
    (
        "myproject_",
        "must not start or end with a special character",
    ),
    (
        "_myproject_",
        "must not start or end with a special character",
    ),
    ("blob", "blob is a reserved name"),
    ("Blob", "Blob is a reserved name"),
    ("edit", "edit is a reserved name"),
    ("wikis", "wikis is a reserved name"),
    ("files", "files is a reserved name"),
    ("new", "new is a reserved name"),
    (
        "mr.-smith",
        "must not contain consecutive special characters",
    ),
    (
        "notes__2024",
        "must not contain consecutive special characters",
    ),
    (
        "report-final-.docs",
        "must not contain consecutive special characters",
    ),
    (
        ".well-known",
        "must not start or end with a special character",
    ),
];

#[test]
fn project_names_and_paths_follow_gitlabs_own_rules_and_examples() {
    let gitlab = Instance::start(Some(USERS));
    for (n, name) in NAMES_GITLAB_TAKES.iter().enumerate() {
        let (status, json) = create_json(
            &gitlab,
            serde_json::json!({"name": name, "path": format!("taken-{n}")}),
        );
        assert_eq!(status, 201, "{name:?}: {json}");
        assert_eq!(json["name"], *name);
    }
    let name_rule = "can contain only letters, digits, emoji, '_', '.', '+', dashes, or spaces. \
                     It must start with a letter, digit, emoji, or '_'.";
    for (n, name) in NAMES_GITLAB_REFUSES.iter().enumerate() {
        let (status, json) = create_json(
            &gitlab,
            serde_json::json!({"name": name, "path": format!("refused-{n}")}),
        );
        assert_eq!(
            (status, json),
            (400, serde_json::json!({"message": {"name": [name_rule]}})),
            "{name:?}"
        );
    }
    for path in PATHS_GITLAB_TAKES {
        let (status, json) = create_json(
            &gitlab,
            serde_json::json!({"name": format!("Path {path}"), "path": path}),
        );
        assert_eq!(status, 201, "{path:?}: {json}");
        assert_eq!(json["path"], path);
    }
    for (n, (path, words)) in PATHS_GITLAB_REFUSES.iter().enumerate() {
        let (status, json) = create_json(
            &gitlab,
            serde_json::json!({"name": format!("Refused {n}"), "path": path}),
        );
        assert_eq!(status, 400, "{path:?}: {json}");
        let said = json["message"]["path"].to_string();
        assert!(said.contains(words), "{path:?}: {json}");
        assert!(json["message"].get("name").is_none(), "{path:?}: {json}");
    }
    // Both rules at once, as GitLab lists them.
    let (status, json) = create_json(&gitlab, serde_json::json!({"name": "Q&A", "path": "-qa"}));
    assert_eq!(status, 400);
    assert_eq!(
        json,
        serde_json::json!({"message": {
            "name": [name_rule],
            "path": [
                "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'",
                "must not start or end with a special character and must not contain consecutive special characters."
            ]
        }})
    );
    // A path is taken whatever its case; the name is the project's own.
    let (status, json) = create_json(
        &gitlab,
        serde_json::json!({"name": "Another", "path": "GITLAB-CE"}),
    );
    assert_eq!(
        (status, json),
        (
            400,
            serde_json::json!({"message": {"path": ["has already been taken"]}})
        )
    );
    // Without a path, the name is the path when it may be, else it is
    // parameterized (Projects::CreateService).
    let (status, json) = create_json(&gitlab, serde_json::json!({"name": "Plain"}));
    assert_eq!((status, &json["path"]), (201, &serde_json::json!("Plain")));
    let (status, json) = create_json(&gitlab, serde_json::json!({"name": "Two  words"}));
    assert_eq!(
        (status, &json["path"]),
        (201, &serde_json::json!("two-words"))
    );
    // A description may hold any character; GitLab's JSON writes the
    // control characters escaped (a raw one is no JSON at all).
    let answer = gitlab.api(
        "POST",
        "/projects",
        Some(ALICE),
        Some((
            "application/x-www-form-urlencoded",
            "name=Escaped&path=escaped&description=Evil%1B%5D0%3Bpwned%07",
        )),
    );
    assert_eq!(answer.status, 201, "{}", answer.json);
    assert_eq!(answer.json["description"], "Evil\u{1b}]0;pwned\u{7}");
}

#[test]
fn members_are_raised_topics_keep_their_first_case_and_objects_are_checked() {
    let gitlab = Instance::start(Some(USERS));
    // The first to use a topic sets its case; later uses get it back, and
    // the listing by topic ignores the case.
    let (status, bobs) = create_json(
        &gitlab,
        serde_json::json!({"name": "Alpha", "path": "alpha", "topics": ["Girofle"]}),
    );
    assert_eq!(status, 201, "{bobs}");
    let answer = gitlab.api(
        "POST",
        "/projects",
        Some(BOB),
        Some((
            "application/json",
            r#"{"name":"Beta","path":"beta","topics":["girofle"],"description":"Béta (draft)"}"#,
        )),
    );
    assert_eq!(answer.status, 201, "{}", answer.json);
    assert_eq!(answer.json["topics"], serde_json::json!(["Girofle"]));
    assert_eq!(answer.json["description"], "Béta (draft)");
    // Listed by topic only as stored: GitLab finds the topic by its exact name.
    let listed = gitlab.api("GET", "/projects?topic=Girofle", Some(BOB), None);
    assert_eq!(paths(&listed.json), ["bob/beta"]);
    let listed = gitlab.api("GET", "/projects?topic=girofle", Some(BOB), None);
    assert_eq!(paths(&listed.json), Vec::<String>::new());
    let id = answer.json["id"].as_u64().unwrap();

    // A Developer is raised to Maintainer with PUT, by a Maintainer or Owner only.
    let members = format!("/projects/{id}/members");
    let form = "application/x-www-form-urlencoded";
    let added = gitlab.api(
        "POST",
        &members,
        Some(BOB),
        Some((form, "user_id=1&access_level=30")),
    );
    assert_eq!(added.status, 201, "{}", added.json);
    let again = gitlab.api(
        "POST",
        &members,
        Some(BOB),
        Some((form, "user_id=1&access_level=40")),
    );
    assert_eq!(
        (again.status, &again.json),
        (
            409,
            &serde_json::json!({"message": "Member already exists"})
        )
    );
    let by_developer = gitlab.api(
        "PUT",
        &format!("{members}/1"),
        Some(ALICE),
        Some((form, "access_level=40")),
    );
    assert_eq!(by_developer.status, 403);
    let raised = gitlab.api(
        "PUT",
        &format!("{members}/1"),
        Some(BOB),
        Some((form, "access_level=40")),
    );
    assert_eq!(raised.status, 200, "{}", raised.json);
    assert_eq!(raised.json["access_level"], 40);
    assert_eq!(
        gitlab
            .api("GET", &format!("{members}/1"), Some(BOB), None)
            .json["access_level"],
        40
    );
    let nobody = gitlab.api(
        "PUT",
        &format!("{members}/3"),
        Some(BOB),
        Some((form, "access_level=40")),
    );
    assert_eq!(
        (nobody.status, &nobody.json),
        (404, &serde_json::json!({"message": "404 Member Not Found"}))
    );

    // Objects are checked as Gitaly checks them: a tree holding `.git` is refused.
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("folder");
    make_repository(&folder, 1);
    let script = "blob=$(echo owned | git hash-object -w --stdin)
        inner=$(printf '100644 blob %s\\tconfig\\n' $blob | git mktree)
        tree=$( (git ls-tree HEAD; printf '040000 tree %s\\t.GIT\\n' $inner) | git mktree)
        git commit-tree $tree -p HEAD -m dotgit";
    let output = Command::new("sh")
        .args(["-c", script])
        .current_dir(&folder)
        .env("GIT_AUTHOR_NAME", "bob")
        .env("GIT_AUTHOR_EMAIL", "bob@example.org")
        .env("GIT_COMMITTER_NAME", "bob")
        .env("GIT_COMMITTER_EMAIL", "bob@example.org")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bad = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let url = gitlab.git_url(Some(BOB), "bob/beta");
    let (pushed, said) = git_try(&folder, &["push", &url, "main"]);
    assert!(pushed, "{said}");
    let (pushed, said) = git_try(&folder, &["push", &url, &format!("{bad}:refs/heads/main")]);
    assert!(!pushed && said.contains("hasDotgit"), "{said}");
}
