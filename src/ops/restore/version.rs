//! What GitLab's version rule needs to know, read from the engine: the
//! version a container runs, the version an offered image runs. The rule
//! itself is [`super::plan::check_version`], a pure function.

use anyhow::Context;

use super::plan::{VersionFacts, needs_running_version};
use crate::container::IMAGE_VERSION_FILE;
use crate::docker::Docker;
use crate::error::{Error, Result};

/// The version facts of a restore of a backup whose MANIFEST header is
/// `header` into `container`. The offered image is probed only when the rule
/// will look at it (a MANIFEST, `--image`, an inventory row), and the
/// running version read only when the image IDs differ, as before the rule
/// became a value.
pub(super) fn observe(
    docker: &Docker,
    container: &str,
    header: Option<Vec<(String, String)>>,
    image: Option<&str>,
    has_row: bool,
) -> Result<VersionFacts> {
    let mut facts = VersionFacts::default();
    if header.is_none() {
        return Ok(facts);
    }
    if let Some(image) = image {
        if has_row {
            facts.offered_version = Some(image_version(docker, image)?);
        }
        facts.header = header;
        return Ok(facts);
    }
    let (_, running_id) = docker.container_image(container)?;
    if needs_running_version(header.as_deref(), &running_id) {
        facts.running_version = docker
            .read_file(container, IMAGE_VERSION_FILE)
            .map(|v| String::from_utf8_lossy(&v).trim().to_string())
            .ok();
    }
    facts.running_image_id = running_id;
    facts.header = header;
    Ok(facts)
}

/// The GitLab version an image runs, read from a container created (never started) from it.
fn image_version(docker: &Docker, image: &str) -> Result<String> {
    if !docker.image_present(image)? {
        return Err(Error::usage(format!(
            "image `{image}` is not present locally"
        )));
    }
    let name = format!("girofle-version-probe-{}", std::process::id());
    docker.create(&name, image)?;
    let version = docker.read_file(&name, IMAGE_VERSION_FILE);
    let _ = docker.remove(&name);
    Ok(
        String::from_utf8_lossy(&version.context("cannot read the image's GitLab version")?)
            .trim()
            .to_string(),
    )
}
