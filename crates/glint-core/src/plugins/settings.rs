//! What the import plugins are given at start: which plugins run, in
//! which order, and their options (`[image_import_opts]`,
//! `[image_conversion]`, `[inject_metadata_properties]`).

use std::path::PathBuf;
use std::time::Duration;

/// One import plugin, by Glance's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportPlugin {
    Decompression,
    Conversion,
    InjectMetadata,
    NoOp,
}

impl ImportPlugin {
    pub const ALL: [ImportPlugin; 4] = [
        ImportPlugin::Decompression,
        ImportPlugin::Conversion,
        ImportPlugin::InjectMetadata,
        ImportPlugin::NoOp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ImportPlugin::Decompression => "image_decompression",
            ImportPlugin::Conversion => "image_conversion",
            ImportPlugin::InjectMetadata => "inject_image_metadata",
            ImportPlugin::NoOp => "no_op",
        }
    }

    pub fn from_name(name: &str) -> Option<ImportPlugin> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    pub(crate) fn needs_file(self) -> bool {
        matches!(self, ImportPlugin::Decompression | ImportPlugin::Conversion)
    }
}

/// The plugins an import runs, in order, and their options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginSettings {
    pub plugins: Vec<ImportPlugin>,
    pub conversion: ConversionConfig,
    pub inject: InjectConfig,
}

/// `[image_conversion] output_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Raw,
    Qcow2,
    Vmdk,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 3] = [OutputFormat::Qcow2, OutputFormat::Raw, OutputFormat::Vmdk];

    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Raw => "raw",
            OutputFormat::Qcow2 => "qcow2",
            OutputFormat::Vmdk => "vmdk",
        }
    }

    pub fn from_name(name: &str) -> Option<OutputFormat> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// What one `qemu-img convert` may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversionLimits {
    /// CPU time (`RLIMIT_CPU`).
    pub cpu_time: Duration,
    /// Address space in bytes (`RLIMIT_AS`).
    pub address_space: u64,
    /// Wall-clock time, after which it is killed.
    pub timeout: Duration,
}

impl Default for ConversionLimits {
    fn default() -> Self {
        ConversionLimits {
            cpu_time: Duration::from_secs(600),
            address_space: 2 << 30,
            timeout: Duration::from_secs(1800),
        }
    }
}

/// `[image_conversion]`, and how glint runs qemu-img.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionConfig {
    pub output_format: OutputFormat,
    /// The qemu-img program (looked up in `PATH` when not a path).
    pub qemu_img: PathBuf,
    pub limits: ConversionLimits,
}

impl Default for ConversionConfig {
    fn default() -> Self {
        ConversionConfig {
            output_format: OutputFormat::default(),
            qemu_img: PathBuf::from("qemu-img"),
            limits: ConversionLimits::default(),
        }
    }
}

/// `[inject_metadata_properties]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectConfig {
    /// `ignore_user_roles`: callers with any of these get nothing injected.
    pub ignore_user_roles: Vec<String>,
    /// `inject`: the properties to set, in the order written.
    pub inject: Vec<(String, String)>,
}

impl Default for InjectConfig {
    fn default() -> Self {
        InjectConfig {
            ignore_user_roles: vec!["admin".into()],
            inject: Vec::new(),
        }
    }
}

/// The key of an import task's input that keeps the caller's roles, which
/// `inject_image_metadata` decides on when the task runs (on any node, and
/// after a restart). Not shown by the tasks API.
pub const CALLER_ROLES: &str = "glint_caller_roles";
