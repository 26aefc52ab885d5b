//! The image pipeline end to end without a model: every format decodes to the same
//! pixels, EXIF orientation is applied, resize / centre-crop sizes are right, each
//! normalisation preset gives the hand-computed values, and bad files are errors.

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use std::io::Cursor;
use std::path::PathBuf;
use tfprobe::imaging::{
    ChannelOrder, ImageError, ImageOptions, InputPlan, Layout, Normalization, ResizeFilter,
    decode_image, image_input, plan_input, resize_and_crop,
};
use tfprobe::model::{DType, Shape, SignatureInfo, TensorInfoView};
use tfprobe::tensor::TensorData;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/images")
        .join(name)
}

/// 4x2: a row of red, green, blue, white over a row of black, grey, yellow, cyan.
fn sample() -> RgbImage {
    let colours = [
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [255, 255, 255],
        [0, 0, 0],
        [128, 128, 128],
        [255, 255, 0],
        [0, 255, 255],
    ];
    RgbImage::from_fn(4, 2, |x, y| Rgb(colours[(y * 4 + x) as usize]))
}

fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image.clone())
        .write_to(&mut out, format)
        .expect("encode");
    out.into_inner()
}

fn signature(dtype: DType, sizes: &[i64]) -> SignatureInfo {
    SignatureInfo {
        key: "serving_default".into(),
        method_name: "tensorflow/serving/predict".into(),
        inputs: vec![TensorInfoView {
            key: "images".into(),
            dtype,
            shape: Shape::from_sizes(sizes),
            name: "x:0".into(),
        }],
        outputs: Vec::new(),
    }
}

#[test]
fn lossless_formats_decode_to_the_same_pixels() {
    let original = sample();
    for format in [
        ImageFormat::Png,
        ImageFormat::Bmp,
        ImageFormat::WebP,
        ImageFormat::Gif,
    ] {
        let bytes = encode(&original, format);
        let decoded = decode_image(&bytes).unwrap_or_else(|err| panic!("{format:?}: {err}"));
        assert_eq!(decoded.format, format);
        assert_eq!(decoded.exif_orientation, 1);
        assert_eq!(decoded.image.to_rgb8(), original, "{format:?} pixels");
    }
}

#[test]
fn jpeg_decodes_close_to_the_original() {
    let big = RgbImage::from_fn(32, 16, |x, _| {
        if x < 16 {
            Rgb([250, 10, 10])
        } else {
            Rgb([10, 10, 250])
        }
    });
    let decoded = decode_image(&encode(&big, ImageFormat::Jpeg))
        .unwrap()
        .image
        .to_rgb8();
    assert_eq!(decoded.dimensions(), (32, 16));
    for (x, y, pixel) in decoded.enumerate_pixels() {
        if (6..10).contains(&y) && !(12..20).contains(&x) {
            let want = big.get_pixel(x, y);
            for channel in 0..3 {
                assert!(
                    pixel[channel].abs_diff(want[channel]) < 24,
                    "({x},{y}) {pixel:?} vs {want:?}"
                );
            }
        }
    }
}

/// Inserts an EXIF APP1 segment with `orientation` right after the JPEG's SOI.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II\x2a\x00");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one IFD entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut segment = b"Exif\0\0".to_vec();
    segment.extend_from_slice(&tiff);
    let length = u16::try_from(segment.len() + 2).unwrap();
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&segment);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_applied() {
    // 32 wide, 16 high: left half red, right half blue.
    let photo = RgbImage::from_fn(32, 16, |x, _| {
        if x < 16 {
            Rgb([250, 0, 0])
        } else {
            Rgb([0, 0, 250])
        }
    });
    let jpeg = encode(&photo, ImageFormat::Jpeg);
    // 6 = rotate 90 degrees clockwise: the left half ends up on top.
    let decoded = decode_image(&with_exif_orientation(&jpeg, 6)).unwrap();
    assert_eq!(decoded.exif_orientation, 6);
    let rotated = decoded.image.to_rgb8();
    assert_eq!(rotated.dimensions(), (16, 32));
    assert!(
        rotated.get_pixel(8, 4)[0] > 200 && rotated.get_pixel(8, 4)[2] < 50,
        "top is red"
    );
    assert!(
        rotated.get_pixel(8, 28)[2] > 200 && rotated.get_pixel(8, 28)[0] < 50,
        "bottom is blue"
    );
    // 3 = rotate 180: blue on the left.
    let turned = decode_image(&with_exif_orientation(&jpeg, 3))
        .unwrap()
        .image
        .to_rgb8();
    assert_eq!(turned.dimensions(), (32, 16));
    assert!(turned.get_pixel(4, 8)[2] > 200, "left is blue");
}

#[test]
fn centre_crop_and_resize_sizes() {
    // 8 wide, 4 high, each column a different grey.
    let wide = DynamicImage::ImageRgb8(RgbImage::from_fn(8, 4, |x, _| Rgb([x as u8 * 10; 3])));
    // A square crop of a wide image keeps the middle columns 2..6, unscaled.
    let square = resize_and_crop(&wide, 4, 4, 1.0, ResizeFilter::Nearest);
    assert_eq!(square.dimensions(), (4, 4));
    let columns: Vec<u8> = (0..4).map(|x| square.get_pixel(x, 0)[0]).collect();
    assert_eq!(columns, vec![20, 30, 40, 50]);
    // Half the size: the 4x4 centre box shrunk to 2x2.
    assert_eq!(
        resize_and_crop(&wide, 2, 2, 1.0, ResizeFilter::Bilinear).dimensions(),
        (2, 2)
    );
    // A 50 % crop fraction keeps columns 3..5 (2x2 box) only.
    let tight = resize_and_crop(&wide, 2, 2, 0.5, ResizeFilter::Nearest);
    assert_eq!(
        (tight.get_pixel(0, 0)[0], tight.get_pixel(1, 0)[0]),
        (30, 40)
    );
    // Same aspect: a plain resize. Tall targets crop rows instead.
    assert_eq!(
        resize_and_crop(&wide, 16, 8, 1.0, ResizeFilter::Bicubic).dimensions(),
        (16, 8)
    );
    assert_eq!(
        resize_and_crop(&wide, 3, 7, 1.0, ResizeFilter::Lanczos3).dimensions(),
        (3, 7)
    );
    // A 1x1 image to any size.
    let dot = DynamicImage::ImageRgb8(RgbImage::from_pixel(1, 1, Rgb([9, 9, 9])));
    assert_eq!(
        resize_and_crop(&dot, 5, 3, 1.0, ResizeFilter::Bilinear).get_pixel(4, 2)[0],
        9
    );
}

fn one_pixel_png(rgb: [u8; 3]) -> Vec<u8> {
    encode(&RgbImage::from_pixel(1, 1, Rgb(rgb)), ImageFormat::Png)
}

fn floats(data: &TensorData) -> Vec<f32> {
    match data {
        TensorData::Float(values) => values.clone(),
        TensorData::Half(values) => values
            .iter()
            .map(|&v| half::f16::from_bits(v).to_f32())
            .collect(),
        other => panic!("not float: {other:?}"),
    }
}

#[test]
fn each_preset_matches_hand_computed_values() {
    let png = one_pixel_png([200, 100, 50]);
    let sig = signature(DType::FLOAT, &[-1, 1, 1, 3]);
    let expect = |preset: Normalization, want: [f32; 3]| {
        let options = ImageOptions {
            normalization: Some(preset),
            ..ImageOptions::default()
        };
        let (key, tensor) = image_input(&png, &sig, &options).unwrap();
        assert_eq!(key, "images");
        assert_eq!(tensor.shape, vec![1, 1, 1, 3]);
        let got = floats(&tensor.data);
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{preset:?}: {got:?} vs {want:?}");
        }
    };
    expect(
        Normalization::Unit,
        [200.0 / 255.0, 100.0 / 255.0, 50.0 / 255.0],
    );
    expect(
        Normalization::Symmetric,
        [200.0 / 127.5 - 1.0, 100.0 / 127.5 - 1.0, 50.0 / 127.5 - 1.0],
    );
    expect(
        Normalization::Centered127,
        [73.0 / 128.0, -27.0 / 128.0, -77.0 / 128.0],
    );
    expect(
        Normalization::ImageNet,
        [
            (200.0 / 255.0 - 0.485) / 0.229,
            (100.0 / 255.0 - 0.456) / 0.224,
            (50.0 / 255.0 - 0.406) / 0.225,
        ],
    );
    expect(Normalization::Raw, [200.0, 100.0, 50.0]);

    // BGR reverses the channels; ImageNet's mean/std follow the colour, not the slot.
    let options = ImageOptions {
        normalization: Some(Normalization::ImageNet),
        channel_order: Some(ChannelOrder::Bgr),
        ..ImageOptions::default()
    };
    let (_, tensor) = image_input(&png, &sig, &options).unwrap();
    let got = floats(&tensor.data);
    assert!(
        (got[0] - (50.0 / 255.0 - 0.406) / 0.225).abs() < 1e-6,
        "{got:?}"
    );
    assert!(
        (got[2] - (200.0 / 255.0 - 0.485) / 0.229).abs() < 1e-6,
        "{got:?}"
    );

    // uint8 inputs get raw values; half inputs the preset in f16; the default is 0..1.
    let (_, tensor) = image_input(
        &png,
        &signature(DType::UINT8, &[1, 1, 1, 3]),
        &ImageOptions::default(),
    )
    .unwrap();
    assert_eq!(tensor.data, TensorData::UInt8(vec![200, 100, 50]));
    let (_, tensor) = image_input(
        &png,
        &signature(DType::HALF, &[1, 1, 1, 3]),
        &ImageOptions::default(),
    )
    .unwrap();
    assert!((floats(&tensor.data)[0] - 200.0 / 255.0).abs() < 1e-3);
    // Grey input: BT.601 luma.
    let (_, tensor) = image_input(
        &png,
        &signature(DType::UINT8, &[1, 1, 1, 1]),
        &ImageOptions::default(),
    )
    .unwrap();
    let luma = (0.2989f32 * 200.0 + 0.587 * 100.0 + 0.114 * 50.0).round() as u8;
    assert_eq!(tensor.data, TensorData::UInt8(vec![luma]));
}

#[test]
fn layouts_and_open_sizes_follow_the_signature() {
    let png = encode(&sample(), ImageFormat::Png);
    // NHWC with open H and W: --size decides.
    let options = ImageOptions {
        size: Some((6, 10)),
        ..ImageOptions::default()
    };
    let (_, tensor) =
        image_input(&png, &signature(DType::FLOAT, &[-1, -1, -1, 3]), &options).unwrap();
    assert_eq!(tensor.shape, vec![1, 6, 10, 3]);
    // Open sizes default to 224x224.
    let (_, tensor) = image_input(
        &png,
        &signature(DType::FLOAT, &[-1, -1, -1, 3]),
        &ImageOptions::default(),
    )
    .unwrap();
    assert_eq!(tensor.shape, vec![1, 224, 224, 3]);
    // NCHW is detected from the shape: the planes are R, G, B.
    let sig = signature(DType::UINT8, &[-1, 3, 2, 4]);
    let InputPlan::Pixels { spec, .. } = plan_input(&sig, &ImageOptions::default()).unwrap() else {
        panic!()
    };
    assert_eq!((spec.layout, spec.height, spec.width), (Layout::Nchw, 2, 4));
    let (_, tensor) = image_input(&png, &sig, &ImageOptions::default()).unwrap();
    assert_eq!(tensor.shape, vec![1, 3, 2, 4]);
    let TensorData::UInt8(values) = &tensor.data else {
        panic!()
    };
    assert_eq!(
        &values[0..8],
        &[255, 0, 0, 255, 0, 128, 255, 0],
        "the red plane"
    );
    assert_eq!(
        &values[16..24],
        &[0, 0, 255, 255, 0, 128, 0, 255],
        "the blue plane"
    );
    // Rank 3 (no batch dimension).
    let (_, tensor) = image_input(
        &png,
        &signature(DType::FLOAT, &[2, 4, 3]),
        &ImageOptions::default(),
    )
    .unwrap();
    assert_eq!(tensor.shape, vec![2, 4, 3]);
    // RGBA and grey files feed 3-channel inputs.
    for name in ["rgba_20x10.png", "gray_16x16.png", "gradient_48x40.jpg"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let (_, tensor) = image_input(
            &bytes,
            &signature(DType::FLOAT, &[1, 8, 8, 3]),
            &ImageOptions::default(),
        )
        .unwrap();
        assert_eq!(tensor.shape, vec![1, 8, 8, 3], "{name}");
    }
}

#[test]
fn encoded_byte_inputs_get_the_file_unchanged() {
    let bytes = std::fs::read(fixture("gradient_48x40.jpg")).unwrap();
    let (key, tensor) = image_input(
        &bytes,
        &signature(DType::STRING, &[-1]),
        &ImageOptions::default(),
    )
    .unwrap();
    assert_eq!(key, "images");
    assert_eq!(tensor.shape, vec![1]);
    assert_eq!(tensor.data, TensorData::String(vec![bytes.clone()]));
    let (_, scalar) = image_input(
        &bytes,
        &signature(DType::STRING, &[]),
        &ImageOptions::default(),
    )
    .unwrap();
    assert!(scalar.shape.is_empty());
}

#[test]
fn bad_files_and_unusable_signatures_are_clear_errors() {
    let text = std::fs::read(fixture("not_an_image.txt")).unwrap();
    let err = image_input(
        &text,
        &signature(DType::STRING, &[-1]),
        &ImageOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImageError::NotAnImage(_)), "{err}");
    assert!(err.to_string().starts_with("not an image"), "{err}");
    let corrupt = std::fs::read(fixture("corrupt.jpg")).unwrap();
    let err = image_input(
        &corrupt,
        &signature(DType::FLOAT, &[1, 4, 4, 3]),
        &ImageOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImageError::Corrupt { .. }), "{err}");
    // Truncated files of every format: errors, never panics.
    for format in [
        ImageFormat::Png,
        ImageFormat::Bmp,
        ImageFormat::WebP,
        ImageFormat::Gif,
        ImageFormat::Jpeg,
    ] {
        let bytes = encode(&sample(), format);
        for cut in [4, bytes.len() / 2] {
            let _ = decode_image(&bytes[..cut]);
        }
    }
    let png = one_pixel_png([1, 2, 3]);
    for (dtype, sizes, wanted) in [
        (DType::INT64, vec![-1, 2, 2, 3], "DT_INT64"),
        (DType::FLOAT, vec![-1, 5], "rank 4"),
        (DType::FLOAT, vec![-1, 8, 8, 7], "7 channels"),
        (DType::STRING, vec![-1, 2], "rank 2"),
    ] {
        let err =
            image_input(&png, &signature(dtype, &sizes), &ImageOptions::default()).unwrap_err();
        assert!(err.to_string().contains(wanted), "{err}");
    }
    let mut two = signature(DType::FLOAT, &[1]);
    two.inputs[0].key = "a".into();
    two.inputs.push(TensorInfoView {
        key: "other".into(),
        dtype: DType::FLOAT,
        shape: Shape::from_sizes(&[1]),
        name: String::new(),
    });
    assert!(
        image_input(&png, &two, &ImageOptions::default())
            .unwrap_err()
            .to_string()
            .contains("name one")
    );
}

#[test]
fn preprocessing_json_in_the_model_assets_picks_the_preset() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("assets.extra")).unwrap();
    std::fs::write(
        dir.path().join("assets.extra/preprocessing.json"),
        r#"{"normalization": "imagenet", "channel_order": "bgr", "size": [32, 48], "crop_fraction": 0.875}"#,
    )
    .unwrap();
    let mut options = ImageOptions {
        normalization: Some(Normalization::Raw),
        ..ImageOptions::default()
    };
    assert_eq!(
        options.fill_from_model_dir(dir.path()).as_deref(),
        Some("assets.extra/preprocessing.json")
    );
    assert_eq!(
        options.normalization,
        Some(Normalization::Raw),
        "a given preset wins"
    );
    assert_eq!(options.channel_order, Some(ChannelOrder::Bgr));
    assert_eq!(options.size, Some((32, 48)));
    assert_eq!(options.crop_fraction, Some(0.875));
    let mut untouched = ImageOptions::default();
    assert!(
        untouched
            .fill_from_model_dir(&dir.path().join("missing"))
            .is_none()
    );
}
