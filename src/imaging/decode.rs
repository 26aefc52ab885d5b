//! Decoding image files (JPEG, PNG, WebP, BMP, GIF's first frame) with their EXIF
//! orientation applied, so pixels are the way a photo viewer shows them.

use super::ImageError;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use std::io::Cursor;

/// A decoded image and what it was.
#[derive(Clone, Debug)]
pub struct DecodedImage {
    pub image: DynamicImage,
    pub format: ImageFormat,
    /// The EXIF orientation that was applied (1 = none), as the tag numbers it.
    pub exif_orientation: u8,
}

const FORMATS: [ImageFormat; 5] = [
    ImageFormat::Jpeg,
    ImageFormat::Png,
    ImageFormat::WebP,
    ImageFormat::Bmp,
    ImageFormat::Gif,
];

fn format_name(format: ImageFormat) -> String {
    format!("{format:?}").to_uppercase()
}

/// Decodes `bytes`; never panics on bad input.
pub fn decode_image(bytes: &[u8]) -> Result<DecodedImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::NotAnImage(": the file is empty".into()));
    }
    let format = image::guess_format(bytes).map_err(|_| {
        let start: String = bytes
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        ImageError::NotAnImage(format!(": its first bytes are {start}"))
    })?;
    if !FORMATS.contains(&format) {
        return Err(ImageError::NotAnImage(format!(
            ": it is {}",
            format_name(format)
        )));
    }
    let corrupt = |detail: String| ImageError::Corrupt {
        format: format_name(format),
        detail,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(image::Limits::default());
    let mut decoder = reader
        .into_decoder()
        .map_err(|err| corrupt(err.to_string()))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|err| corrupt(err.to_string()))?;
    image.apply_orientation(orientation);
    Ok(DecodedImage {
        image,
        format,
        exif_orientation: orientation_number(orientation),
    })
}

fn orientation_number(orientation: image::metadata::Orientation) -> u8 {
    use image::metadata::Orientation::*;
    match orientation {
        NoTransforms => 1,
        FlipHorizontal => 2,
        Rotate180 => 3,
        FlipVertical => 4,
        Rotate90FlipH => 5,
        Rotate90 => 6,
        Rotate270FlipH => 7,
        Rotate270 => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(decode_image(b""), Err(ImageError::NotAnImage(_))));
        assert!(matches!(
            decode_image(b"hello, world"),
            Err(ImageError::NotAnImage(_))
        ));
        // A PNG signature followed by nothing.
        let err = decode_image(b"\x89PNG\r\n\x1a\n").unwrap_err();
        assert!(matches!(err, ImageError::Corrupt { .. }), "{err}");
        // A JPEG start marker and junk.
        let err = decode_image(&[0xff, 0xd8, 0xff, 0xe0, 0, 3, 1, 2, 3]).unwrap_err();
        assert!(err.to_string().contains("JPEG"), "{err}");
    }
}
