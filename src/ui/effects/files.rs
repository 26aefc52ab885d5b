//! File work off the UI thread: opening what the user chose or dropped, the native
//! file dialogs (rfd blocks), thumbnails, and saving exports.

use super::tasks::{Event, Reporter, SaveKind, Tasks};
use crate::ui::state::PemFile;
use crate::workflow::WorkflowError;
use crate::workflow::open::{self, IMAGE_EXTENSIONS, Opened};
use std::path::PathBuf;
use std::sync::Arc;

impl Tasks {
    /// Opens a SavedModel, or recognises an image, in the background.
    pub fn open_path(&self, seq: u64, path: PathBuf) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            match open::open_path(&path) {
                Ok(Opened::Model(model)) => {
                    reporter.send(Event::ModelOpened {
                        seq,
                        opened: path,
                        result: Ok(*model),
                    });
                    return;
                }
                Ok(Opened::Image(image)) => reporter.send(Event::ImageLoaded {
                    name: image.name,
                    bytes: Arc::new(image.bytes),
                }),
                // A folder of images, dropped on Try it, runs as a batch.
                Err(WorkflowError::Model(_)) if crate::workflow::batch::holds_images(&path) => {
                    reporter.send(Event::ImageFolder(path))
                }
                // A folder (or a path that does not exist) was meant as a model.
                Err(err @ WorkflowError::Model(_)) => {
                    reporter.send(Event::ModelOpened {
                        seq,
                        opened: path,
                        result: Err(err),
                    });
                    return;
                }
                Err(err) => reporter.send(Event::OpenFailed(err)),
            }
            reporter.send(Event::OpenDone { seq });
        });
    }

    /// The folder picker (rfd; blocking, so off the UI thread).
    pub fn pick_folder(&self, start: Option<PathBuf>) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let mut dialog = rfd::FileDialog::new().set_title("Open a SavedModel folder");
            if let Some(dir) = start.filter(|dir| dir.is_dir()) {
                dialog = dialog.set_directory(dir);
            }
            if let Some(folder) = dialog.pick_folder() {
                reporter.send(Event::FolderPicked(folder));
            }
        });
    }

    pub fn pick_images(&self) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let files = rfd::FileDialog::new()
                .set_title("Choose images")
                .add_filter("Images", &IMAGE_EXTENSIONS)
                .pick_files()
                .unwrap_or_default();
            for file in files {
                reporter.send(match open::read_image(&file) {
                    Ok(image) => Event::ImageLoaded {
                        name: image.name,
                        bytes: Arc::new(image.bytes),
                    },
                    Err(err) => Event::OpenFailed(err),
                });
            }
        });
    }

    /// The file picker of a PEM file field.
    pub fn pick_pem_file(&self, which: PemFile) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let picked = rfd::FileDialog::new()
                .set_title(which.picker_title())
                // No extension filter: keys and certificates come as .pem, .crt,
                // .key, tls.cert, ... and a filter would hide some.
                .pick_file();
            if let Some(path) = picked {
                reporter.send(Event::PemFilePicked { which, path });
            }
        });
    }

    pub fn pick_save_path(&self, kind: SaveKind, default_name: String) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let (title, filter, ext) = match kind {
                SaveKind::Csv => ("Export latencies as CSV", "CSV", "csv"),
                SaveKind::Png => ("Export the chart as PNG", "PNG image", "png"),
                SaveKind::CompareCsv => ("Export the comparison as CSV", "CSV", "csv"),
                SaveKind::BatchCsv => ("Export the predictions as CSV", "CSV", "csv"),
                SaveKind::Warmup => (
                    "Save as a TF Serving warmup file (assets.extra/tf_serving_warmup_requests)",
                    "",
                    "",
                ),
                SaveKind::GraphSvg => ("Export the graph as SVG", "SVG image", "svg"),
                SaveKind::GraphPng => ("Export the graph view as PNG", "PNG image", "png"),
            };
            let mut dialog = rfd::FileDialog::new()
                .set_title(title)
                .set_file_name(default_name);
            if !ext.is_empty() {
                dialog = dialog.add_filter(filter, &[ext]);
            }
            let picked = dialog.save_file();
            if let Some(path) = picked {
                reporter.send(Event::SaveTargetPicked { kind, path });
            }
        });
    }

    /// Decodes a thumbnail (at most 256 px) for the Try it panel.
    pub fn thumbnail(&self, id: u64, bytes: Arc<Vec<u8>>) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let result = crate::imaging::decode_image(&bytes).map(|decoded| {
                let small = decoded.image.thumbnail(256, 256).to_rgba8();
                let size = [small.width() as usize, small.height() as usize];
                egui::ColorImage::from_rgba_unmultiplied(size, small.as_raw())
            });
            reporter.send(Event::Thumbnail { id, result });
        });
    }

    /// Writes `text` to `path`.
    pub fn save_text(&self, path: PathBuf, text: String) {
        let reporter = self.reporter();
        self.spawn_blocking(move || {
            let result = std::fs::write(&path, text)
                .map(|()| format!("Saved {}", path.display()))
                .map_err(|err| WorkflowError::Write {
                    path,
                    detail: err.to_string(),
                });
            reporter.send(Event::Saved(result));
        });
    }

    /// A handle that saves PNGs off the UI thread, for callbacks that outlive this
    /// borrow (egui delivers screenshots later, through a callback).
    pub fn png_saver(&self) -> PngSaver {
        PngSaver {
            runtime: self.handle(),
            reporter: self.reporter(),
        }
    }
}

/// Saves screenshot regions as PNG files on a blocking thread.
pub struct PngSaver {
    runtime: tokio::runtime::Handle,
    reporter: Reporter,
}

impl PngSaver {
    /// Writes `rgba` (rows of `size_px[0]` pixels) to `path`.
    pub fn save(self, path: PathBuf, size_px: [usize; 2], rgba: Vec<u8>) {
        let reporter = self.reporter;
        self.runtime.spawn_blocking(move || {
            let (width, height) = (size_px[0] as u32, size_px[1] as u32);
            let result = image::RgbaImage::from_raw(width, height, rgba)
                .ok_or_else(|| "the screenshot had an unexpected size".to_string())
                .and_then(|image| image.save(&path).map_err(|err| err.to_string()))
                .map(|()| format!("Saved {}", path.display()))
                .map_err(|detail| WorkflowError::Write { path, detail });
            reporter.send(Event::Saved(result));
        });
    }
}
