//! Resize / centre-crop and normalisation presets: decoded pixels -> the float,
//! half or uint8 tensor an image model takes.

use crate::model::DType;
use crate::tensor::{Tensor, TensorData};
use image::imageops::FilterType;
use image::{DynamicImage, RgbaImage};
use std::str::FromStr;

/// Where the channel dimension is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// `[N, H, W, C]` (TensorFlow's usual).
    #[default]
    Nhwc,
    /// `[N, C, H, W]` (models converted from PyTorch / ONNX).
    Nchw,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChannelOrder {
    #[default]
    Rgb,
    /// Caffe-style models.
    Bgr,
}

impl FromStr for ChannelOrder {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "rgb" => Ok(ChannelOrder::Rgb),
            "bgr" => Ok(ChannelOrder::Bgr),
            other => Err(format!("unknown channel order '{other}' (rgb, bgr)")),
        }
    }
}

/// How 0..255 pixel values become model inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalization {
    /// `x / 255`: 0..1 (Keras `rescale=1/255`, most TF Hub image models).
    Unit,
    /// `x / 127.5 - 1`: -1..1 (MobileNet, Inception).
    Symmetric,
    /// `(x - 127) / 128` (EfficientNet-Lite, TF Lite models).
    Centered127,
    /// `(x / 255 - mean) / std` with ImageNet's mean and std per RGB channel.
    ImageNet,
    /// `x` unchanged: 0..255.
    Raw,
}

/// ImageNet's per-channel mean and standard deviation (RGB, 0..1 scale).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

impl Normalization {
    pub const ALL: [Normalization; 5] = [
        Normalization::Unit,
        Normalization::Symmetric,
        Normalization::Centered127,
        Normalization::ImageNet,
        Normalization::Raw,
    ];

    /// The name `--normalize` takes.
    pub fn name(self) -> &'static str {
        match self {
            Normalization::Unit => "unit",
            Normalization::Symmetric => "symmetric",
            Normalization::Centered127 => "centered127",
            Normalization::ImageNet => "imagenet",
            Normalization::Raw => "raw",
        }
    }

    /// The formula, for help texts.
    pub fn formula(self) -> &'static str {
        match self {
            Normalization::Unit => "x/255 (0..1)",
            Normalization::Symmetric => "x/127.5-1 (-1..1)",
            Normalization::Centered127 => "(x-127)/128",
            Normalization::ImageNet => "(x/255-mean)/std, ImageNet mean/std",
            Normalization::Raw => "x (0..255)",
        }
    }

    /// One channel value; `rgb_channel` is 0, 1 or 2 for R, G, B (others use the mean 0 / std 1).
    pub fn apply(self, value: u8, rgb_channel: usize) -> f32 {
        let x = f32::from(value);
        match self {
            Normalization::Unit => x / 255.0,
            Normalization::Symmetric => x / 127.5 - 1.0,
            Normalization::Centered127 => (x - 127.0) / 128.0,
            Normalization::ImageNet => match (
                IMAGENET_MEAN.get(rgb_channel),
                IMAGENET_STD.get(rgb_channel),
            ) {
                (Some(mean), Some(std)) => (x / 255.0 - mean) / std,
                _ => x / 255.0,
            },
            Normalization::Raw => x,
        }
    }
}

impl FromStr for Normalization {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "unit" | "0..1" | "0-1" | "rescale" => Normalization::Unit,
            "symmetric" | "-1..1" | "-1-1" | "inception" | "mobilenet" => Normalization::Symmetric,
            "centered127" | "(x-127)/128" | "efficientnet-lite" | "tflite" => {
                Normalization::Centered127
            }
            "imagenet" | "torch" | "mean-std" => Normalization::ImageNet,
            "raw" | "0..255" | "none" => Normalization::Raw,
            other => {
                let names: Vec<&str> = Normalization::ALL.iter().map(|n| n.name()).collect();
                return Err(format!(
                    "unknown normalization '{other}' (one of: {})",
                    names.join(", ")
                ));
            }
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResizeFilter {
    Nearest,
    /// Bilinear (with antialiasing when shrinking).
    #[default]
    Bilinear,
    Bicubic,
    Lanczos3,
}

impl ResizeFilter {
    fn filter_type(self) -> FilterType {
        match self {
            ResizeFilter::Nearest => FilterType::Nearest,
            ResizeFilter::Bilinear => FilterType::Triangle,
            ResizeFilter::Bicubic => FilterType::CatmullRom,
            ResizeFilter::Lanczos3 => FilterType::Lanczos3,
        }
    }
}

impl FromStr for ResizeFilter {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "nearest" => Ok(ResizeFilter::Nearest),
            "bilinear" | "triangle" => Ok(ResizeFilter::Bilinear),
            "bicubic" | "catmullrom" => Ok(ResizeFilter::Bicubic),
            "lanczos3" | "lanczos" => Ok(ResizeFilter::Lanczos3),
            other => Err(format!(
                "unknown resize filter '{other}' (nearest, bilinear, bicubic, lanczos3)"
            )),
        }
    }
}

/// The pixel tensor to build.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelSpec {
    pub height: u32,
    pub width: u32,
    /// 1 (grey), 3 (colour) or 4 (colour + alpha).
    pub channels: u32,
    pub layout: Layout,
    /// DT_FLOAT, DT_HALF, DT_DOUBLE or DT_UINT8 (uint8 is always raw 0..255).
    pub dtype: DType,
    pub normalization: Normalization,
    pub channel_order: ChannelOrder,
}

/// The centred box of aspect `width:height`, scaled by `fraction`, cut out of the
/// image and resized to exactly `width` x `height`.
pub fn resize_and_crop(
    image: &DynamicImage,
    width: u32,
    height: u32,
    fraction: f32,
    filter: ResizeFilter,
) -> RgbaImage {
    let (src_w, src_h) = (image.width().max(1), image.height().max(1));
    let (width, height) = (width.max(1), height.max(1));
    let fraction = if fraction.is_finite() && fraction > 0.0 {
        fraction.min(1.0)
    } else {
        1.0
    };
    // The largest box of the target aspect that fits.
    let (box_w, box_h) =
        if u64::from(src_w) * u64::from(height) > u64::from(src_h) * u64::from(width) {
            (
                f64::from(src_h) * f64::from(width) / f64::from(height),
                f64::from(src_h),
            )
        } else {
            (
                f64::from(src_w),
                f64::from(src_w) * f64::from(height) / f64::from(width),
            )
        };
    let crop_w = ((box_w * f64::from(fraction)).round() as u32).clamp(1, src_w);
    let crop_h = ((box_h * f64::from(fraction)).round() as u32).clamp(1, src_h);
    let x = (src_w - crop_w) / 2;
    let y = (src_h - crop_h) / 2;
    let rgba = image.to_rgba8();
    let cropped = image::imageops::crop_imm(&rgba, x, y, crop_w, crop_h).to_image();
    if crop_w == width && crop_h == height {
        return cropped;
    }
    image::imageops::resize(&cropped, width, height, filter.filter_type())
}

/// Pixels (already `spec.width` x `spec.height`) as a `[1, H, W, C]` or `[1, C, H, W]` tensor.
pub fn pixels_to_tensor(pixels: &RgbaImage, spec: &PixelSpec) -> Tensor {
    let (w, h, c) = (
        pixels.width() as usize,
        pixels.height() as usize,
        spec.channels as usize,
    );
    // Per output channel: (source RGBA index, the RGB channel it is, for ImageNet's mean/std).
    let sources: Vec<usize> = match (c, spec.channel_order) {
        (1, _) => vec![usize::MAX],
        (3, ChannelOrder::Rgb) => vec![0, 1, 2],
        (3, ChannelOrder::Bgr) => vec![2, 1, 0],
        (_, ChannelOrder::Rgb) => vec![0, 1, 2, 3],
        (_, ChannelOrder::Bgr) => vec![2, 1, 0, 3],
    };
    let mut raw = vec![0u8; w * h * c];
    let mut channel_of = vec![0usize; c];
    for (out_channel, &source) in sources.iter().enumerate() {
        channel_of[out_channel] = if source == usize::MAX {
            usize::MAX
        } else {
            source
        };
    }
    for (x, y, pixel) in pixels.enumerate_pixels() {
        let [r, g, b, a] = pixel.0;
        for (out_channel, &source) in sources.iter().enumerate() {
            let value = match source {
                // ITU-R BT.601 luma, as TensorFlow's rgb_to_grayscale.
                usize::MAX => (0.2989 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b))
                    .round()
                    .clamp(0.0, 255.0) as u8,
                index => [r, g, b, a][index],
            };
            let (x, y) = (x as usize, y as usize);
            let offset = match spec.layout {
                Layout::Nhwc => (y * w + x) * c + out_channel,
                Layout::Nchw => out_channel * h * w + y * w + x,
            };
            raw[offset] = value;
        }
    }
    let shape = match spec.layout {
        Layout::Nhwc => vec![1, h as u64, w as u64, c as u64],
        Layout::Nchw => vec![1, c as u64, h as u64, w as u64],
    };
    let channel_at = |offset: usize| -> usize {
        let out_channel = match spec.layout {
            Layout::Nhwc => offset % c,
            Layout::Nchw => offset / (h * w),
        };
        // Grey uses the mean/std-free path; alpha (index 3) too.
        match channel_of[out_channel] {
            usize::MAX => usize::MAX,
            index => index,
        }
    };
    let floats = || {
        raw.iter()
            .enumerate()
            .map(|(offset, &value)| spec.normalization.apply(value, channel_at(offset)))
    };
    let data = match spec.dtype {
        DType::UINT8 => TensorData::UInt8(raw.clone()),
        DType::DOUBLE => TensorData::Double(floats().map(f64::from).collect()),
        DType::HALF => {
            TensorData::Half(floats().map(|v| half::f16::from_f32(v).to_bits()).collect())
        }
        _ => TensorData::Float(floats().collect()),
    };
    Tensor { shape, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_match_their_formulas() {
        assert_eq!(Normalization::Unit.apply(255, 0), 1.0);
        assert_eq!(Normalization::Symmetric.apply(0, 0), -1.0);
        assert_eq!(Normalization::Symmetric.apply(255, 0), 1.0);
        assert_eq!(Normalization::Centered127.apply(127, 0), 0.0);
        assert_eq!(Normalization::Centered127.apply(255, 0), 1.0);
        assert_eq!(Normalization::Raw.apply(42, 2), 42.0);
        let expected = (200.0 / 255.0 - 0.456) / 0.224;
        assert!((Normalization::ImageNet.apply(200, 1) - expected).abs() < 1e-6);
        for preset in Normalization::ALL {
            assert_eq!(preset.name().parse::<Normalization>().unwrap(), preset);
        }
        assert!("bogus".parse::<Normalization>().is_err());
        assert_eq!(
            "(x-127)/128".parse::<Normalization>().unwrap(),
            Normalization::Centered127
        );
    }
}
