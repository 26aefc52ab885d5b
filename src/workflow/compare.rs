//! Side by side: the same images through two targets (see [`super::compare_target`]
//! for what a target may be). Each image becomes the request each target's signature
//! wants (the [`super::image_request`] rules); per image the report gives top-1
//! agreement, top-5 overlap and the largest absolute difference of every output both
//! targets return; then `requests` sequential requests per target (A first, then B)
//! give p50/p90/p99, throughput and the ratio B/A.

use super::WorkflowError;
use super::classify::{self, Ranking};
pub use super::compare_diff::{max_abs_diff, output_differences};
use super::compare_target::Side;
use super::image_request::{self, ImagePlan, InputMode, Request};
use super::latency::{self, RunPlan, Sample};
use super::open::{self, IMAGE_EXTENSIONS};
use super::target::Target;
use crate::imaging::ImageOptions;
use crate::runtime::NamedTensors;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;

/// Classes compared for the overlap.
pub const TOP_K: usize = 5;

/// One image to compare: its name and bytes, or why it could not be read.
#[derive(Clone, Debug)]
pub struct ImageInput {
    pub name: String,
    pub bytes: Result<Arc<Vec<u8>>, String>,
}

/// The images named by `paths`: files as given, folders as their image files (by
/// extension, sorted by name). A file that cannot be read becomes an error row.
pub fn collect_images(paths: &[PathBuf]) -> Result<Vec<ImageInput>, WorkflowError> {
    let mut images = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| WorkflowError::Read {
                path: path.clone(),
                source,
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|file| file.is_file() && has_image_extension(file))
                .collect();
            files.sort();
            images.extend(files.iter().map(|file| read_input(file)));
        } else {
            images.push(read_input(path));
        }
    }
    if images.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(WorkflowError::Setting(format!(
            "no images in {}: give image files or folders holding .{} files",
            names.join(", "),
            IMAGE_EXTENSIONS.join(", .")
        )));
    }
    Ok(images)
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .map(|ext| ext.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|ext| IMAGE_EXTENSIONS.contains(&ext.as_str()))
}

fn read_input(path: &Path) -> ImageInput {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    ImageInput {
        name,
        bytes: open::read_image(path)
            .map(|image| Arc::new(image.bytes))
            .map_err(|err| err.to_string()),
    }
}

/// What the user chose for the run.
#[derive(Clone, Debug, Default)]
pub struct CompareSettings {
    /// The signature both targets run (default: serving_default, or the only one).
    pub signature: Option<String>,
    pub options: ImageOptions,
    /// Measured requests per target (0: no latency comparison).
    pub requests: u32,
    /// Unmeasured requests per target before the measured ones.
    pub warmup: u32,
}

/// Which side of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Which {
    A,
    B,
}

/// What a running comparison reports as it goes (the app's progress and chart).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Progress {
    /// `done` of `total` images compared.
    Images { done: usize, total: usize },
    /// One latency request of one side.
    Sample { side: Which, sample: Sample },
}

/// One image through both targets.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ImageRow {
    pub image: String,
    pub top1_a: Option<usize>,
    pub top1_b: Option<usize>,
    /// Whether both top-1 classes are the same (`None` when either is not ranked).
    pub top1_agree: Option<bool>,
    /// How many classes the two top-5 lists share.
    pub top5_overlap: Option<usize>,
    pub latency_a_ms: Option<f64>,
    pub latency_b_ms: Option<f64>,
    /// Per output both targets returned with the same shape: max |A − B|.
    pub max_abs_diff: BTreeMap<String, f64>,
    /// Outputs that could not be compared, and why.
    pub not_compared: Vec<String>,
    /// Why this image was not compared (unreadable, a target failed).
    pub error: Option<String>,
}

/// The whole run in a few numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub images: usize,
    pub failed: usize,
    /// Images whose top-1 both targets ranked.
    pub ranked: usize,
    pub top1_agreed: usize,
    /// `top1_agreed / ranked`.
    pub agreement_rate: Option<f64>,
    pub mean_top5_overlap: Option<f64>,
    /// Per output: the largest |A − B| over every image.
    pub max_abs_diff: BTreeMap<String, f64>,
}

/// One side's latency run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SideLatency {
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    /// Successful requests per second of the measured phase's wall time.
    pub throughput_rps: f64,
    pub first_error: Option<String>,
}

/// B divided by A (above 1: B is slower, or for throughput, faster).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Ratios {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub throughput: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LatencyComparison {
    /// The image whose request both runs sent.
    pub image: String,
    pub a: SideLatency,
    pub b: SideLatency,
    pub ratio_b_over_a: Ratios,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CompareReport {
    pub target_a: String,
    pub target_b: String,
    /// How each side's input is built, in one line.
    pub input_a: String,
    pub input_b: String,
    pub images: Vec<ImageRow>,
    pub summary: Summary,
    pub latency: Option<LatencyComparison>,
}

/// Plans the image input of one side.
pub fn plan_side(side: &Side, settings: &CompareSettings) -> Result<ImagePlan, WorkflowError> {
    image_request::plan_for_model(
        &side.model,
        settings.signature.as_deref(),
        settings.options.clone(),
        InputMode::Auto,
        side.model_dir.as_deref(),
    )
}

/// Compares `a` and `b` on `images`, reporting progress as it goes; stops early
/// (with what it has) when `cancel` is set.
pub async fn compare(
    a: &Side,
    b: &Side,
    images: &[ImageInput],
    settings: &CompareSettings,
    cancel: Arc<AtomicBool>,
    progress: UnboundedSender<Progress>,
) -> Result<CompareReport, WorkflowError> {
    let plans = (plan_side(a, settings)?, plan_side(b, settings)?);
    let mut rows = Vec::new();
    let mut latency_requests: Option<(String, Request, Request)> = None;
    for (index, image) in images.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let (row, requests) = compare_image(a, b, &plans, image).await;
        if let (None, Some((request_a, request_b))) = (&latency_requests, requests) {
            latency_requests = Some((image.name.clone(), request_a, request_b));
        }
        rows.push(row);
        let _ = progress.send(Progress::Images {
            done: index + 1,
            total: images.len(),
        });
    }
    let latency = match latency_requests {
        Some((image, request_a, request_b)) if settings.requests > 0 => {
            let a_run = side_latency(a, &request_a, settings, &cancel, &progress, Which::A).await;
            let b_run = side_latency(b, &request_b, settings, &cancel, &progress, Which::B).await;
            Some(LatencyComparison {
                image,
                ratio_b_over_a: ratios(&a_run, &b_run),
                a: a_run,
                b: b_run,
            })
        }
        _ => None,
    };
    Ok(CompareReport {
        target_a: a.label.clone(),
        target_b: b.label.clone(),
        input_a: plans.0.summary(),
        input_b: plans.1.summary(),
        summary: summarise(&rows),
        images: rows,
        latency,
    })
}

/// One image through both sides; the requests built, for the latency runs.
async fn compare_image(
    a: &Side,
    b: &Side,
    plans: &(ImagePlan, ImagePlan),
    image: &ImageInput,
) -> (ImageRow, Option<(Request, Request)>) {
    let mut row = ImageRow {
        image: image.name.clone(),
        ..ImageRow::default()
    };
    let bytes = match &image.bytes {
        Ok(bytes) => bytes,
        Err(err) => {
            row.error = Some(err.trim_end().to_string());
            return (row, None);
        }
    };
    let built = async {
        let request_a = super::predict::build_request(&plans.0, Arc::clone(bytes)).await?;
        let request_b = super::predict::build_request(&plans.1, Arc::clone(bytes)).await?;
        Ok::<_, WorkflowError>((request_a, request_b))
    };
    let (request_a, request_b) = match built.await {
        Ok(requests) => requests,
        Err(err) => {
            row.error = Some(err.to_string().trim_end().to_string());
            return (row, None);
        }
    };
    let answer_a = match a.target.run(&request_a).await {
        Ok(answer) => answer,
        Err(err) => {
            row.error = Some(format!("A: {}", err.to_string().trim_end()));
            return (row, None);
        }
    };
    let answer_b = match b.target.run(&request_b).await {
        Ok(answer) => answer,
        Err(err) => {
            row.error = Some(format!("B: {}", err.to_string().trim_end()));
            return (row, None);
        }
    };
    row.latency_a_ms = Some(answer_a.latency_ms);
    row.latency_b_ms = Some(answer_b.latency_ms);
    let top_a = top_classes(a, &answer_a.outputs);
    let top_b = top_classes(b, &answer_b.outputs);
    if let (Some(top_a), Some(top_b)) = (&top_a, &top_b) {
        row.top1_a = top_a.first().copied();
        row.top1_b = top_b.first().copied();
        row.top1_agree = Some(row.top1_a == row.top1_b);
        row.top5_overlap = Some(top_a.iter().filter(|class| top_b.contains(class)).count());
    }
    (row.max_abs_diff, row.not_compared) = output_differences(&answer_a.outputs, &answer_b.outputs);
    (row, Some((request_a, request_b)))
}

/// The first row's top-5 classes, when the outputs hold class scores.
fn top_classes(side: &Side, outputs: &NamedTensors) -> Option<Vec<usize>> {
    let ranking = Ranking {
        top_k: TOP_K,
        model_dir: side.model_dir.clone(),
        ..Ranking::default()
    };
    let ranked = classify::rank(outputs, &ranking).ok()?;
    let first = ranked.rows.first()?;
    Some(first.iter().map(|prediction| prediction.class).collect())
}

/// Totals over the rows.
pub fn summarise(rows: &[ImageRow]) -> Summary {
    let ranked: Vec<&ImageRow> = rows.iter().filter(|r| r.top1_agree.is_some()).collect();
    let top1_agreed = ranked.iter().filter(|r| r.top1_agree == Some(true)).count();
    let overlaps: Vec<usize> = rows.iter().filter_map(|r| r.top5_overlap).collect();
    let mut max_abs_diff = BTreeMap::new();
    for row in rows {
        for (name, diff) in &row.max_abs_diff {
            let most = max_abs_diff.entry(name.clone()).or_insert(0.0_f64);
            *most = most.max(*diff);
        }
    }
    Summary {
        images: rows.len(),
        failed: rows.iter().filter(|r| r.error.is_some()).count(),
        ranked: ranked.len(),
        top1_agreed,
        agreement_rate: (!ranked.is_empty()).then(|| top1_agreed as f64 / ranked.len() as f64),
        mean_top5_overlap: (!overlaps.is_empty())
            .then(|| overlaps.iter().sum::<usize>() as f64 / overlaps.len() as f64),
        max_abs_diff,
    }
}

/// Warm-up requests, then `settings.requests` sequential measured ones.
async fn side_latency(
    side: &Side,
    request: &Request,
    settings: &CompareSettings,
    cancel: &Arc<AtomicBool>,
    progress: &UnboundedSender<Progress>,
    which: Which,
) -> SideLatency {
    let phase = |requests, warmup| RunPlan {
        requests,
        warmup,
        concurrency: 1,
    };
    let mut first_error = None;
    let (_, warmup_error) = run_phase(
        side,
        request,
        phase(0, settings.warmup),
        cancel,
        progress,
        which,
    )
    .await;
    let started = Instant::now();
    let (samples, error) = run_phase(
        side,
        request,
        phase(settings.requests, 0),
        cancel,
        progress,
        which,
    )
    .await;
    let wall_s = started.elapsed().as_secs_f64();
    for error in [warmup_error, error].into_iter().flatten() {
        first_error.get_or_insert(error);
    }
    let stats = latency::statistics(&samples).snapshot();
    SideLatency {
        requests: stats.count + stats.errors,
        errors: stats.errors,
        p50_ms: stats.p50_ms,
        p90_ms: stats.p90_ms,
        p99_ms: stats.p99_ms,
        mean_ms: stats.mean_ms,
        throughput_rps: if wall_s > 0.0 {
            stats.count as f64 / wall_s
        } else {
            0.0
        },
        first_error,
    }
}

/// One [`latency::run`], its samples forwarded to `progress` and kept.
async fn run_phase(
    side: &Side,
    request: &Request,
    plan: RunPlan,
    cancel: &Arc<AtomicBool>,
    progress: &UnboundedSender<Progress>,
    which: Which,
) -> (Vec<Sample>, Option<String>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let run = latency::run(&side.target, request, plan, Arc::clone(cancel), tx);
    let collect = async {
        let mut samples = Vec::new();
        while let Some(sample) = rx.recv().await {
            let _ = progress.send(Progress::Sample {
                side: which,
                sample,
            });
            samples.push(sample);
        }
        samples
    };
    let (result, samples) = tokio::join!(run, collect);
    (samples, result.err().map(|err| err.to_string()))
}

fn ratios(a: &SideLatency, b: &SideLatency) -> Ratios {
    let ratio = |b: f64, a: f64| (a > 0.0 && b > 0.0).then(|| b / a);
    Ratios {
        p50: ratio(b.p50_ms, a.p50_ms),
        p90: ratio(b.p90_ms, a.p90_ms),
        p99: ratio(b.p99_ms, a.p99_ms),
        throughput: ratio(b.throughput_rps, a.throughput_rps),
    }
}

/// The per-image rows as CSV, one column per compared output.
pub fn csv(report: &CompareReport) -> String {
    let outputs: Vec<&String> = {
        let mut names: Vec<&String> = report
            .images
            .iter()
            .flat_map(|row| row.max_abs_diff.keys())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let mut text =
        String::from("image,top1_a,top1_b,top1_agree,top5_overlap,latency_a_ms,latency_b_ms");
    for name in &outputs {
        text.push_str(&format!(",{}", csv_field(&format!("max_abs_diff_{name}"))));
    }
    text.push_str(",error\n");
    let opt = |value: Option<String>| value.unwrap_or_default();
    for row in &report.images {
        text.push_str(&csv_field(&row.image));
        for cell in [
            opt(row.top1_a.map(|c| c.to_string())),
            opt(row.top1_b.map(|c| c.to_string())),
            opt(row.top1_agree.map(|agree| agree.to_string())),
            opt(row.top5_overlap.map(|n| n.to_string())),
            opt(row.latency_a_ms.map(|ms| format!("{ms:.3}"))),
            opt(row.latency_b_ms.map(|ms| format!("{ms:.3}"))),
        ] {
            text.push(',');
            text.push_str(&cell);
        }
        for name in &outputs {
            text.push(',');
            text.push_str(&opt(row.max_abs_diff.get(*name).map(|d| format!("{d:e}"))));
        }
        text.push(',');
        text.push_str(&csv_field(row.error.as_deref().unwrap_or("")));
        text.push('\n');
    }
    text
}

/// A CSV cell, quoted when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Writes the CSV to `path`.
pub fn write_csv(report: &CompareReport, path: &Path) -> Result<(), WorkflowError> {
    std::fs::write(path, csv(report)).map_err(|err| WorkflowError::Write {
        path: path.to_path_buf(),
        detail: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_and_csv_of_rows() {
        let rows = vec![
            ImageRow {
                image: "a,1.jpg".into(),
                top1_a: Some(3),
                top1_b: Some(3),
                top1_agree: Some(true),
                top5_overlap: Some(5),
                latency_a_ms: Some(1.5),
                latency_b_ms: Some(2.25),
                max_abs_diff: BTreeMap::from([("p".to_string(), 0.5)]),
                ..ImageRow::default()
            },
            ImageRow {
                image: "b.jpg".into(),
                top1_a: Some(3),
                top1_b: Some(4),
                top1_agree: Some(false),
                top5_overlap: Some(4),
                max_abs_diff: BTreeMap::from([("p".to_string(), 0.75)]),
                ..ImageRow::default()
            },
            ImageRow {
                image: "c.txt".into(),
                error: Some("not an image".into()),
                ..ImageRow::default()
            },
        ];
        let summary = summarise(&rows);
        assert_eq!(
            (
                summary.images,
                summary.failed,
                summary.ranked,
                summary.top1_agreed
            ),
            (3, 1, 2, 1)
        );
        assert_eq!(summary.agreement_rate, Some(0.5));
        assert_eq!(summary.mean_top5_overlap, Some(4.5));
        assert_eq!(summary.max_abs_diff["p"], 0.75);
        let report = CompareReport {
            images: rows,
            ..CompareReport::default()
        };
        assert_eq!(
            csv(&report),
            "image,top1_a,top1_b,top1_agree,top5_overlap,latency_a_ms,latency_b_ms,max_abs_diff_p,error\n\
             \"a,1.jpg\",3,3,true,5,1.500,2.250,5e-1,\n\
             b.jpg,3,4,false,4,,,7.5e-1,\n\
             c.txt,,,,,,,,not an image\n"
        );
    }

    #[test]
    fn ratios_are_b_over_a_and_absent_without_data() {
        let a = SideLatency {
            p50_ms: 2.0,
            p90_ms: 4.0,
            p99_ms: 0.0,
            throughput_rps: 100.0,
            ..SideLatency::default()
        };
        let b = SideLatency {
            p50_ms: 3.0,
            p90_ms: 2.0,
            p99_ms: 1.0,
            throughput_rps: 50.0,
            ..SideLatency::default()
        };
        assert_eq!(
            ratios(&a, &b),
            Ratios {
                p50: Some(1.5),
                p90: Some(0.5),
                p99: None,
                throughput: Some(0.5)
            }
        );
    }

    #[test]
    fn folders_give_their_images_sorted_and_unreadable_files_become_rows() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.png"), b"not a png").unwrap();
        std::fs::write(dir.path().join("a.JPG"), b"not a jpeg").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"skipped").unwrap();
        let images = collect_images(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<&str> = images.iter().map(|image| image.name.as_str()).collect();
        assert_eq!(names, ["a.JPG", "b.png"]);
        assert!(
            images[0]
                .bytes
                .as_ref()
                .unwrap_err()
                .contains("neither a SavedModel nor an image")
        );
        let empty = tempfile::tempdir().unwrap();
        let err = collect_images(&[empty.path().to_path_buf()]).unwrap_err();
        assert!(err.to_string().starts_with("no images in "), "{err}");
    }
}
