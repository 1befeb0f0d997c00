//! The API and git over HTTP as the client meets them: tokens, projects, topics, members, refs.

use super::*;

#[test]
fn the_api_wants_a_personal_access_token_and_knows_the_users_given_at_start() {
    let gitlab = Instance::start(Some(USERS));
    let unauthorized = serde_json::json!({"message": "401 Unauthorized"});

    let anonymous = gitlab.api("GET", "/user", None, None);
    assert_eq!((anonymous.status, &anonymous.json), (401, &unauthorized));
    let wrong = gitlab.api("GET", "/user", Some("glpat-wrong"), None);
    assert_eq!((wrong.status, &wrong.json), (401, &unauthorized));
    // A wrong token is refused even where no token is needed.
    let wrong = gitlab.api("GET", "/users?username=bob", Some("glpat-wrong"), None);
    assert_eq!(wrong.status, 401);

    let alice = gitlab.api("GET", "/user", Some(ALICE), None);
    assert_eq!(alice.status, 200);
    assert_eq!(alice.json["id"], 1);
    assert_eq!(alice.json["username"], "alice");
    assert_eq!(alice.json["name"], "Alice");
    let bearer = gitlab.api_with(
        "GET",
        "/user",
        Some(format!("Authorization: Bearer {CAROL}")),
        None,
    );
    assert_eq!(
        (bearer.status, &bearer.json["id"]),
        (200, &serde_json::json!(3))
    );

    let bob = gitlab.api("GET", "/users?username=bob", Some(ALICE), None);
    assert_eq!(bob.status, 200);
    assert_eq!(bob.json.as_array().unwrap().len(), 1, "{}", bob.json);
    assert_eq!(bob.json[0]["id"], 2);
    assert_eq!(bob.json[0]["username"], "bob");
    let nobody = gitlab.api("GET", "/users?username=dave", Some(ALICE), None);
    assert_eq!(nobody.json, serde_json::json!([]));

    // Users and tokens are data of the instance, kept with its database and
    // owned as GitLab's are; tokens are kept as digests only.
    let users = gitlab.data.path().join("postgresql/data/api/users");
    let meta = std::fs::metadata(&users).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (996, 996, 0o600)
    );
    assert!(
        !std::fs::read_to_string(&users).unwrap().contains(ALICE),
        "tokens are stored as digests"
    );

    // A new container on the same data, given one more user and a new token
    // for Bob, keeps the ids and the projects, and takes the new token.
    gitlab.create(ALICE, "kept");
    gitlab.run(Some("bob:glpat-bob-new dave:glpat-dave-0004"));
    let dave = gitlab.api("GET", "/user", Some("glpat-dave-0004"), None);
    assert_eq!(
        (dave.status, &dave.json["id"]),
        (200, &serde_json::json!(4))
    );
    assert_eq!(gitlab.api("GET", "/user", Some(BOB), None).status, 401);
    assert_eq!(
        gitlab.api("GET", "/user", Some("glpat-bob-new"), None).json["id"],
        2
    );
    let kept = gitlab.api("GET", "/projects/alice%2Fkept", Some(ALICE), None);
    assert_eq!(kept.status, 200, "{}", kept.json);

    // Started without STANDIN_USERS (as a restored copy might be), the data
    // still decides: tokens are still wanted and still work.
    gitlab.run(None);
    assert_eq!(gitlab.api("GET", "/user", None, None).status, 401);
    assert_eq!(gitlab.api("GET", "/user", Some(ALICE), None).json["id"], 1);
}

#[test]
fn projects_are_made_in_the_owners_namespace_listed_by_topic_and_shared_with_members() {
    let gitlab = Instance::start(Some(USERS));

    // Created in Alice's namespace, from JSON or from a form.
    let docs = gitlab.create(ALICE, "docs");
    assert_eq!(docs["path_with_namespace"], "alice/docs");
    assert_eq!(docs["name"], "docs");
    assert_eq!(docs["topics"], serde_json::json!(["girofle"]));
    assert_eq!(docs["visibility"], "private");
    assert_eq!(docs["default_branch"], "main");
    assert_eq!(docs["empty_repo"], true);
    assert_eq!(
        docs["http_url_to_repo"],
        format!("{}/alice/docs.git", gitlab.url)
    );
    assert_eq!(docs["web_url"], format!("{}/alice/docs", gitlab.url));
    assert_eq!(docs["namespace"]["kind"], "user");
    let form = gitlab.api(
        "POST",
        "/projects",
        Some(ALICE),
        Some((
            "application/x-www-form-urlencoded",
            "name=Budget+2027&topics[]=girofle&topics[]=finance",
        )),
    );
    assert_eq!(form.status, 201, "{}", form.json);
    assert_eq!(form.json["path"], "budget-2027");
    assert_eq!(form.json["name"], "Budget 2027");
    assert_eq!(
        form.json["topics"],
        serde_json::json!(["girofle", "finance"])
    );
    let untagged = gitlab.api(
        "POST",
        "/projects",
        Some(ALICE),
        Some(("application/json", r#"{"path":"scratch"}"#)),
    );
    assert_eq!(untagged.status, 201, "{}", untagged.json);
    let bobs = gitlab.create(BOB, "notes");
    assert_eq!(bobs["path_with_namespace"], "bob/notes");

    // A path taken in the namespace is a 400, as GitLab answers; another
    // namespace may use it.
    let taken = gitlab.api(
        "POST",
        "/projects",
        Some(ALICE),
        Some(("application/json", r#"{"name":"docs","path":"docs"}"#)),
    );
    assert_eq!(taken.status, 400);
    assert_eq!(
        taken.json,
        serde_json::json!({"message": {"name": ["has already been taken"], "path": ["has already been taken"]}})
    );
    gitlab.create(BOB, "docs");
    let anonymous = gitlab.api(
        "POST",
        "/projects",
        None,
        Some(("application/json", r#"{"path":"x"}"#)),
    );
    assert_eq!(anonymous.status, 401);

    // The inventory: projects with the topic that one is a member of, newest first.
    let list = "/projects?topic=girofle&membership=true";
    let alices = gitlab.api("GET", list, Some(ALICE), None);
    assert_eq!(alices.status, 200);
    assert_eq!(paths(&alices.json), ["alice/budget-2027", "alice/docs"]);
    assert_eq!(
        paths(&gitlab.api("GET", list, Some(BOB), None).json),
        ["bob/docs", "bob/notes"]
    );
    assert_eq!(
        paths(&gitlab.api("GET", list, Some(CAROL), None).json),
        Vec::<String>::new()
    );
    // Ordered as asked; `simple` gives GitLab's short form, without owner or visibility.
    let oldest_first = gitlab.api(
        "GET",
        &format!("{list}&order_by=id&sort=asc&simple=true"),
        Some(ALICE),
        None,
    );
    assert_eq!(
        paths(&oldest_first.json),
        ["alice/docs", "alice/budget-2027"]
    );
    assert_eq!(
        oldest_first.json[0]["http_url_to_repo"],
        docs["http_url_to_repo"]
    );
    assert!(
        oldest_first.json[0].get("visibility").is_none(),
        "{}",
        oldest_first.json
    );
    assert!(oldest_first.json[0].get("owner").is_none());

    // Paginated as GitLab: follow X-Next-Page.
    let first = gitlab.api("GET", &format!("{list}&per_page=1"), Some(ALICE), None);
    assert_eq!(paths(&first.json), ["alice/budget-2027"]);
    assert_eq!(first.header("X-Total").as_deref(), Some("2"));
    assert_eq!(first.header("X-Next-Page").as_deref(), Some("2"));
    let second = gitlab.api(
        "GET",
        &format!("{list}&per_page=1&page=2"),
        Some(ALICE),
        None,
    );
    assert_eq!(paths(&second.json), ["alice/docs"]);
    assert_eq!(second.header("X-Next-Page").as_deref(), Some(""));

    // Creations at the same instant get projects and ids of their own.
    let ids: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|n| {
                let gitlab = &gitlab;
                scope.spawn(move || {
                    gitlab.create(CAROL, &format!("c{n}"))["id"]
                        .as_u64()
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6, "{ids:?}");
    let carols = gitlab.api("GET", &format!("{list}&per_page=100"), Some(CAROL), None);
    assert_eq!(carols.json.as_array().unwrap().len(), 6, "{}", carols.json);

    // One project by id or by its URL-encoded path; 404 to a non-member.
    let id = docs["id"].as_u64().unwrap();
    let by_id = gitlab.api("GET", &format!("/projects/{id}"), Some(ALICE), None);
    assert_eq!(by_id.json["path_with_namespace"], "alice/docs");
    let by_path = gitlab.api("GET", "/projects/alice%2Fdocs", Some(ALICE), None);
    assert_eq!(by_path.json["id"], id);
    assert_eq!(
        by_path.json["permissions"]["project_access"]["access_level"],
        50
    );
    let hidden = gitlab.api("GET", "/projects/alice%2Fdocs", Some(BOB), None);
    assert_eq!(hidden.status, 404);
    assert_eq!(
        hidden.json,
        serde_json::json!({"message": "404 Project Not Found"})
    );
    assert_eq!(
        gitlab
            .api("GET", "/projects/alice%2Fdocs", None, None)
            .status,
        404
    );

    // Sharing is membership: only a Maintainer or the Owner adds members.
    let members = format!("/projects/{id}/members");
    let by_stranger = gitlab.api(
        "POST",
        &members,
        Some(BOB),
        Some((
            "application/x-www-form-urlencoded",
            "user_id=2&access_level=40",
        )),
    );
    assert_eq!(by_stranger.status, 404);
    let added = gitlab.api(
        "POST",
        &members,
        Some(ALICE),
        Some(("application/json", r#"{"user_id":2,"access_level":30}"#)),
    );
    assert_eq!(added.status, 201, "{}", added.json);
    assert_eq!(added.json["username"], "bob");
    assert_eq!(added.json["access_level"], 30);
    let again = gitlab.api(
        "POST",
        &members,
        Some(ALICE),
        Some(("application/json", r#"{"user_id":2,"access_level":30}"#)),
    );
    assert_eq!(again.status, 409);
    assert_eq!(
        again.json,
        serde_json::json!({"message": "Member already exists"})
    );
    let by_developer = gitlab.api(
        "POST",
        &members,
        Some(BOB),
        Some(("application/json", r#"{"user_id":3,"access_level":30}"#)),
    );
    assert_eq!(by_developer.status, 403);
    let no_such_user = gitlab.api(
        "POST",
        &members,
        Some(ALICE),
        Some(("application/json", r#"{"user_id":99,"access_level":30}"#)),
    );
    assert_eq!(no_such_user.status, 404);
    let all = gitlab.api("GET", &format!("{members}/all"), Some(BOB), None);
    let levels: Vec<(String, u64)> = all
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().to_string(),
                m["access_level"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(levels, [("alice".to_string(), 50), ("bob".to_string(), 30)]);
    // Bob now has Alice's folder in his inventory.
    assert_eq!(
        paths(&gitlab.api("GET", list, Some(BOB), None).json),
        ["bob/docs", "bob/notes", "alice/docs"]
    );
}

#[test]
fn git_over_http_wants_a_token_and_membership_and_keeps_gitlabs_refs() {
    let gitlab = Instance::start(Some(USERS));
    let work = tempfile::tempdir().unwrap();
    let here = work.path();
    let folder = here.join("folder");
    make_repository(&folder, 1);
    let docs = gitlab.create(ALICE, "docs");
    let id = docs["id"].as_u64().unwrap();

    // Without a token, or with a wrong one: 401, git asks for credentials.
    let (pushed, said) = git_try(
        &folder,
        &["push", &gitlab.git_url(None, "alice/docs"), "main"],
    );
    assert!(
        !pushed && said.contains("could not read Username"),
        "{said}"
    );
    let (pushed, said) = git_try(
        &folder,
        &[
            "push",
            &gitlab.git_url(Some("glpat-wrong"), "alice/docs"),
            "main",
        ],
    );
    assert!(!pushed && said.contains("Authentication failed"), "{said}");
    let (cloned, said) = git_try(
        here,
        &["clone", &gitlab.git_url(None, "alice/docs"), "anonymous"],
    );
    assert!(
        !cloned && said.contains("could not read Username"),
        "{said}"
    );

    // The owner pushes, with any user name and the token as password.
    let alice = gitlab.git_url(Some(ALICE), "alice/docs");
    let (pushed, said) = git_try(&folder, &["push", &alice, "main"]);
    assert!(pushed, "{said}");
    let first = commit(&folder, "a.txt", "first");
    git(&folder, &["push", "--quiet", &alice, "main"]);

    // Not a member: the project is not found, for clone and push alike.
    let (cloned, said) = git_try(
        here,
        &["clone", &gitlab.git_url(Some(CAROL), "alice/docs"), "carol"],
    );
    assert!(!cloned && said.contains("could not be found"), "{said}");
    let (pushed, said) = git_try(
        &folder,
        &[
            "push",
            &gitlab.git_url(Some(CAROL), "alice/docs"),
            "main:refs/heads/other",
        ],
    );
    assert!(!pushed && said.contains("could not be found"), "{said}");

    // A Reporter (20) fetches but does not push; a Developer (30) pushes.
    let share = |user: u32, level: u32| {
        let body = format!(r#"{{"user_id":{user},"access_level":{level}}}"#);
        let answer = gitlab.api(
            "POST",
            &format!("/projects/{id}/members"),
            Some(ALICE),
            Some(("application/json", &body)),
        );
        assert_eq!(answer.status, 201, "{}", answer.json);
    };
    share(3, 20);
    let carol = gitlab.git_url(Some(CAROL), "alice/docs");
    git(here, &["clone", "--quiet", &carol, "carol"]);
    assert_eq!(
        git(&here.join("carol"), &["rev-parse", "HEAD"]).trim(),
        first
    );
    let (pushed, said) = git_try(
        &here.join("carol"),
        &["push", &carol, "main:refs/heads/carol"],
    );
    assert!(
        !pushed && said.contains("You are not allowed to push code to this project"),
        "{said}"
    );
    share(2, 30);
    let bob = gitlab.git_url(Some(BOB), "alice/docs");
    git(here, &["clone", "--quiet", &bob, "bob"]);
    let bobs = here.join("bob");
    let second = commit(&bobs, "b.txt", "second");

    // The default branch is protected as on GitLab: a Developer cannot push
    // to it; nobody force-pushes it; other branches and ref namespaces are free.
    let (pushed, said) = git_try(&bobs, &["push", &bob, "main"]);
    assert!(
        !pushed && said.contains("You are not allowed to push code to protected branches"),
        "{said}"
    );
    git(&bobs, &["push", "--quiet", &bob, "main:refs/heads/bob"]);
    git(
        &bobs,
        &[
            "push",
            "--quiet",
            &bob,
            "HEAD:refs/girofle/machines/laptop-2",
        ],
    );
    let lease = format!("--force-with-lease=refs/girofle/machines/laptop-2:{first}");
    let (pushed, said) = git_try(
        &bobs,
        &[
            "push",
            &lease,
            &bob,
            &format!("{first}:refs/girofle/machines/laptop-2"),
        ],
    );
    assert!(
        !pushed && said.contains("stale info"),
        "a lost compare-and-swap is refused: {said}"
    );
    let lease = format!("--force-with-lease=refs/girofle/machines/laptop-2:{second}");
    let (pushed, said) = git_try(
        &bobs,
        &[
            "push",
            &lease,
            &bob,
            &format!("{first}:refs/girofle/machines/laptop-2"),
        ],
    );
    assert!(pushed, "a won compare-and-swap is accepted: {said}");
    let (pushed, said) = git_try(&bobs, &["push", "--force", &alice, "HEAD~2:main"]);
    assert!(
        !pushed && said.contains("You are not allowed to force push code to a protected branch"),
        "{said}"
    );

    // The wiki's branches are not protected: a Developer edits it.
    git(
        &bobs,
        &[
            "push",
            "--quiet",
            &gitlab.git_url(Some(BOB), "alice/docs.wiki"),
            "main",
        ],
    );

    // GitLab's internal refs cannot be pushed; others are listed to members.
    for hidden in [
        "refs/keep-around/x",
        "refs/merge-requests/1/head",
        "refs/pipelines/1",
        "refs/environments/prod",
        "refs/tmp/x",
    ] {
        let (pushed, said) = git_try(&bobs, &["push", &bob, &format!("HEAD:{hidden}")]);
        assert!(
            !pushed && said.contains("deny updating a hidden ref"),
            "{hidden}: {said}"
        );
    }
    let refs = git(here, &["ls-remote", &carol]);
    assert!(
        refs.contains(&format!("{first}\trefs/girofle/machines/laptop-2")),
        "{refs}"
    );
    assert!(
        refs.contains(&format!("{first}\trefs/heads/main")),
        "{refs}"
    );
    assert!(!refs.contains("keep-around"), "{refs}");

    // Push-to-create in one's own namespace only.
    git(
        &folder,
        &[
            "push",
            "--quiet",
            &gitlab.git_url(Some(BOB), "bob/fresh"),
            "main",
        ],
    );
    let fresh = gitlab.api("GET", "/projects/bob%2Ffresh", Some(BOB), None);
    assert_eq!(fresh.status, 200, "{}", fresh.json);
    assert_eq!(fresh.json["visibility"], "private");
    assert_eq!(fresh.json["empty_repo"], false);
    let (pushed, said) = git_try(
        &folder,
        &["push", &gitlab.git_url(Some(BOB), "alice/fresh"), "main"],
    );
    assert!(!pushed && said.contains("could not be found"), "{said}");
    let repository = gitlab
        .data
        .path()
        .join("git-data/repositories/alice/docs.git");
    assert_eq!(std::fs::metadata(&repository).unwrap().uid(), 998);
}

#[test]
fn without_users_git_stays_anonymous_with_push_to_create() {
    let gitlab = Instance::start(None);
    let work = tempfile::tempdir().unwrap();
    let head = make_repository(&work.path().join("app"), 2);
    let url = gitlab.git_url(None, "grp/app");
    git(&work.path().join("app"), &["push", "--quiet", &url, "main"]);
    git(work.path(), &["clone", "--quiet", &url, "copy"]);
    assert_eq!(
        git(&work.path().join("copy"), &["rev-parse", "HEAD"]).trim(),
        head
    );
    // GitLab's internal refs are refused here too.
    let (pushed, said) = git_try(
        &work.path().join("app"),
        &["push", &url, "HEAD:refs/keep-around/x"],
    );
    assert!(
        !pushed && said.contains("deny updating a hidden ref"),
        "{said}"
    );
    // No user exists: the API knows nobody, and nothing of it is written.
    let me = gitlab.api("GET", "/user", None, None);
    assert_eq!(me.status, 401);
    let me = gitlab.api("GET", "/user", Some(ALICE), None);
    assert_eq!(me.status, 401);
    assert!(!gitlab.data.path().join("postgresql/data/api").exists());
}
