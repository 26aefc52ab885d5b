//! Why an image could not become a model input or a ranking. Its own file, so that
//! `decode` and `topk` do not reach back into the `imaging` facade.

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("not an image this tool reads (JPEG, PNG, WebP, BMP, GIF){0}")]
    NotAnImage(String),
    #[error("the image could not be decoded ({format}): {detail}")]
    Corrupt { format: String, detail: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    NoScores(String),
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
