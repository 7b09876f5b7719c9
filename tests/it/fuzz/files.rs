//! Fuzz targets for the files an operator writes: the catalog, the directory, admin tokens and
//! the settings. A mistake is a clear error at start or in `config check`, never a panic.

use super::{any_text, clear_error, fuzz, mutated};
use proptest::prelude::*;
use warden::admin::tokens::TokenSet;
use warden::directory::file::FileDirectory;
use warden::domain::Catalog;

/// The shipped examples, and short slices of them (half a table, a key without its value).
fn samples(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec![text.to_string()];
    for chunk in lines.chunks(12) {
        out.push(chunk.join("\n"));
    }
    out
}

#[test]
fn catalog_files_never_panic_and_rejections_say_why() {
    let inputs = prop_oneof![
        mutated(samples(warden::app::EXAMPLE_CATALOG)),
        any_text(400)
    ];
    fuzz("catalog_files", inputs, |text| {
        match Catalog::from_toml(&text) {
            Ok(_) => Ok(()),
            Err(e) => clear_error(e),
        }
    });
}

#[test]
fn directory_files_never_panic_and_rejections_say_why() {
    let text = include_str!("../../../directory.example.toml");
    let inputs = prop_oneof![mutated(samples(text)), any_text(400)];
    fuzz(
        "directory_files",
        inputs,
        |text| match FileDirectory::from_toml(&text) {
            Ok(_) => Ok(()),
            Err(e) => clear_error(e),
        },
    );
}

#[test]
fn token_files_never_panic_and_rejections_say_why() {
    let sample = "[[token]]\nname = \"ops\"\nrole = \"admin\"\nperson = \"dana\"\nhash = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n".to_string();
    let inputs = prop_oneof![mutated(vec![sample]), any_text(300)];
    fuzz("token_files", inputs, |text| {
        match TokenSet::from_toml(&text) {
            Ok(_) => Ok(()),
            Err(e) => clear_error(e),
        }
    });
}

#[test]
fn settings_files_never_panic_and_rejections_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warden.toml");
    let text = include_str!("../../../warden.example.toml");
    let inputs = prop_oneof![mutated(samples(text)), any_text(300)];
    fuzz("settings_files", inputs, |text| {
        std::fs::write(&path, text).unwrap();
        match warden::config::load(Some(&path)) {
            Ok(_) => Ok(()),
            Err(e) => clear_error(e),
        }
    });
}
