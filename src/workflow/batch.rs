//! "What does the model say for this whole folder": the files a folder, a glob or a
//! list names, each run through [`super::predict`] on one target, one row per file. A
//! file that cannot be read or is no image becomes an error row and the run goes on.
//! Rows export as CSV (RFC 4180 quoting) or JSON.

use super::WorkflowError;
use super::classify::Ranking;
use super::image_request::ImagePlan;
use super::open;
use super::predict;
use super::target::Target;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One class of a row's top-k.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankedClass {
    pub class: usize,
    pub label: Option<String>,
    pub probability: f32,
}

/// One file's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BatchRow {
    pub file: PathBuf,
    /// The top-k, best first; empty on an error row.
    pub top_k: Vec<RankedClass>,
    /// The model run's latency (request sent to outputs decoded); `None` on an error row.
    pub latency_ms: Option<f64>,
    /// Why this file has no result (the run went on).
    pub error: Option<String>,
}

impl BatchRow {
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
}

/// Every row of a run, in the order the files were listed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BatchReport {
    pub rows: Vec<BatchRow>,
}

impl BatchReport {
    pub fn failures(&self) -> usize {
        self.rows.iter().filter(|row| row.failed()).count()
    }
}

/// The files `specs` name: a folder gives its files (not its sub-folders, nor hidden
/// files), sorted by name; a pattern with `*`, `?` or `[...]` in its last part gives
/// the matching files of its folder, sorted; any other path is taken as one file (a
/// missing one becomes an error row, as an unreadable one does).
pub fn list_files(specs: &[PathBuf]) -> Result<Vec<PathBuf>, WorkflowError> {
    let mut files = Vec::new();
    for spec in specs {
        if spec.is_dir() {
            files.extend(folder_files(spec, |_| true)?);
            continue;
        }
        let name = spec
            .file_name()
            .map(|name| name.to_string_lossy().into_owned());
        match name {
            Some(pattern) if is_pattern(&pattern) => {
                let folder = match spec.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let matched = folder_files(&folder, |name| wildcard_match(&pattern, name))?;
                if matched.is_empty() {
                    return Err(WorkflowError::Setting(format!(
                        "no file matches {}",
                        spec.display()
                    )));
                }
                files.extend(matched);
            }
            _ => files.push(spec.clone()),
        }
    }
    if files.is_empty() {
        return Err(WorkflowError::Setting(
            "no files to predict: name a folder of images, a pattern such as photos/*.jpg, or image files"
                .into(),
        ));
    }
    Ok(files)
}

/// Whether `folder` is a folder with at least one file named like an image (what the
/// app runs as a batch when it is dropped and is no SavedModel).
pub fn holds_images(folder: &Path) -> bool {
    let is_image = |name: &str| {
        Path::new(name)
            .extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| open::IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
    };
    folder.is_dir()
        && folder_files(folder, is_image)
            .map(|files| !files.is_empty())
            .unwrap_or(false)
}

fn is_pattern(name: &str) -> bool {
    name.contains(['*', '?', '['])
}

fn folder_files(folder: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, WorkflowError> {
    let read_error = |source| WorkflowError::Read {
        path: folder.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_file() || !keep(&name) {
            continue;
        }
        files.push(entry.path());
    }
    files.sort();
    Ok(files)
}

/// Shell-style matching of one file name: `*` any run, `?` one character, `[abc]`
/// / `[a-z]` / `[!a]` one character of (or not of) a set.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches_from(&pattern, &name)
}

fn matches_from(pattern: &[char], name: &[char]) -> bool {
    match pattern.first() {
        None => name.is_empty(),
        Some('*') => (0..=name.len()).any(|skip| matches_from(&pattern[1..], &name[skip..])),
        Some('?') => !name.is_empty() && matches_from(&pattern[1..], &name[1..]),
        Some('[') => match (set_end(pattern), name.first()) {
            (Some(end), Some(&c)) => {
                in_set(&pattern[1..end], c) && matches_from(&pattern[end + 1..], &name[1..])
            }
            (Some(_), None) => false,
            // An unclosed '[' is an ordinary character.
            (None, _) => name.first() == Some(&'[') && matches_from(&pattern[1..], &name[1..]),
        },
        Some(&literal) => name.first() == Some(&literal) && matches_from(&pattern[1..], &name[1..]),
    }
}

fn set_end(pattern: &[char]) -> Option<usize> {
    // A ']' right after '[' or '[!' belongs to the set.
    let start = if pattern.get(1) == Some(&'!') { 2 } else { 1 };
    (start + 1..pattern.len()).find(|&at| pattern[at] == ']')
}

fn in_set(set: &[char], c: char) -> bool {
    let (negated, set) = match set.split_first() {
        Some(('!', rest)) => (true, rest),
        _ => (false, set),
    };
    let mut found = false;
    let mut at = 0;
    while at < set.len() {
        if at + 2 < set.len() && set[at + 1] == '-' {
            found |= (set[at]..=set[at + 2]).contains(&c);
            at += 3;
        } else {
            found |= set[at] == c;
            at += 1;
        }
    }
    found != negated
}

/// Runs every file through `target`, one after another (latencies stay comparable),
/// calling `progress(done, total)` after each.
pub async fn run<T: Target>(
    target: &T,
    plan: &ImagePlan,
    ranking: &Ranking,
    files: &[PathBuf],
    mut progress: impl FnMut(usize, usize),
) -> BatchReport {
    let mut rows = Vec::with_capacity(files.len());
    for (done, file) in files.iter().enumerate() {
        rows.push(row(target, plan, ranking, file).await);
        progress(done + 1, files.len());
    }
    BatchReport { rows }
}

async fn row<T: Target>(target: &T, plan: &ImagePlan, ranking: &Ranking, file: &Path) -> BatchRow {
    let failed = |err: WorkflowError| BatchRow {
        file: file.to_path_buf(),
        top_k: Vec::new(),
        latency_ms: None,
        error: Some(format!("{err:#}")),
    };
    let image = match open::read_image(file) {
        Ok(image) => image,
        Err(err) => return failed(err),
    };
    let prediction =
        match predict::predict_image(target, plan, Arc::new(image.bytes), ranking).await {
            Ok(prediction) => prediction,
            Err(err) => return failed(err),
        };
    let ranked = match prediction.ranked {
        Ok(ranked) => ranked,
        Err(err) => return failed(err),
    };
    let top_k = ranked
        .rows
        .first()
        .into_iter()
        .flatten()
        .map(|class| RankedClass {
            class: class.class,
            label: class.label.clone(),
            probability: class.score,
        })
        .collect();
    BatchRow {
        file: file.to_path_buf(),
        top_k,
        latency_ms: Some(prediction.answer.latency_ms),
        error: None,
    }
}

impl BatchReport {
    /// The rows as CSV: `file,latency_ms,class_1,label_1,probability_1,…,error`, with
    /// as many class columns as the longest top-k; fields quoted where they hold a
    /// comma, a quote or a line break (RFC 4180).
    pub fn csv(&self) -> String {
        let k = self
            .rows
            .iter()
            .map(|row| row.top_k.len())
            .max()
            .unwrap_or(0);
        let mut header = vec!["file".to_string(), "latency_ms".to_string()];
        for rank in 1..=k {
            header.push(format!("class_{rank}"));
            header.push(format!("label_{rank}"));
            header.push(format!("probability_{rank}"));
        }
        header.push("error".into());
        let mut text = csv_line(&header);
        for row in &self.rows {
            let mut fields = vec![
                row.file.display().to_string(),
                row.latency_ms
                    .map(|ms| format!("{ms:.3}"))
                    .unwrap_or_default(),
            ];
            for rank in 0..k {
                match row.top_k.get(rank) {
                    Some(class) => {
                        fields.push(class.class.to_string());
                        fields.push(class.label.clone().unwrap_or_default());
                        fields.push(format!("{:.6}", class.probability));
                    }
                    None => fields.extend([String::new(), String::new(), String::new()]),
                }
            }
            fields.push(row.error.clone().unwrap_or_default());
            text += &csv_line(&fields);
        }
        text
    }

    /// Writes [`BatchReport::csv`] to `path`.
    pub fn write_csv(&self, path: &Path) -> Result<(), WorkflowError> {
        std::fs::write(path, self.csv()).map_err(|err| WorkflowError::Write {
            path: path.to_path_buf(),
            detail: err.to_string(),
        })
    }
}

fn csv_line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
    quoted.join(",") + "\r\n"
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_a_shell_does() {
        assert!(wildcard_match("*.jpg", "rocket.jpg"));
        assert!(!wildcard_match("*.jpg", "rocket.jpeg"));
        assert!(wildcard_match("c?ffee.*", "coffee.png"));
        assert!(wildcard_match("[a-c]*", "chelsea.png"));
        assert!(!wildcard_match("[!a-c]*", "chelsea.png"));
        assert!(wildcard_match("x[", "x["));
        assert!(!wildcard_match("?", ""));
    }

    #[test]
    fn folders_and_patterns_list_sorted_files_and_a_miss_names_the_pattern() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.png", "a.jpg", ".hidden.png", "c.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let listed = list_files(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<_> = listed
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.jpg", "b.png", "c.txt"]);
        let pattern = dir.path().join("*.png");
        assert_eq!(
            list_files(std::slice::from_ref(&pattern)).unwrap(),
            [dir.path().join("b.png")]
        );
        let miss = dir.path().join("*.gif");
        assert_eq!(
            list_files(std::slice::from_ref(&miss))
                .unwrap_err()
                .to_string(),
            format!("no file matches {}", miss.display())
        );
    }

    #[test]
    fn csv_quotes_commas_quotes_and_line_breaks() {
        let report = BatchReport {
            rows: vec![
                BatchRow {
                    file: "a,b.png".into(),
                    top_k: vec![RankedClass {
                        class: 7,
                        label: Some("say \"hi\"".into()),
                        probability: 0.5,
                    }],
                    latency_ms: Some(1.25),
                    error: None,
                },
                BatchRow {
                    file: "x.txt".into(),
                    top_k: Vec::new(),
                    latency_ms: None,
                    error: Some("line one\nline two".into()),
                },
            ],
        };
        assert_eq!(
            report.csv(),
            "file,latency_ms,class_1,label_1,probability_1,error\r\n\
             \"a,b.png\",1.250,7,\"say \"\"hi\"\"\",0.500000,\r\n\
             x.txt,,,,,\"line one\nline two\"\r\n"
        );
        assert_eq!(report.failures(), 1);
    }
}
