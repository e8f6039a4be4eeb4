use glint_core::{ImportPlugin, OutputFormat, PluginSettings};

use super::{config, error, warnings};

#[test]
fn no_plugins_by_default_as_in_glance() {
    let plugins = config("").import_plugins;
    assert_eq!(plugins, PluginSettings::default());
    assert!(plugins.plugins.is_empty());
    assert_eq!(plugins.conversion.output_format, OutputFormat::Raw);
    assert_eq!(plugins.inject.ignore_user_roles, ["admin"]);
}

#[test]
fn plugins_and_their_options_are_read_in_order() {
    let text = "[image_import_opts]\n\
                image_import_plugins = [inject_image_metadata, image_decompression, image_conversion, no_op]\n\
                [image_conversion]\noutput_format = qcow2\n\
                [inject_metadata_properties]\nignore_user_roles = admin, service\n\
                inject = hw_rng_model:virtio, os_distro : ubuntu\n";
    let plugins = config(text).import_plugins;
    assert_eq!(
        plugins.plugins,
        [
            ImportPlugin::InjectMetadata,
            ImportPlugin::Decompression,
            ImportPlugin::Conversion,
            ImportPlugin::NoOp
        ]
    );
    assert_eq!(plugins.conversion.output_format, OutputFormat::Qcow2);
    assert_eq!(plugins.inject.ignore_user_roles, ["admin", "service"]);
    assert_eq!(
        plugins.inject.inject,
        [
            ("hw_rng_model".to_owned(), "virtio".to_owned()),
            ("os_distro".to_owned(), "ubuntu".to_owned())
        ]
    );
    assert!(warnings(text).is_empty(), "{:?}", warnings(text));
}

#[test]
fn an_unknown_plugin_stops_the_start() {
    let msg = error("[image_import_opts]\nimage_import_plugins = image_conversion, virus_scan\n");
    assert_eq!(
        msg,
        "invalid value 'image_conversion, virus_scan' for option [image_import_opts] \
         image_import_plugins: unknown import plugin 'virus_scan' (known: image_decompression, \
         image_conversion, inject_image_metadata, no_op)"
    );
    let msg = error("[image_import_opts]\nimage_import_plugins = no_op, no_op\n");
    assert!(
        msg.contains("import plugin 'no_op' is listed twice"),
        "{msg}"
    );
}

#[test]
fn bad_conversion_and_inject_values_stop_the_start() {
    let msg = error("[image_conversion]\noutput_format = vhdx\n");
    assert!(msg.contains("must be one of qcow2, raw, vmdk"), "{msg}");
    let msg = error("[inject_metadata_properties]\ninject = novalue\n");
    assert!(msg.contains("is not of the form key:value"), "{msg}");
}
