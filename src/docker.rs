//! The Docker engine, through its CLI (so that `DOCKER_HOST` and contexts
//! work as they do for the admin), with arguments passed as a list.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use serde::Deserialize;

/// A handle on the `docker` command.
#[derive(Debug, Clone)]
pub struct Docker {
    program: PathBuf,
}

/// What the engine says of a container's run state, in the contract's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Running.
    Running,
    /// Created, exited or dead.
    Stopped,
    /// Frozen by `docker pause`.
    Paused,
    /// Restarting after an exit.
    Restarting,
    /// The engine has no container of that name.
    Missing,
    /// The engine did not answer.
    Unknown,
}

impl Status {
    /// The word the contract uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Missing => "missing",
            Status::Unknown => "unknown",
        }
    }

    fn from_engine_state(state: &str) -> Status {
        match state {
            "running" => Status::Running,
            "paused" => Status::Paused,
            "restarting" => Status::Restarting,
            _ => Status::Stopped,
        }
    }
}

/// A container's health as its HEALTHCHECK reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// The last checks passed.
    Healthy,
    /// The checks failed `retries` times in a row.
    Unhealthy,
    /// No verdict yet.
    Starting,
    /// No health check, or the container is not running.
    None,
}

impl Health {
    /// The word the contract uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Starting => "starting",
            Health::None => "none",
        }
    }

    fn from_engine(status: &str) -> Health {
        match status {
            "healthy" => Health::Healthy,
            "unhealthy" => Health::Unhealthy,
            "starting" => Health::Starting,
            _ => Health::None,
        }
    }
}

/// One line of `docker ps -a`.
#[derive(Debug, Clone)]
pub struct ContainerSummary {
    /// The container's name.
    pub name: String,
    /// Its run state.
    pub status: Status,
    /// Its health, read from the status text (`Up 3 minutes (healthy)`).
    pub health: Health,
    /// Its labels.
    pub labels: HashMap<String, String>,
    /// The image reference it was created from.
    pub image: String,
}

/// The fields of `docker ps` the listing shows, as one JSON object a line.
const PS_FORMAT: &str = r#"{"Names":{{json .Names}},"State":{{json .State}},"Status":{{json .Status}},"Labels":{{json .Labels}},"Image":{{json .Image}}}"#;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PsLine {
    names: String,
    state: String,
    status: String,
    #[serde(default)]
    labels: String,
    #[serde(default)]
    image: String,
}

/// `.State` of `docker inspect`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    /// created, running, paused, restarting, removing, exited or dead.
    pub status: String,
    /// The health-check record, when the image has one.
    pub health: Option<HealthRecord>,
}

impl ContainerState {
    /// The run state in the contract's words.
    pub fn status(&self) -> Status {
        Status::from_engine_state(&self.status)
    }

    /// The health in the contract's words.
    pub fn health(&self) -> Health {
        match (&self.health, self.status()) {
            (Some(record), Status::Running) => Health::from_engine(&record.status),
            _ => Health::None,
        }
    }

    /// The output of the last health check, trimmed.
    pub fn last_health_output(&self) -> Option<String> {
        let record = self.health.as_ref()?;
        let last = record.log.as_ref()?.last()?;
        Some(format!(
            "exit {}: {}",
            last.exit_code,
            last.output.trim().replace('\n', " | ")
        ))
    }
}

/// `.State.Health` of `docker inspect`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthRecord {
    /// healthy, unhealthy or starting.
    pub status: String,
    /// The last few checks, oldest first.
    pub log: Option<Vec<HealthCheck>>,
}

/// One health check run.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthCheck {
    /// The probe's exit code.
    pub exit_code: i64,
    /// What the probe printed.
    pub output: String,
}

/// Why a container did not become healthy in time.
#[derive(Debug, Clone)]
pub struct NotHealthy {
    /// Its state when the wait ended (`running, unhealthy`).
    pub seen: String,
    /// How long it was waited for.
    pub waited: std::time::Duration,
    /// The output of its last health check.
    pub last_output: String,
    /// The last lines of its logs.
    pub logs: String,
}

/// How long `docker stop` lets GitLab shut down before it kills it.
pub const DEFAULT_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
/// How long to wait for `healthy` by default: GitLab's first boot is slow.
pub const DEFAULT_HEALTHY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

mod run_spec;
pub use run_spec::RunSpec;

/// What a docker command printed, and whether it succeeded.
struct Captured {
    success: bool,
    stdout: String,
    stderr: String,
}

/// The one thread still allowed to run docker commands, once set.
static GATE_KEEPER: std::sync::OnceLock<std::thread::ThreadId> = std::sync::OnceLock::new();

/// From now on only the calling thread runs docker commands; any other
/// thread that tries parks until the process exits. The signal thread calls
/// it before it puts containers back: an operation's thread that went on
/// starting, stopping or inspecting would undo what it puts back. The gate
/// lives here, in the one place every docker command passes, so that the
/// engine's adapter needs to know nothing of signals.
pub fn close_gate() {
    let _ = GATE_KEEPER.set(std::thread::current().id());
}

/// Called before every docker command: parks for good once another thread
/// closed the gate ([`close_gate`]).
fn gate() {
    if GATE_KEEPER
        .get()
        .is_some_and(|keeper| *keeper != std::thread::current().id())
    {
        loop {
            std::thread::park();
        }
    }
}

impl Docker {
    /// Finds `docker` on the `PATH`.
    pub fn new() -> anyhow::Result<Docker> {
        let program = which::which("docker")
            .context("the docker command is not installed (no `docker` on the PATH)")?;
        Ok(Docker { program })
    }

    fn capture(&self, args: &[&str]) -> anyhow::Result<Captured> {
        gate();
        let output = duct::cmd(&self.program, args)
            .stdout_capture()
            .stderr_capture()
            .stdin_null()
            .unchecked()
            .run()
            .with_context(|| format!("cannot run docker {}", args.first().unwrap_or(&"")))?;
        Ok(Captured {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }

    fn checked(&self, args: &[&str]) -> anyhow::Result<String> {
        let captured = self.capture(args)?;
        if captured.success {
            Ok(captured.stdout)
        } else {
            Err(anyhow!(
                "docker {} failed: {}",
                args.first().unwrap_or(&""),
                captured.stderr
            ))
        }
    }

    /// The engine's version; an error says why the engine does not answer.
    pub fn server_version(&self) -> anyhow::Result<String> {
        let out = self
            .checked(&["version", "--format", "{{.Server.Version}}"])
            .context("the Docker engine does not answer")?;
        Ok(out.trim().to_string())
    }

    /// Every container the engine has, in ONE call, whatever their number.
    pub fn list_containers(&self) -> anyhow::Result<Vec<ContainerSummary>> {
        // Only the fields shown: `{{json .}}` names `.Size` too, which makes
        // the engine compute every container's disk usage (`size=1`).
        let out = self.checked(&["ps", "--all", "--no-trunc", "--format", PS_FORMAT])?;
        out.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let ps: PsLine = serde_json::from_str(line)
                    .with_context(|| format!("unexpected line from docker ps: {line}"))?;
                Ok(ContainerSummary {
                    name: ps.names.split(',').next().unwrap_or("").to_string(),
                    status: Status::from_engine_state(&ps.state),
                    health: health_from_status_text(&ps.status),
                    labels: parse_labels(&ps.labels),
                    image: ps.image,
                })
            })
            .collect()
    }

    /// Whether the image is present in the engine.
    pub fn image_present(&self, image: &str) -> anyhow::Result<bool> {
        let captured = self.capture(&["image", "inspect", "--format", "{{.Id}}", image])?;
        if captured.success {
            return Ok(true);
        }
        if captured.stderr.contains("No such image") || captured.stderr.contains("No such object") {
            return Ok(false);
        }
        bail!("docker image inspect {image} failed: {}", captured.stderr)
    }

    /// Pulls the image; the error carries the engine's reason.
    pub fn pull(&self, image: &str) -> anyhow::Result<()> {
        self.checked(&["pull", "--quiet", image]).map(|_| ())
    }

    /// Creates and starts a container; returns its ID.
    pub fn run(&self, spec: &RunSpec) -> anyhow::Result<String> {
        let args = spec.arguments();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(self.checked(&args)?.trim().to_string())
    }

    /// Creates (without starting) a container as `spec` describes it; returns its ID.
    pub fn create_spec(&self, spec: &RunSpec) -> anyhow::Result<String> {
        let mut args = spec.arguments();
        args.retain(|arg| arg != "--detach");
        args[0] = "create".into();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(self.checked(&args)?.trim().to_string())
    }

    /// `.State` of a container, or `None` when the engine has no such container.
    pub fn inspect_state(&self, container: &str) -> anyhow::Result<Option<ContainerState>> {
        self.inspect_json_field(container, "{{json .State}}")
    }

    /// The engine's ID of a container, or `None` when it has no such container.
    pub fn container_id(&self, container: &str) -> anyhow::Result<Option<String>> {
        self.inspect_json_field(container, "{{json .Id}}")
    }

    /// The labels of a container, or `None` when the engine has no such container.
    pub fn labels(&self, container: &str) -> anyhow::Result<Option<HashMap<String, String>>> {
        let labels: Option<Option<HashMap<String, String>>> =
            self.inspect_json_field(container, "{{json .Config.Labels}}")?;
        Ok(labels.map(Option::unwrap_or_default))
    }

    /// One JSON field of `docker inspect`, or `None` when there is no such container.
    fn inspect_json_field<T: serde::de::DeserializeOwned>(
        &self,
        container: &str,
        format: &str,
    ) -> anyhow::Result<Option<T>> {
        let captured = self.capture(&[
            "inspect",
            "--type",
            "container",
            "--format",
            format,
            container,
        ])?;
        if !captured.success {
            if captured.stderr.contains("No such") {
                return Ok(None);
            }
            bail!("docker inspect {container} failed: {}", captured.stderr);
        }
        let value = serde_json::from_str(captured.stdout.trim())
            .with_context(|| format!("unexpected `docker inspect {format}` of {container}"))?;
        Ok(Some(value))
    }

    /// Stops a container, giving it `timeout` to shut down before SIGKILL.
    pub fn stop(&self, container: &str, timeout: std::time::Duration) -> anyhow::Result<()> {
        let seconds = timeout.as_secs().to_string();
        self.checked(&["stop", "--time", &seconds, container])
            .map(|_| ())
    }

    /// Starts a stopped container.
    pub fn start(&self, container: &str) -> anyhow::Result<()> {
        self.checked(&["start", container]).map(|_| ())
    }

    /// Freezes a container's processes.
    pub fn pause(&self, container: &str) -> anyhow::Result<()> {
        self.checked(&["pause", container]).map(|_| ())
    }

    /// Thaws a frozen container.
    pub fn unpause(&self, container: &str) -> anyhow::Result<()> {
        self.checked(&["unpause", container]).map(|_| ())
    }

    /// The image reference a container was created from, and the image's ID.
    pub fn container_image(&self, container: &str) -> anyhow::Result<(String, String)> {
        let out = self.checked(&[
            "inspect",
            "--type",
            "container",
            "--format",
            "{{.Config.Image}}\t{{.Image}}",
            container,
        ])?;
        let (reference, id) = out
            .trim()
            .split_once('\t')
            .context("unexpected docker inspect output")?;
        Ok((reference.to_string(), id.to_string()))
    }

    /// The ID of an image.
    pub fn image_id(&self, image: &str) -> anyhow::Result<String> {
        Ok(self
            .checked(&["image", "inspect", "--format", "{{.Id}}", image])?
            .trim()
            .to_string())
    }

    /// Reads a file out of a container's filesystem (running or not).
    pub fn read_file(&self, container: &str, path: &str) -> anyhow::Result<Vec<u8>> {
        let source = format!("{container}:{path}");
        let output = duct::cmd(&self.program, ["cp", source.as_str(), "-"])
            .stdout_capture()
            .stderr_capture()
            .stdin_null()
            .unchecked()
            .run()?;
        if !output.status.success() {
            bail!(
                "docker cp {source} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        // `docker cp ... -` writes a tar stream holding the one file (its
        // header may be PAX or GNU when the name is long).
        file_in_tar(&output.stdout).with_context(|| format!("docker cp {source}: bad tar stream"))
    }

    /// Polls a container until it is `healthy` or `timeout` passes. `progress`
    /// gets a line at each poll. The error is what was seen last.
    pub fn wait_healthy(
        &self,
        container: &str,
        timeout: std::time::Duration,
        progress: &mut dyn FnMut(&str),
    ) -> anyhow::Result<Result<(), NotHealthy>> {
        let start = std::time::Instant::now();
        let mut last_output = None;
        loop {
            let state = self.inspect_state(container)?;
            if let Some(output) = state.as_ref().and_then(ContainerState::last_health_output) {
                last_output = Some(output);
            }
            if state.as_ref().map(ContainerState::health) == Some(Health::Healthy) {
                return Ok(Ok(()));
            }
            let seen = match &state {
                None => "missing".to_string(),
                Some(state) => format!("{}, {}", state.status().as_str(), state.health().as_str()),
            };
            let elapsed = start.elapsed();
            if elapsed >= timeout || state.is_none() {
                return Ok(Err(NotHealthy {
                    seen,
                    waited: elapsed,
                    last_output: last_output.unwrap_or_else(|| "(no health check has run)".into()),
                    logs: self.logs_tail(container, 20),
                }));
            }
            progress(&format!(
                "waiting for {container} to be healthy: {seen} ({}s)",
                elapsed.as_secs()
            ));
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }

    /// `docker inspect` of these containers, as the engine prints it (JSON).
    pub fn inspect_json(&self, containers: &[&str]) -> anyhow::Result<String> {
        let mut args = vec!["inspect", "--type", "container"];
        args.extend_from_slice(containers);
        self.checked(&args)
    }

    /// Creates (without starting) a container from an image.
    pub fn create(&self, name: &str, image: &str) -> anyhow::Result<()> {
        self.checked(&["create", "--name", name, image]).map(|_| ())
    }

    /// Removes a container, running or not.
    pub fn remove(&self, container: &str) -> anyhow::Result<()> {
        self.checked(&["rm", "--force", "--volumes", container])
            .map(|_| ())
    }

    /// Creates and starts a throwaway container (a drill's): as [`Docker::run`],
    /// but the engine never restarts it.
    pub fn run_throwaway(&self, spec: &RunSpec) -> anyhow::Result<String> {
        let mut args = spec.arguments();
        if let Some(at) = args.iter().position(|arg| arg == "--restart") {
            args[at + 1] = "no".into();
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(self.checked(&args)?.trim().to_string())
    }

    /// Runs `command` inside a running container: `Ok(stdout)` when it exits
    /// 0, else `Err` with what it printed.
    pub fn exec(
        &self,
        container: &str,
        command: &[&str],
    ) -> anyhow::Result<std::result::Result<String, String>> {
        let mut args = vec!["exec", container];
        args.extend_from_slice(command);
        let captured = self.capture(&args)?;
        Ok(if captured.success {
            Ok(captured.stdout)
        } else {
            Err(format!("{}\n{}", captured.stdout.trim(), captured.stderr)
                .trim()
                .to_string())
        })
    }

    /// The last `lines` lines the container printed (stdout and stderr), best effort.
    pub fn logs_tail(&self, container: &str, lines: u32) -> String {
        let lines = lines.to_string();
        match self.capture(&["logs", "--tail", &lines, container]) {
            Ok(captured) => format!("{}{}", captured.stdout, captured.stderr)
                .trim_end()
                .to_string(),
            Err(error) => format!("(no logs: {error})"),
        }
    }
}

fn health_from_status_text(status: &str) -> Health {
    if status.contains("(healthy)") {
        Health::Healthy
    } else if status.contains("(unhealthy)") {
        Health::Unhealthy
    } else if status.contains("(health: starting)") {
        Health::Starting
    } else {
        Health::None
    }
}

/// The content of the first regular file of a tar stream.
fn file_in_tar(stream: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut archive = tar::Archive::new(stream);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() {
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content)?;
            return Ok(content);
        }
    }
    bail!("no file in it")
}

fn parse_labels(text: &str) -> HashMap<String, String> {
    text.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests;
