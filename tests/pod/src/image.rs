//! The release image's root file system and config, unpacked from buildah's
//! store (the image `scripts/build-image.sh` builds): `buildah from` + `mount`,
//! a copy of the tree, then the working container goes again. Storage is vfs,
//! as the build script uses.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::bundle::ImageConfig;

fn buildah(args: &[&str]) -> Result<String, String> {
    let out = Command::new("buildah")
        .args(args)
        .env("STORAGE_DRIVER", std::env::var("STORAGE_DRIVER").unwrap_or_else(|_| "vfs".into()))
        .output()
        .map_err(|e| format!("run buildah (apt-get install buildah; scripts/setup.sh does): {e}"))?;
    if !out.status.success() {
        return Err(format!("buildah {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The image's ID (short), to key an unpacked copy on.
pub fn id(image: &str) -> Result<String, String> {
    let v: Value = serde_json::from_str(&buildah(&["inspect", "--type", "image", image])?)
        .map_err(|e| format!("buildah inspect {image}: {e}"))?;
    let id = v["FromImageID"].as_str().ok_or_else(|| format!("buildah inspect {image}: no image ID"))?;
    Ok(id.chars().take(16).collect())
}

/// Unpack `image` into `dir/rootfs` and `dir/image.json` (its OCI config).
pub fn unpack(image: &str, dir: &Path) -> Result<PathBuf, String> {
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).map_err(|e| format!("create {}: {e}", rootfs.display()))?;
    let config = buildah(&["inspect", "--type", "image", image])?;
    let v: Value = serde_json::from_str(&config).map_err(|e| format!("buildah inspect {image}: {e}"))?;
    std::fs::write(dir.join("image.json"), v["OCIv1"]["config"].to_string()).map_err(|e| e.to_string())?;
    let ctr = buildah(&["from", "--pull=never", image])?;
    let copied = buildah(&["mount", &ctr]).and_then(|mnt| {
        let st = Command::new("cp")
            .arg("-a")
            .arg(format!("{mnt}/."))
            .arg(&rootfs)
            .status()
            .map_err(|e| format!("cp: {e}"))?;
        if st.success() {
            Ok(())
        } else {
            Err(format!("cp -a {mnt}/. {}: {st}", rootfs.display()))
        }
    });
    let _ = buildah(&["umount", &ctr]);
    let _ = buildah(&["rm", &ctr]);
    copied?;
    Ok(dir.to_path_buf())
}

/// The config `unpack` wrote beside the root file system.
pub fn config(dir: &Path) -> Result<ImageConfig, String> {
    let path = dir.join("image.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let list = |k: &str| {
        v[k].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect::<Vec<_>>()
    };
    Ok(ImageConfig {
        entrypoint: list("Entrypoint"),
        cmd: list("Cmd"),
        env: list("Env"),
        user: v["User"].as_str().unwrap_or("").to_string(),
        workdir: v["WorkingDir"].as_str().unwrap_or("").to_string(),
    })
}
