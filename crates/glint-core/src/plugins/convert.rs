//! `image_conversion`: the staged image converted by `qemu-img convert` to
//! `[image_conversion] output_format`, as Glance does, with its checks: the
//! input is inspected first (an unsafe image, or one whose format is not
//! its `disk_format`, never reaches qemu-img; an ISO stays an ISO), the
//! output after (it must be the format asked for). qemu-img is told the
//! input's format and that it is a local file (`--image-opts` with the
//! `file` protocol), so it cannot probe or open anything over the network,
//! and the inspection has already refused backing files, external data
//! files and VMDK extents. It runs with limits on CPU time, address space
//! and file size (`setrlimit` before it starts), is killed after a
//! wall-clock timeout or when glint dies, and its output replaces the
//! staged file only once checked.

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use glint_db::Versioned;
use glint_format::{DetectedFormat, Inspection, Inspector, UploadRules};

use super::failed;
use super::settings::{ConversionConfig, ConversionLimits, OutputFormat};
use crate::error::CoreError;
use crate::images::ImageService;

/// Why a conversion was refused or failed (the task's message).
const DISALLOWED: &str = "Image has disallowed configuration";
const MISMATCH: &str = "Image format mismatch";
const UNEXPECTED_OUTPUT: &str = "Converted image in unexpected format";

impl ImageService {
    pub(super) async fn convert_staged(
        &self,
        current: Versioned,
        task_id: &str,
        path: PathBuf,
        config: &ConversionConfig,
    ) -> Result<Versioned, CoreError> {
        let id = current.image.id;
        let started = std::time::Instant::now();
        let claimed = current.image.disk_format.clone().unwrap_or_default();
        let target = config.output_format.as_str();
        let rules = self.config.upload_rules.clone();
        let input = inspect_file(path.clone()).await?;
        let detected = checked_format(&input, &rules).inspect_err(|e| {
            tracing::warn!(image.id = %id, claimed, format = %input.format, error = %e, "conversion input refused");
        })?;
        if detected == "iso" && claimed == "iso" {
            return Ok(current);
        }
        if detected == "iso" {
            return Err(failed(DISALLOWED));
        }
        if detected != claimed {
            tracing::warn!(image.id = %id, claimed, detected, "conversion input is not its disk_format");
            return Err(failed(MISMATCH));
        }
        if claimed == target {
            return Ok(current);
        }
        let cap = self.config.image_size_cap;
        if config.output_format == OutputFormat::Raw
            && input.virtual_size.is_some_and(|size| size > cap)
        {
            return Err(failed(format!(
                "Converted image would exceed the image size cap of {cap} bytes"
            )));
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let out = path.with_file_name(format!(".{name}.{target}.partial"));
        let mut qemu_img_ms = 0;
        let converted = async {
            let qemu_started = std::time::Instant::now();
            run_qemu_img(config, &claimed, &path, &out, cap).await?;
            qemu_img_ms = qemu_started.elapsed().as_millis() as u64;
            let output = inspect_file(out.clone()).await?;
            let format = checked_format(&output, &rules).map_err(|_| failed(UNEXPECTED_OUTPUT))?;
            if format != target {
                tracing::warn!(image.id = %id, format, target, "conversion output is not the format asked for");
                return Err(failed(UNEXPECTED_OUTPUT));
            }
            replace_file(&out, &path)
                .await
                .map_err(|e| CoreError::Internal(format!("converted data: {e}")))
        }
        .await;
        if let Err(e) = converted {
            let _ = tokio::fs::remove_file(&out).await;
            return Err(e);
        }
        let duration_ms = started.elapsed().as_millis() as u64;
        tracing::info!(
            image.id = %id,
            from = claimed,
            to = target,
            duration_ms,
            qemu_img_ms,
            "image converted"
        );
        self.save_plugin_change(current, task_id, |image| {
            image.disk_format = Some(target.to_owned());
            image.container_format = Some("bare".to_owned());
        })
        .await
    }
}

/// Puts `from` in the place of `to`. `to` is removed first: a rename over
/// an existing file makes ext4 start writing the new one back at once
/// (`auto_da_alloc`), which held a conversion up by half a second per GiB.
pub(super) async fn replace_file(from: &Path, to: &Path) -> std::io::Result<()> {
    match tokio::fs::remove_file(to).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    tokio::fs::rename(from, to).await
}

/// The format Glance compares with `disk_format` (a GPT disk is raw), if
/// the image is safe.
fn checked_format(inspection: &Inspection, rules: &UploadRules) -> Result<&'static str, CoreError> {
    let format = match inspection.format {
        DetectedFormat::Gpt => DetectedFormat::Raw,
        other => other,
    };
    glint_format::check_upload(Some(format.as_str()), Some("bare"), inspection, rules)
        .map_err(|_| failed(DISALLOWED))?;
    Ok(format.as_str())
}

/// Inspects a file, reading only what inspection looks at: its start and
/// its end.
async fn inspect_file(path: PathBuf) -> Result<Inspection, CoreError> {
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        let len = file.metadata()?.len();
        let head = Inspector::HEAD_BYTES as u64;
        let tail = Inspector::TAIL_BYTES as u64;
        let mut inspector = Inspector::new();
        if len <= head + tail {
            let mut all = Vec::new();
            file.read_to_end(&mut all)?;
            inspector.feed(&all);
            return Ok(inspector.finish());
        }
        let mut buf = vec![0; head as usize];
        file.read_exact(&mut buf)?;
        inspector.feed(&buf);
        inspector.skip(len - head - tail);
        file.seek(std::io::SeekFrom::Start(len - tail))?;
        buf.truncate(tail as usize);
        file.read_exact(&mut buf)?;
        inspector.feed(&buf);
        Ok(inspector.finish())
    })
    .await
    .map_err(|e| CoreError::Internal(format!("inspection task: {e}")))?
    .map_err(|e: std::io::Error| CoreError::Internal(format!("cannot read staged data: {e}")))
}

/// `qemu-img`'s option syntax doubles a comma inside a value.
fn opt_value(path: &Path) -> String {
    path.to_string_lossy().replace(',', ",,")
}

async fn run_qemu_img(
    config: &ConversionConfig,
    source_format: &str,
    input: &Path,
    output: &Path,
    size_cap: u64,
) -> Result<(), CoreError> {
    let image_opts = format!(
        "driver={source_format},file.driver=file,file.filename={}",
        opt_value(input)
    );
    let mut command = tokio::process::Command::new(&config.qemu_img);
    command
        .arg("convert")
        .arg("--image-opts")
        .arg(image_opts)
        .arg("-O")
        .arg(config.output_format.as_str())
        .arg(output)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let limits = config.limits;
    limit_child(&mut command, limits, size_cap);
    let child = command
        .spawn()
        .map_err(|e| failed(format!("cannot run qemu-img: {e}")))?;
    let waited = tokio::time::timeout(limits.timeout, child.wait_with_output()).await;
    let output = match waited {
        Err(_) => {
            tracing::warn!(
                timeout_s = limits.timeout.as_secs(),
                "qemu-img convert killed after its timeout"
            );
            return Err(failed("Image conversion timed out"));
        }
        Ok(Err(e)) => return Err(failed(format!("cannot run qemu-img: {e}"))),
        Ok(Ok(output)) => output,
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let detail = stderr.chars().take(1024).collect::<String>();
        tracing::warn!(status = %output.status, stderr = %detail, "qemu-img convert failed");
        return Err(failed("Image conversion failed"));
    }
    Ok(())
}

/// Limits set in the child between fork and exec.
#[allow(
    unsafe_code,
    reason = "pre_exec runs setrlimit and prctl in the forked child, see the SAFETY note"
)]
fn limit_child(command: &mut tokio::process::Command, limits: ConversionLimits, size_cap: u64) {
    let cpu = limits.cpu_time.as_secs().max(1) as libc::rlim_t;
    let space = limits.address_space as libc::rlim_t;
    let fsize = libc::rlim_t::try_from(size_cap).unwrap_or(libc::RLIM_INFINITY);
    let set = |resource, value: libc::rlim_t| {
        let limit = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        // SAFETY: setrlimit reads the struct it is given and is
        // async-signal-safe, as the child of a fork requires.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the closure only calls setrlimit and prctl, both
    // async-signal-safe, and touches no memory shared with the parent.
    unsafe {
        command.pre_exec(move || {
            set(libc::RLIMIT_CPU, cpu)?;
            set(libc::RLIMIT_AS, space)?;
            set(libc::RLIMIT_FSIZE, fsize)?;
            // Killed with glint, never left running alone.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
