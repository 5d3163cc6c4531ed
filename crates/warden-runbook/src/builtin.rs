//! The five runbooks of the spec (`shared/spec/incident-runbooks.md`), embedded in the binary.
//! Every checklist item, diagnostic, common cause, permanent fix and closure criterion of the
//! spec is a step; the YAML sources are in `crates/warden-runbook/runbooks/`.

use std::path::Path;

use crate::{LintError, Runbook};

/// `(id, YAML)` of each built-in runbook, in the order of the spec.
pub const SOURCES: [(&str, &str); 5] = [
    (
        "pipeline-failure",
        include_str!("../runbooks/pipeline-failure.yaml"),
    ),
    (
        "serving-latency",
        include_str!("../runbooks/serving-latency.yaml"),
    ),
    (
        "drift-detector",
        include_str!("../runbooks/drift-detector.yaml"),
    ),
    (
        "feature-store",
        include_str!("../runbooks/feature-store.yaml"),
    ),
    (
        "model-regression",
        include_str!("../runbooks/model-regression.yaml"),
    ),
];

/// The five built-in runbooks, parsed.
///
/// # Errors
/// Lint errors of a built-in runbook (a bug: the test suite parses them all).
pub fn all() -> Result<Vec<Runbook>, Vec<LintError>> {
    SOURCES
        .iter()
        .map(|(id, yaml)| crate::parse(Path::new(&format!("builtin:{id}")), yaml))
        .collect()
}

/// The runbooks in effect: the built-in ones not `disabled`, then every `.yaml`/`.yml` file
/// under `paths` (files or directories, not recursive). A user runbook with a built-in id
/// replaces the built-in one, which is how the built-ins are edited.
///
/// # Errors
/// Every lint error of every file (the runbooks are all-or-nothing, so a typo never silently
/// drops a runbook).
pub fn load_all(
    paths: &[std::path::PathBuf],
    disabled: &[String],
) -> Result<Vec<Runbook>, Vec<LintError>> {
    let (runbooks, errors) = load_all_lenient(paths, disabled)?;
    if errors.is_empty() {
        Ok(runbooks)
    } else {
        Err(errors)
    }
}

/// As [`load_all`], but the runbooks that do load are returned with the errors of the rest,
/// so a check can go on to what depends on them and report everything at once.
///
/// # Errors
/// A built-in runbook that does not load (a bug, caught by the tests).
pub fn load_all_lenient(
    paths: &[std::path::PathBuf],
    disabled: &[String],
) -> Result<(Vec<Runbook>, Vec<LintError>), Vec<LintError>> {
    let mut runbooks: Vec<Runbook> = all()?
        .into_iter()
        .filter(|runbook| !disabled.iter().any(|id| id == runbook.id.as_str()))
        .collect();
    let mut errors = Vec::new();
    for file in runbook_files(paths, &mut errors) {
        match crate::load(&file) {
            Ok(runbook) => match runbooks.iter_mut().find(|known| known.id == runbook.id) {
                Some(known) if known.is_built_in() => *known = runbook,
                Some(known) => errors.push(LintError::unlocated(
                    &file,
                    "id",
                    format!(
                        "runbook id {} is also defined in {}",
                        runbook.id,
                        known.source.display()
                    ),
                )),
                None => runbooks.push(runbook),
            },
            Err(file_errors) => errors.extend(file_errors),
        }
    }
    Ok((runbooks, errors))
}

/// The runbook files named by `paths`, sorted for a stable order.
pub fn runbook_files(
    paths: &[std::path::PathBuf],
    errors: &mut Vec<LintError>,
) -> Vec<std::path::PathBuf> {
    let is_yaml = |path: &Path| {
        path.extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
    };
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut found: Vec<_> = entries
                        .filter_map(Result::ok)
                        .map(|entry| entry.path())
                        .filter(|file| file.is_file() && is_yaml(file))
                        .collect();
                    found.sort();
                    files.extend(found);
                }
                Err(err) => errors.push(LintError::unlocated(
                    path,
                    "",
                    format!("cannot read directory: {err}"),
                )),
            }
        } else if path.exists() {
            files.push(path.clone());
        } else {
            errors.push(LintError::unlocated(path, "", "no such file or directory"));
        }
    }
    files
}
