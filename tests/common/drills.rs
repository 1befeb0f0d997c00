//! Drill containers, and a database torn on purpose.

use super::*;

impl Scenario {
    /// The drill containers the engine has under this scenario's home.
    pub fn drill_containers(&self) -> Vec<String> {
        let home = format!("label=girofle.home={}", self.home.display());
        let out = docker(&[
            "ps",
            "--all",
            "--filter",
            &home,
            "--filter",
            "label=girofle.drill",
            "--format",
            "{{.Names}}",
        ]);
        out.lines().map(str::to_string).collect()
    }

    /// The drill scratch copies in instance `number`'s directory.
    pub fn drill_scratch_dirs(&self, number: u32) -> Vec<String> {
        sorted_names(&self.instance_dir(number))
            .into_iter()
            .filter(|name| name.starts_with(".drill-"))
            .collect()
    }

    /// The names in the cron directory.
    pub fn cron_names(&self) -> Vec<String> {
        sorted_names(&self.cron_dir)
    }

    /// The drill record of backup `id` of instance `number`.
    pub fn drill_record(&self, number: u32, id: &str) -> String {
        let path = self
            .instance_dir(number)
            .join("bckups")
            .join(format!("{id}.DRILL"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no drill record {}: {e}", path.display()))
    }
}

/// Tears the stand-in's database in instance `number`'s live volume (its
/// container stopped): segment 5 from a generation the WAL never reached, as
/// a copy made while the database writes can be.
pub fn tear_database(world: &Scenario, number: u32) {
    let container = format!("{}-gitlab-{number}", world.prefix);
    docker(&["stop", "--time", "60", &container]);
    let segment = world
        .instance_dir(number)
        .join("mapping-volumes/data/postgresql/data/base/5");
    std::fs::write(&segment, "gen 999999\nxxxx\nend 999999\n").unwrap();
}
