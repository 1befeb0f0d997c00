//! GitLab's rule: a backup goes back into the same GitLab version.

use anyhow::Context;

use crate::container::IMAGE_VERSION_FILE;
use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::inventory::Row;
use crate::snapshot::Manifest;

/// GitLab's rule: a backup goes back into the same GitLab version. Returns
/// the image to recreate the container with, when `--image` is needed and given.
pub(super) fn check_version(
    docker: &Docker,
    container: &str,
    manifest: Option<&Manifest>,
    image: Option<&str>,
    row: Option<&Row>,
) -> Result<Option<String>> {
    let Some(manifest) = manifest else {
        return Ok(image.map(str::to_string));
    };
    let wanted = manifest.get("gitlab_version").unwrap_or("unknown");
    if let Some(image) = image {
        if row.is_none() {
            return Err(Error::usage(format!(
                "--image needs the instance's inventory row to recreate `{container}`"
            )));
        }
        let offered = image_version(docker, image)?;
        if offered != wanted {
            return Err(Error::usage(format!(
                "--image {image} runs GitLab {offered}, the backup was made with GitLab {wanted}"
            )));
        }
        return Ok(Some(image.to_string()));
    }
    let (_, running_id) = docker.container_image(container)?;
    if manifest.get("image_id") == Some(running_id.as_str()) {
        return Ok(None);
    }
    let running = docker
        .read_file(container, IMAGE_VERSION_FILE)
        .map(|v| String::from_utf8_lossy(&v).trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    if running == wanted && wanted != "unknown" {
        return Ok(None);
    }
    Err(Error::usage(format!(
        "the backup was made with GitLab {wanted} (image {}), `{container}` runs GitLab {running}; \
         restore with --image REF naming a GitLab {wanted} image to recreate the container with",
        manifest.get("image").unwrap_or("unknown")
    )))
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
