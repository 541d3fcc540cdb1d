//! Replays the fuzz seeds (`fuzz/corpus/<target>/`) and every input a fuzz run ever failed on
//! (`fuzz/regressions/<target>/`) through the same checks the fuzz targets run
//! (`keyledger::fuzzing`), on the stable toolchain, so `cargo test` keeps them passing
//! without nightly or cargo-fuzz.

use keyledger::fuzzing::{target, TARGETS};
use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

/// Run `check` on every file, and name every file it panics on.
fn replay(check: keyledger::fuzzing::Check, files: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for file in files {
        let data = std::fs::read(file).expect("a readable input");
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            failures.push(file.display().to_string());
        }
    }
    failures
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn every_seed_and_regression_passes_its_target() {
    let mut failures = Vec::new();
    for (name, check) in TARGETS {
        let seeds = inputs(&fuzz_dir().join("corpus").join(name));
        assert!(
            seeds.len() >= 3,
            "fuzz/corpus/{name} has {} seeds; a renamed target would replay nothing",
            seeds.len()
        );
        failures.extend(replay(*check, &seeds));
        failures.extend(replay(
            *check,
            &inputs(&fuzz_dir().join("regressions").join(name)),
        ));
    }
    assert!(failures.is_empty(), "inputs that fail: {failures:#?}");
}

#[test]
fn every_corpus_directory_is_a_target() {
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind)) else {
            continue;
        };
        for entry in entries {
            let name = entry.expect("a readable directory entry").file_name();
            let name = name.to_string_lossy();
            assert!(target(&name).is_some(), "fuzz/{kind}/{name} is no target");
        }
    }
}

#[test]
fn every_target_has_a_fuzz_binary() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for (name, _) in TARGETS {
        assert!(
            manifest.contains(&format!("path = \"fuzz_targets/{name}.rs\"")),
            "fuzz/Cargo.toml has no binary for {name}"
        );
    }
}
