//! Image files -> the tensor a signature wants, and class scores -> labelled top-k.
//!
//! - A 1-D (or scalar) `DT_STRING` input gets the file's bytes unchanged (the model
//!   decodes them, like TF Serving's ResNet example).
//! - A 4-D float / half / uint8 input (NHWC, or NCHW when the shape says so) gets
//!   decoded pixels: JPEG, PNG, WebP, BMP or the first GIF frame, EXIF orientation
//!   applied, resized and centre-cropped to H x W, normalised by a preset.
//!
//! Layer: depends on `tensor` and `model` only — not on `runtime`, the clients or
//! the server (see the layer table in the crate docs).
//!
//! ```no_run
//! # fn demo(signature: &tfprobe::model::SignatureInfo) -> Result<(), tfprobe::imaging::ImageError> {
//! use tfprobe::imaging::{ImageOptions, image_input};
//! let bytes = std::fs::read("cat.jpg").unwrap();
//! let (key, tensor) = image_input(&bytes, signature, &ImageOptions::default())?;
//! # Ok(()) }
//! ```

mod decode;
mod error;
mod preprocess;
mod topk;

pub use decode::{DecodedImage, decode_image};
pub use error::ImageError;
pub use preprocess::{
    ChannelOrder, Layout, Normalization, PixelSpec, ResizeFilter, pixels_to_tensor, resize_and_crop,
};
pub use topk::{
    Classification, LabelAlignment, Labels, Prediction, builtin_imagenet_labels, classify,
    find_model_labels, find_scores, is_distribution, softmax, top_k,
};

use crate::model::{DType, SignatureInfo, TensorInfoView};
use crate::tensor::{Tensor, TensorData};
use std::path::Path;

/// Largest height or width a model's preprocessing.json may ask for.
pub const MAX_PREPROCESSING_SIDE_PX: u64 = 8192;

/// How to turn an image into pixels; `None` fields are picked from the model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageOptions {
    /// Target `(height, width)` when the signature leaves them open (-1); else 224x224.
    pub size: Option<(u32, u32)>,
    pub normalization: Option<Normalization>,
    pub channel_order: Option<ChannelOrder>,
    /// Force a layout instead of reading it from the shape.
    pub layout: Option<Layout>,
    /// Centre crop covering this fraction of the largest centred box (1.0: no margin;
    /// 0.875 = 224/256 as ImageNet evaluation does).
    pub crop_fraction: Option<f32>,
    pub filter: ResizeFilter,
    /// Which input to feed when the signature has several.
    pub input_key: Option<String>,
}

impl ImageOptions {
    /// Fills unset fields from a model's `assets/preprocessing.json` or
    /// `assets.extra/preprocessing.json` (keys `normalization`, `channel_order`,
    /// `size` `[h, w]`, `crop_fraction`), when it has one. Returns the file used.
    pub fn fill_from_model_dir(&mut self, model_dir: &Path) -> Option<String> {
        for folder in ["assets.extra", "assets"] {
            let path = model_dir.join(folder).join("preprocessing.json");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            if self.normalization.is_none() {
                self.normalization = doc["normalization"]
                    .as_str()
                    .and_then(|name| name.parse().ok());
            }
            if self.channel_order.is_none() {
                self.channel_order = doc["channel_order"]
                    .as_str()
                    .and_then(|name| name.parse().ok());
            }
            // A size out of range is ignored like a missing one: the file comes with
            // the model, and [100000, 100000] would make every image a 40 GB resize.
            let side = |value: &serde_json::Value| {
                value
                    .as_u64()
                    .filter(|side| (1..=MAX_PREPROCESSING_SIDE_PX).contains(side))
                    .map(|side| side as u32)
            };
            if self.size.is_none()
                && let (Some(h), Some(w)) = (side(&doc["size"][0]), side(&doc["size"][1]))
            {
                self.size = Some((h, w));
            }
            if self.crop_fraction.is_none() {
                self.crop_fraction = doc["crop_fraction"].as_f64().map(|f| f as f32);
            }
            return Some(format!("{folder}/preprocessing.json"));
        }
        None
    }
}

/// What an image input of a signature takes.
#[derive(Clone, Debug, PartialEq)]
pub enum InputPlan {
    /// Encoded file bytes; `scalar` when the input has rank 0.
    EncodedBytes { key: String, scalar: bool },
    /// Decoded pixels.
    Pixels {
        key: String,
        spec: PixelSpec,
        batched: bool,
    },
}

/// The input of `signature` that an image goes to, and in what form.
pub fn plan_input(
    signature: &SignatureInfo,
    options: &ImageOptions,
) -> Result<InputPlan, ImageError> {
    let input: &TensorInfoView = match &options.input_key {
        Some(key) => signature.input(key).ok_or_else(|| {
            ImageError::Unsupported(format!(
                "signature '{}' has no input '{key}' (it has: {})",
                signature.key,
                keys(signature)
            ))
        })?,
        None => match signature.inputs.as_slice() {
            [only] => only,
            [] => return Err(ImageError::Unsupported(format!("signature '{}' has no inputs", signature.key))),
            several => several.iter().find(|input| looks_like_image(input)).ok_or_else(|| {
                ImageError::Unsupported(format!(
                    "signature '{}' has several inputs ({}) and none looks like an image; name one",
                    signature.key,
                    keys(signature)
                ))
            })?,
        },
    };
    let sizes = input.shape.sizes();
    if input.dtype == DType::STRING {
        return match sizes.as_deref().map(<[i64]>::len) {
            None | Some(1) => Ok(InputPlan::EncodedBytes {
                key: input.key.clone(),
                scalar: false,
            }),
            Some(0) => Ok(InputPlan::EncodedBytes {
                key: input.key.clone(),
                scalar: true,
            }),
            Some(rank) => Err(ImageError::Unsupported(format!(
                "input '{}' is DT_STRING of rank {rank}; an image file needs rank 0 or 1",
                input.key
            ))),
        };
    }
    if ![DType::FLOAT, DType::HALF, DType::UINT8, DType::DOUBLE].contains(&input.dtype) {
        return Err(ImageError::Unsupported(format!(
            "input '{}' is {}; images go to DT_STRING (encoded) or DT_FLOAT/DT_HALF/DT_UINT8 (pixels)",
            input.key, input.dtype
        )));
    }
    let (dims, batched) = match sizes.as_deref() {
        Some([_, a, b, c]) => ([*a, *b, *c], true),
        Some([a, b, c]) => ([*a, *b, *c], false),
        _ => {
            return Err(ImageError::Unsupported(format!(
                "input '{}' has shape {}; pixel inputs need rank 4 (NHWC or NCHW) or 3",
                input.key,
                input.shape.cli_text()
            )));
        }
    };
    // NCHW when the first dim looks like channels and the last does not.
    let nchw = (matches!(dims[0], 1 | 3) && !matches!(dims[2], 1 | 3))
        || (dims[0] == 4 && !matches!(dims[2], 1 | 3 | 4));
    let layout = options
        .layout
        .unwrap_or(if nchw { Layout::Nchw } else { Layout::Nhwc });
    let (h, w, c) = match layout {
        Layout::Nhwc => (dims[0], dims[1], dims[2]),
        Layout::Nchw => (dims[1], dims[2], dims[0]),
    };
    let (default_h, default_w) = options.size.unwrap_or((224, 224));
    let pick = |size: i64, default: u32| {
        u32::try_from(size)
            .ok()
            .filter(|&s| s > 0)
            .unwrap_or(default)
    };
    let channels = match c {
        -1 => 3,
        1 | 3 | 4 => c as u32,
        other => {
            return Err(ImageError::Unsupported(format!(
                "input '{}' has {other} channels; images have 1, 3 or 4",
                input.key
            )));
        }
    };
    let normalization = options
        .normalization
        .unwrap_or(if input.dtype == DType::UINT8 {
            Normalization::Raw
        } else {
            Normalization::Unit
        });
    let spec = PixelSpec {
        height: pick(h, default_h),
        width: pick(w, default_w),
        channels,
        layout,
        dtype: input.dtype,
        normalization,
        channel_order: options.channel_order.unwrap_or_default(),
    };
    Ok(InputPlan::Pixels {
        key: input.key.clone(),
        spec,
        batched,
    })
}

fn keys(signature: &SignatureInfo) -> String {
    signature
        .inputs
        .iter()
        .map(|input| input.key.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn looks_like_image(input: &TensorInfoView) -> bool {
    let name = input.key.to_ascii_lowercase();
    name.contains("image")
        || name.contains("pixel")
        || name.contains("img")
        || input.shape.rank() == Some(4)
}

/// The named input tensor for one image file's bytes, as `plan` says.
pub fn tensor_for_plan(
    bytes: &[u8],
    plan: &InputPlan,
    options: &ImageOptions,
) -> Result<(String, Tensor), ImageError> {
    match plan {
        InputPlan::EncodedBytes { key, scalar } => {
            // Check that it is an image before a server says so in its own words.
            decode_image(bytes)?;
            let shape = if *scalar { vec![] } else { vec![1] };
            let tensor = Tensor::new(shape, TensorData::String(vec![bytes.to_vec()]))
                .map_err(|err| ImageError::Unsupported(err.to_string()))?;
            Ok((key.clone(), tensor))
        }
        InputPlan::Pixels { key, spec, batched } => {
            let image = decode_image(bytes)?;
            let resized = resize_and_crop(
                &image.image,
                spec.width,
                spec.height,
                options.crop_fraction.unwrap_or(1.0),
                options.filter,
            );
            let mut tensor = pixels_to_tensor(&resized, spec);
            if !batched {
                tensor.shape.remove(0);
            }
            Ok((key.clone(), tensor))
        }
    }
}

/// Plans and builds in one step: the `(input key, tensor)` for an image file's bytes.
pub fn image_input(
    bytes: &[u8],
    signature: &SignatureInfo,
    options: &ImageOptions,
) -> Result<(String, Tensor), ImageError> {
    let plan = plan_input(signature, options)?;
    tensor_for_plan(bytes, &plan, options)
}
