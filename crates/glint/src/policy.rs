//! The authorization rules in effect — Glance's defaults with the
//! operator's `[oslo_policy] policy_file` applied — and the `glint policy`
//! commands that show and try them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use glint_core::RequestContext;
use glint_core::remote::{self, AsyncRemoteCheck};
use glint_policy::{Enforcer, Target};
use serde_json::Value;

use crate::config::GlanceConfig;
use crate::remote_policy::HttpRemoteCheck;

/// Glance's default rules with the configured overrides applied. A policy
/// file that cannot be read or that holds a malformed rule is an error
/// naming the file (and the rule); references to undefined rules are only
/// warned about, as oslo.policy does.
pub fn load(conf: &GlanceConfig) -> anyhow::Result<Enforcer> {
    let mut enforcer = Enforcer::with_glance_defaults();
    if let Some(path) = conf.policy_file_path()? {
        apply_file(&mut enforcer, &path)?;
        let overridden = enforcer.entries().filter(|(_, e)| e.overridden).count();
        tracing::info!(path = %path.display(), rules = overridden, "policy overrides applied");
    }
    for problem in enforcer.check_rules() {
        tracing::warn!("policy: {problem}");
    }
    Ok(enforcer)
}

fn apply_file(enforcer: &mut Enforcer, path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy file {}", path.display()))?;
    enforcer
        .load_overrides(&text, &path.display().to_string())
        .context("invalid policy file")
}

/// `glint policy …`: look at the authorization rules without a server.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the rules in effect as a policy file (YAML), each with its
    /// description and whether the policy file overrides it.
    List {
        #[command(flatten)]
        config: ConfigArgs,
        /// Only the rules the policy file changes or adds.
        #[arg(long)]
        overridden: bool,
    },
    /// Decide rules for a caller and a target, printing `passed` or
    /// `failed` per rule. Exits 0 when every rule checked passed, 2 when
    /// one failed.
    Check {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        request: CheckArgs,
    },
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// A glance-api.conf whose [oslo_policy] policy_file applies; repeat to
    /// merge several, later ones win.
    #[arg(long = "config-file", value_name = "PATH")]
    config_files: Vec<PathBuf>,
    /// A policy file to apply, instead of the one the configuration names.
    #[arg(long = "policy-file", value_name = "PATH")]
    policy_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rule to decide; repeat for several. Without it every rule is decided.
    #[arg(long = "rule", value_name = "NAME")]
    rules: Vec<String>,
    /// The caller's roles, comma separated (as in a token: admin implies
    /// nothing here, list member and reader too if the token would).
    #[arg(long, value_name = "ROLES", value_delimiter = ',', default_value = "")]
    roles: Vec<String>,
    /// The project the caller's token is scoped to.
    #[arg(long = "project-id", value_name = "ID")]
    project_id: Option<String>,
    /// The caller's user id.
    #[arg(long = "user-id", value_name = "ID")]
    user_id: Option<String>,
    /// A target attribute, e.g. `project_id=<image owner>` or
    /// `visibility=shared`; repeat for several.
    #[arg(long = "target", value_name = "KEY=VALUE")]
    target: Vec<String>,
    /// A JSON object of target attributes, applied before `--target`.
    #[arg(long = "target-file", value_name = "PATH")]
    target_file: Option<PathBuf>,
}

/// Runs a `glint policy` command; `Ok(false)` means a checked rule failed.
pub fn run(command: PolicyCommand, out: &mut dyn Write) -> anyhow::Result<bool> {
    match command {
        PolicyCommand::List { config, overridden } => {
            let enforcer = enforcer_for(&config)?;
            write_list(&enforcer, overridden, out)?;
            Ok(true)
        }
        PolicyCommand::Check { config, request } => {
            let enforcer = enforcer_for(&config)?;
            let (conf, _warnings) = GlanceConfig::load(&config.config_files)?;
            let remote = HttpRemoteCheck::new(
                conf.oslo_policy.remote_content_type,
                conf.oslo_policy.remote_timeout,
            )?;
            check(&enforcer, &request, &remote, out)
        }
    }
}

fn enforcer_for(args: &ConfigArgs) -> anyhow::Result<Enforcer> {
    let (conf, _warnings) =
        GlanceConfig::load(&args.config_files).context("invalid configuration")?;
    match &args.policy_file {
        Some(path) => {
            let mut enforcer = Enforcer::with_glance_defaults();
            apply_file(&mut enforcer, path)?;
            Ok(enforcer)
        }
        None => load(&conf),
    }
}

fn write_list(
    enforcer: &Enforcer,
    only_overridden: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut first = true;
    for (name, entry) in enforcer.entries() {
        if only_overridden && !entry.overridden {
            continue;
        }
        if !first {
            writeln!(out)?;
        }
        first = false;
        if let Some(description) = entry.description {
            for line in description.lines() {
                writeln!(out, "# {line}")?;
            }
        }
        if !entry.scope_types.is_empty() {
            writeln!(out, "# Scope types: {}", entry.scope_types.join(", "))?;
        }
        if entry.overridden {
            writeln!(out, "# Overridden by the policy file.")?;
        }
        writeln!(
            out,
            "{}: {}",
            yaml_string(name),
            yaml_string(&entry.rule.to_string())
        )?;
    }
    Ok(())
}

/// A double-quoted YAML (and JSON) string.
fn yaml_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

fn check(
    enforcer: &Enforcer,
    args: &CheckArgs,
    remote: &dyn AsyncRemoteCheck,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let target = target(args)?;
    let roles: Vec<String> = args
        .roles
        .iter()
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .collect();
    let ctx = RequestContext::new(
        String::new(),
        args.user_id.clone(),
        args.project_id.clone(),
        roles,
        enforcer,
    );
    let names: Vec<String> = if args.rules.is_empty() {
        enforcer
            .entries()
            .map(|(name, _)| name.to_owned())
            .collect()
    } else {
        for name in &args.rules {
            if enforcer.entry(name).is_none() {
                anyhow::bail!(
                    "no rule named {name:?} (it would be decided by the \"default\" rule); \
                     `glint policy list` shows the rule names"
                );
            }
        }
        args.rules.clone()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut all_passed = true;
    for name in names {
        let passed = runtime.block_on(remote::decide(
            enforcer,
            remote,
            ctx.remote_verdicts(),
            &name,
            &target,
            ctx.credentials(),
        ));
        all_passed &= passed;
        writeln!(out, "{name}: {}", if passed { "passed" } else { "failed" })?;
    }
    Ok(all_passed)
}

fn target(args: &CheckArgs) -> anyhow::Result<Target> {
    let mut target = Target::new();
    if let Some(path) = &args.target_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read target file {}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("target file {} is not JSON", path.display()))?;
        let Value::Object(map) = value else {
            anyhow::bail!("target file {} must hold a JSON object", path.display());
        };
        target.extend(map);
    }
    for pair in &args.target {
        let Some((key, value)) = pair.split_once('=') else {
            anyhow::bail!("--target {pair:?} is not KEY=VALUE");
        };
        target.insert(key.trim().to_owned(), Value::String(value.to_owned()));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use glint_core::remote::DenyRemote as NoRemote;

    use super::*;

    fn request(roles: &str, project: &str, target: &[&str]) -> CheckArgs {
        CheckArgs {
            rules: Vec::new(),
            roles: roles.split(',').map(str::to_owned).collect(),
            project_id: Some(project.to_owned()),
            user_id: Some("u1".to_owned()),
            target: target.iter().map(|t| (*t).to_owned()).collect(),
            target_file: None,
        }
    }

    fn decide(enforcer: &Enforcer, rule: &str, args: CheckArgs) -> (bool, String) {
        let args = CheckArgs {
            rules: vec![rule.to_owned()],
            ..args
        };
        let mut out = Vec::new();
        let passed = check(enforcer, &args, &NoRemote, &mut out).unwrap();
        (passed, String::from_utf8(out).unwrap())
    }

    #[test]
    fn check_follows_glance_defaults_for_owner_and_other_project() {
        let enforcer = Enforcer::with_glance_defaults();
        let owner = request("member,reader", "p1", &["project_id=p1"]);
        assert_eq!(
            decide(&enforcer, "delete_image", owner),
            (true, "delete_image: passed\n".to_owned())
        );
        let other = request("member,reader", "p2", &["project_id=p1"]);
        assert_eq!(
            decide(&enforcer, "delete_image", other),
            (false, "delete_image: failed\n".to_owned())
        );
        let reader = request("reader", "p1", &["project_id=p1"]);
        assert!(!decide(&enforcer, "delete_image", reader).0);
        let admin = request("admin", "p9", &["project_id=p1"]);
        assert!(decide(&enforcer, "delete_image", admin).0);
    }

    #[test]
    fn check_of_unknown_rule_is_an_error() {
        let enforcer = Enforcer::with_glance_defaults();
        let args = CheckArgs {
            rules: vec!["no_such_rule".to_owned()],
            ..request("admin", "p1", &[])
        };
        let err = check(&enforcer, &args, &NoRemote, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("no_such_rule"), "{err}");
    }

    #[test]
    fn check_without_rule_decides_every_rule() {
        let enforcer = Enforcer::with_glance_defaults();
        let mut out = Vec::new();
        check(&enforcer, &request("admin", "p1", &[]), &NoRemote, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), enforcer.entries().count());
        assert!(text.contains("deactivate: passed\n"), "{text}");
    }

    #[test]
    fn bad_target_pair_is_an_error() {
        let args = request("admin", "p1", &["no-equals-sign"]);
        assert!(target(&args).is_err());
    }

    #[test]
    fn list_prints_a_policy_file_that_reads_back_to_the_same_rules() {
        let mut enforcer = Enforcer::with_glance_defaults();
        enforcer
            .load_overrides(
                "\"deactivate\": \"role:admin or role:operator\"\n",
                "p.yaml",
            )
            .unwrap();
        let mut out = Vec::new();
        write_list(&enforcer, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("# Overridden by the policy file.\n\"deactivate\": "),
            "{text}"
        );

        let mut reread = Enforcer::new();
        reread.load_overrides(&text, "listed.yaml").unwrap();
        let original: Vec<(String, String)> = enforcer
            .rules()
            .map(|(n, r)| (n.to_owned(), r.to_string()))
            .collect();
        let listed: Vec<(String, String)> = reread
            .rules()
            .map(|(n, r)| (n.to_owned(), r.to_string()))
            .collect();
        assert_eq!(original, listed);
    }

    #[test]
    fn list_overridden_prints_only_changed_rules() {
        let mut enforcer = Enforcer::with_glance_defaults();
        enforcer
            .load_overrides("\"get_images\": \"role:reader\"\n", "p.yaml")
            .unwrap();
        let mut out = Vec::new();
        write_list(&enforcer, true, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with("\"get_images\": \"role:reader\"\n"),
            "{text}"
        );
        assert_eq!(text.matches(": \"").count(), 1, "{text}");
    }

    #[test]
    fn malformed_policy_file_names_the_rule() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, "\"add_image\": \"role:admin or (\"\n").unwrap();
        let mut enforcer = Enforcer::with_glance_defaults();
        let err = format!("{:#}", apply_file(&mut enforcer, &path).unwrap_err());
        assert!(err.contains("add_image"), "{err}");
        assert!(err.contains("policy.yaml"), "{err}");
    }
}
