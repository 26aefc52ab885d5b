//! How an image becomes the request a signature wants: which input gets it, and
//! whether it goes as the encoded file (DT_STRING) or as a pixel tensor resized and
//! normalised by the user's settings, else the model's `preprocessing.json`, else the
//! defaults.

use super::WorkflowError;
use crate::imaging::{self, ImageError, ImageOptions, InputPlan};
use crate::model::SignatureInfo;
use crate::runtime::NamedTensors;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Which form the user wants the image in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputMode {
    /// Whatever the signature asks for (bytes for DT_STRING, pixels otherwise).
    #[default]
    Auto,
    /// The encoded file, as a DT_STRING tensor.
    Bytes,
    /// Decoded, resized, normalised pixels.
    Tensor,
}

/// A signature's request for one image, planned once and built for every image.
#[derive(Clone, Debug, PartialEq)]
pub struct ImagePlan {
    pub signature_key: String,
    /// The user's options with the model's `preprocessing.json` filled in.
    pub options: ImageOptions,
    pub input: InputPlan,
    /// `assets.extra/preprocessing.json` (or `assets/…`) when the model has one.
    pub preprocessing_file: Option<String>,
}

/// One request: the signature to run and its named inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub signature_key: String,
    pub inputs: NamedTensors,
}

/// Plans how images reach `signature`. `model_dir` is the model's version folder when
/// it is on disk (its `preprocessing.json` fills options the user left unset).
pub fn plan(
    signature: &SignatureInfo,
    mut options: ImageOptions,
    mode: InputMode,
    model_dir: Option<&Path>,
) -> Result<ImagePlan, WorkflowError> {
    let preprocessing_file = model_dir.and_then(|dir| options.fill_from_model_dir(dir));
    let input = imaging::plan_input(signature, &options)?;
    match (&input, mode) {
        (InputPlan::Pixels { key, .. }, InputMode::Bytes) => {
            return Err(ImageError::Unsupported(format!(
                "input '{key}' takes decoded pixels, not encoded bytes; choose Auto or Tensor"
            ))
            .into());
        }
        (InputPlan::EncodedBytes { key, .. }, InputMode::Tensor) => {
            return Err(ImageError::Unsupported(format!(
                "input '{key}' is DT_STRING: it takes the encoded file; choose Auto or Bytes"
            ))
            .into());
        }
        _ => {}
    }
    Ok(ImagePlan {
        signature_key: signature.key.clone(),
        options,
        input,
        preprocessing_file,
    })
}

impl ImagePlan {
    /// The input the image goes to.
    pub fn input_key(&self) -> &str {
        match &self.input {
            InputPlan::EncodedBytes { key, .. } | InputPlan::Pixels { key, .. } => key,
        }
    }

    /// The request for one image file's bytes.
    pub fn request(&self, image_bytes: &[u8]) -> Result<Request, WorkflowError> {
        let (key, tensor) = imaging::tensor_for_plan(image_bytes, &self.input, &self.options)?;
        Ok(Request {
            signature_key: self.signature_key.clone(),
            inputs: NamedTensors::from([(key, tensor)]),
        })
    }

    /// One line saying what the input gets, for the user to check.
    pub fn summary(&self) -> String {
        match &self.input {
            InputPlan::EncodedBytes { key, scalar } => format!(
                "{key}: encoded image bytes (DT_STRING, shape {})",
                if *scalar { "()" } else { "(1)" }
            ),
            InputPlan::Pixels { key, spec, batched } => format!(
                "{key}: {}×{}×{} {} pixels {:?}{}, normalised {}",
                spec.height,
                spec.width,
                spec.channels,
                spec.dtype,
                spec.layout,
                if *batched { ", batch 1" } else { "" },
                spec.normalization.formula()
            ),
        }
    }
}

/// Picks the signature of `model` (the one asked for, else the default, see
/// [`super::signature::pick`]) and plans the image input for it.
pub fn plan_for_model(
    model: &crate::model::SavedModelInfo,
    signature: Option<&str>,
    options: ImageOptions,
    mode: InputMode,
    model_dir: Option<&Path>,
) -> Result<ImagePlan, WorkflowError> {
    let signature = super::signature::pick(model, signature)?;
    plan(signature, options, mode, model_dir)
}

/// A plain grey 224×224 PNG: what a latency run sends before any image was chosen.
pub fn synthetic_image() -> Vec<u8> {
    let pixels = image::RgbImage::from_pixel(224, 224, image::Rgb([128, 128, 128]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    match pixels.write_to(&mut bytes, image::ImageFormat::Png) {
        Ok(()) => bytes.into_inner(),
        // Encoding a fixed in-memory image cannot fail short of allocation failure.
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DType, Shape, TensorInfoView};

    fn signature(dtype: DType, sizes: &[i64]) -> SignatureInfo {
        SignatureInfo {
            key: "serving_default".into(),
            method_name: "tensorflow/serving/predict".into(),
            inputs: vec![TensorInfoView {
                key: "images".into(),
                dtype,
                shape: Shape::from_sizes(sizes),
                name: String::new(),
            }],
            outputs: Vec::new(),
        }
    }

    #[test]
    fn pixels_follow_the_signature_and_the_mode_must_fit_the_input() {
        let pixels = signature(DType::FLOAT, &[-1, 64, 64, 3]);
        let plan = plan(&pixels, ImageOptions::default(), InputMode::Auto, None).unwrap();
        assert_eq!(
            plan.summary(),
            "images: 64×64×3 DT_FLOAT pixels Nhwc, batch 1, normalised x/255 (0..1)"
        );
        let request = plan.request(&synthetic_image()).unwrap();
        assert_eq!(request.inputs["images"].shape, vec![1, 64, 64, 3]);
        let err = self::plan(&pixels, ImageOptions::default(), InputMode::Bytes, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input 'images' takes decoded pixels, not encoded bytes; choose Auto or Tensor"
        );
        let bytes = signature(DType::STRING, &[-1]);
        let err = self::plan(&bytes, ImageOptions::default(), InputMode::Tensor, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input 'images' is DT_STRING: it takes the encoded file; choose Auto or Bytes"
        );
    }

    #[test]
    fn preprocessing_json_fills_what_the_user_left_open() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("assets.extra")).unwrap();
        std::fs::write(
            dir.path().join("assets.extra/preprocessing.json"),
            r#"{"normalization": "symmetric", "size": [32, 48]}"#,
        )
        .unwrap();
        let open = signature(DType::FLOAT, &[-1, -1, -1, 3]);
        let plan = plan(
            &open,
            ImageOptions::default(),
            InputMode::Auto,
            Some(dir.path()),
        )
        .unwrap();
        assert_eq!(
            plan.preprocessing_file.as_deref(),
            Some("assets.extra/preprocessing.json")
        );
        assert_eq!(
            plan.summary(),
            "images: 32×48×3 DT_FLOAT pixels Nhwc, batch 1, normalised x/127.5-1 (-1..1)"
        );
    }
}
