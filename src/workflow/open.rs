//! What the user opened: a SavedModel version folder, a TF Serving base path (numeric
//! version folders inside), a `saved_model.pb` file, or an image to classify.

use super::WorkflowError;
use crate::model::SavedModelInfo;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Largest file read as an image: far above any photo, far below what would hurt.
pub const MAX_IMAGE_BYTES: u64 = 64 << 20;

/// The image formats this tool decodes, as file extensions (file dialogs filter by them).
pub const IMAGE_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "webp", "bmp", "gif"];

/// An image file's name and bytes, checked to be a format this tool decodes.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageFile {
    /// The file name (no folder), or what the image was called when it had no file.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A model opened from disk, and how long reading it took.
#[derive(Clone, Debug)]
pub struct OpenedModel {
    pub info: SavedModelInfo,
    pub read_ms: f64,
}

/// The outcome of opening a path.
#[derive(Clone, Debug)]
pub enum Opened {
    Model(Box<OpenedModel>),
    Image(ImageFile),
}

/// Opens `path`: folders and `saved_model.pb(txt)` files as models (a base path gives
/// its highest version), other files as images. A path that does not exist is
/// reported by the model reader, which names what it expected.
pub fn open_path(path: &Path) -> Result<Opened, WorkflowError> {
    let is_model_file = path
        .file_name()
        .is_some_and(|name| name == "saved_model.pb" || name == "saved_model.pbtxt");
    if path.is_dir() || is_model_file || !path.exists() {
        return open_model(path).map(|model| Opened::Model(Box::new(model)));
    }
    read_image(path).map(Opened::Image)
}

/// Reads the SavedModel at `path` (a version folder or a base path).
pub fn open_model(path: &Path) -> Result<OpenedModel, WorkflowError> {
    let started = Instant::now();
    let info = crate::model::open(path)?;
    Ok(OpenedModel {
        info,
        read_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// Reads an image file, refusing files too large or not an image this tool decodes.
pub fn read_image(path: &Path) -> Result<ImageFile, WorkflowError> {
    let read_error = |source| WorkflowError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size_bytes = std::fs::metadata(path).map_err(read_error)?.len();
    let name = file_name(path);
    if size_bytes > MAX_IMAGE_BYTES {
        return Err(WorkflowError::NotModelOrImage(format!(
            "{name} is {:.0} MB; images up to {} MB are accepted",
            size_bytes as f64 / 1e6,
            MAX_IMAGE_BYTES >> 20
        )));
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    image_file(name, bytes)
}

/// Checks that `bytes` are an image this tool decodes (dropped data, pasted bytes).
pub fn image_file(name: String, bytes: Vec<u8>) -> Result<ImageFile, WorkflowError> {
    let known = image::guess_format(&bytes).ok().filter(|format| {
        use image::ImageFormat as F;
        matches!(format, F::Jpeg | F::Png | F::WebP | F::Bmp | F::Gif)
    });
    match known {
        Some(_) => Ok(ImageFile { name, bytes }),
        None => Err(WorkflowError::NotModelOrImage(format!(
            "{name} is neither a SavedModel nor an image. Open a SavedModel folder (holding saved_model.pb, or \
             numeric version folders) to inspect it, or a JPEG, PNG, WebP, BMP or GIF image to classify it."
        ))),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The name a model is served under by default: its base path's (or folder's) name,
/// or the parent's for a bare numeric version folder such as `1/`.
pub fn default_model_name(info: &SavedModelInfo) -> String {
    let folder: &PathBuf = info.base_path.as_ref().unwrap_or(&info.path);
    let name: String = folder
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c == '/' || c == ':' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if name.is_empty() || name.chars().all(|c| c.is_ascii_digit()) {
        info.path
            .parent()
            .and_then(|parent| parent.file_name())
            .map(|name| name.to_string_lossy().replace([':', ' '], "_"))
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "model".into())
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_no_image_name_what_is_expected() {
        let err = image_file("notes.txt".into(), b"hello".to_vec()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "notes.txt is neither a SavedModel nor an image. Open a SavedModel folder (holding saved_model.pb, or \
             numeric version folders) to inspect it, or a JPEG, PNG, WebP, BMP or GIF image to classify it."
        );
        let png = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', 0, 0];
        assert_eq!(
            image_file("x.png".into(), png.to_vec()).unwrap().name,
            "x.png"
        );
    }

    #[test]
    fn a_missing_path_is_reported_as_a_missing_model() {
        let err = open_path(Path::new("/nonexistent/tfprobe/model")).unwrap_err();
        assert!(matches!(err, WorkflowError::Model(_)), "{err:?}");
    }
}
