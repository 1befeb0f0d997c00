//! The seed's scenario in French: every sentence the person reads is French,
//! the refusal included, and no English sentence of the catalogue slips through.

use super::*;

/// `run` speaks French only: no git word, no English sentence.
fn french(run: &Run, english: &[String]) {
    plain(run);
    let text = format!("{}\n{}", run.stdout, run.stderr);
    for sentence in english {
        assert!(
            !text.contains(sentence.as_str()),
            "English reached the person: {sentence:?} in\n{text}"
        );
    }
}

impl Machine {
    /// Runs the client in `dir` with a French locale.
    fn run_fr(&self, dir: &Path, args: &[&str]) -> Run {
        Run::from(
            self.command(dir)
                .env("LANG", "fr_FR.UTF-8")
                .args(args)
                .output()
                .unwrap(),
        )
    }
}

#[test]
fn seed_scenario_in_french() {
    let english = crate::common::english_sentences();
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let laptop2 = server.machine("alice", "laptop-2");

    let report = laptop1.folder("Rapport");
    write(&report, "plan.txt", "premier plan\n");
    let run = laptop1
        .run_fr(&laptop1.documents, &["new", "Rapport"])
        .expect_code(0);
    french(&run, &english);
    assert!(
        run.stderr.contains("est maintenant un dossier enregistré"),
        "{}",
        run.stderr
    );
    write(&report, "plan.txt", "deuxième plan\n");
    let run = laptop1
        .run_fr(&report, &["save", "Deuxième plan"])
        .expect_code(0);
    french(&run, &english);
    assert!(
        run.stderr
            .contains("Nouvelle version enregistrée (1 fichier modifié)."),
        "{}",
        run.stderr
    );
    let run = laptop1.run_fr(&report, &["sync"]).expect_code(0);
    french(&run, &english);
    assert!(run.stderr.contains("Envoyé"), "{}", run.stderr);

    // Saved but never sent, then laptop-1 is switched off.
    write(&report, "plan.txt", "troisième plan, jamais envoyé\n");
    let run = laptop1.run_fr(&report, &["save"]).expect_code(0);
    french(&run, &english);

    let refused = laptop2
        .run_fr(&laptop2.documents, &["get", "rapport"])
        .expect_code(1);
    french(&refused, &english);
    assert!(
        refused
            .stderr
            .contains("vos modifications sur laptop-1 depuis ")
            && refused
                .stderr
                .contains("n'ont jamais été envoyées ; synchronisez d'abord là-bas")
            && refused.stderr.contains("--take-over"),
        "{}",
        refused.stderr
    );
    assert!(!laptop2.folder("Rapport").exists(), "nothing was brought");

    let run = laptop1.run_fr(&report, &["sync"]).expect_code(0);
    french(&run, &english);
    let run = laptop2
        .run_fr(&laptop2.documents, &["get", "rapport"])
        .expect_code(0);
    french(&run, &english);
    let here = laptop2.folder("Rapport");
    assert_eq!(read(&here, "plan.txt"), "troisième plan, jamais envoyé\n");
    write(&here, "notes/mardi.txt", "mardi\n");
    let status = laptop2.run_fr(&here, &["status"]).expect_code(0);
    french(&status, &english);
    assert!(
        status
            .stdout
            .contains("Modifications non enregistrées (1 fichier) :")
            && status.stdout.contains("nouveau  notes/mardi.txt"),
        "{}",
        status.stdout
    );
    let other = laptop1
        .run_fr(&laptop1.documents, &["--folder", "Rapport", "status"])
        .expect_code(0);
    french(&other, &english);
    assert!(
        other
            .stdout
            .contains("Pas encore envoyées : vos modifications sur laptop-2 depuis "),
        "{}",
        other.stdout
    );
    let run = laptop2.run_fr(&here, &["sync"]).expect_code(0);
    french(&run, &english);
    let run = laptop1.run_fr(&report, &["sync"]).expect_code(0);
    french(&run, &english);
    assert!(
        run.stderr
            .contains("1 nouvelle version récupérée depuis le serveur."),
        "{}",
        run.stderr
    );

    // The help, and an error of a folder that is not saved.
    let help = laptop1
        .run_fr(&laptop1.documents, &["--help"])
        .expect_code(0);
    french(&help, &english);
    assert!(help.stdout.contains("Utilisation :"), "{}", help.stdout);
    let mistake = laptop1
        .run_fr(&laptop1.documents, &["--nope"])
        .expect_code(2);
    french(&mistake, &english);
    assert!(
        mistake.stderr.contains("argument inattendu : --nope"),
        "{}",
        mistake.stderr
    );
    let run = laptop1
        .run_fr(&laptop1.documents, &["status"])
        .expect_code(2);
    french(&run, &english);
    assert!(
        run.stderr.contains("n'est pas un dossier enregistré"),
        "{}",
        run.stderr
    );
}
