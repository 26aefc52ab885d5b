//! Protobuf and gRPC types of TensorFlow and TensorFlow Serving.
//!
//! Everything here is generated at build time (see `build.rs`) from tfprobe's
//! own `.proto` files under `proto/`, which reproduce the message names, field
//! numbers and enum values of TensorFlow 2.21 / TF Serving 2.21 (verified by
//! `tools/check_protos.py` against the official descriptors). Modules follow
//! the protobuf packages:
//!
//! - [`tensorflow`]: graph and `SavedModel` types (`SavedModel`, `MetaGraphDef`,
//!   `SignatureDef`, `TensorInfo`, `TensorProto`, `DataType`, ...).
//! - [`tensorflow::serving`]: the TF Serving API (`PredictRequest`,
//!   `ModelSpec`, ...), its gRPC clients (`prediction_service_client`,
//!   `model_service_client`) and servers (`prediction_service_server`,
//!   `model_service_server`), and the model config file types
//!   (`ModelServerConfig`).
//! - [`tensorflow::error`]: the status `Code` enum.
//!
//! All protobuf `map` fields are `BTreeMap`s (sorted, deterministic output).
//! Well-known types (`google.protobuf.Any`, `Int64Value`, ...) are those of
//! `prost_types`. Conversions between these types and tfprobe's own live in
//! [`crate::tensor::proto`], not here: `pb` is the bottom layer and depends on
//! nothing of the crate (`convert` only re-exports the conversion for old paths).

pub mod convert;

/// Package `tensorflow`.
// Lints are off for generated code; the nested packages inherit this.
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    rustdoc::all
)]
pub mod tensorflow {
    include!(concat!(env!("OUT_DIR"), "/tensorflow.rs"));

    /// Package `tensorflow.error`.
    pub mod error {
        include!(concat!(env!("OUT_DIR"), "/tensorflow.error.rs"));
    }

    /// Package `tensorflow.serving`.
    pub mod serving {
        include!(concat!(env!("OUT_DIR"), "/tensorflow.serving.rs"));
    }
}

/// Encoded `google.protobuf.FileDescriptorSet` of all our `.proto` files plus
/// the well-known types they import (for gRPC server reflection and for
/// parsing text-format protos such as TF Serving's model config file).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/tfprobe_descriptor.bin"));

#[cfg(test)]
mod tests {
    use super::tensorflow::serving::{ModelSpec, PredictRequest, model_spec};
    use super::tensorflow::{DataType, TensorProto, TensorShapeProto, tensor_shape_proto};
    use prost::Message;

    #[test]
    fn model_spec_wire_bytes() {
        let spec = ModelSpec {
            name: "resnet".into(),
            ..Default::default()
        };
        assert_eq!(spec.encode_to_vec(), b"\x0a\x06resnet");

        // version = 3 (Int64Value{value=3}) and signature_name = "s".
        let spec = ModelSpec {
            name: "m".into(),
            version_choice: Some(model_spec::VersionChoice::Version(3)),
            signature_name: "s".into(),
        };
        assert_eq!(
            spec.encode_to_vec(),
            [0x0a, 1, b'm', 0x12, 2, 0x08, 3, 0x1a, 1, b's']
        );
    }

    #[test]
    fn predict_request_round_trip() {
        let tensor = TensorProto {
            dtype: DataType::DtString as i32,
            tensor_shape: Some(TensorShapeProto {
                dim: vec![tensor_shape_proto::Dim {
                    size: 1,
                    name: String::new(),
                }],
                unknown_rank: false,
            }),
            string_val: vec![vec![0xff, 0xd8, 0x00]],
            ..Default::default()
        };
        // TensorProto: dtype=7 (field 1, varint), tensor_shape (field 2) with
        // one dim (field 2) of size 1 (field 1), string_val (field 8).
        let tensor_bytes = [
            0x08, 0x07, 0x12, 0x04, 0x12, 0x02, 0x08, 0x01, 0x42, 0x03, 0xff, 0xd8, 0x00,
        ];
        assert_eq!(tensor.encode_to_vec(), tensor_bytes);

        let mut req = PredictRequest {
            model_spec: Some(ModelSpec {
                name: "resnet".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        req.inputs.insert("image_bytes".into(), tensor.clone());
        let bytes = req.encode_to_vec();

        // model_spec (field 1, length-delimited)
        let mut expected = vec![0x0a, 8, 0x0a, 6];
        expected.extend_from_slice(b"resnet");
        // inputs (field 2): map entry {key=1: "image_bytes", value=2: tensor}
        let mut entry = vec![0x0a, 11];
        entry.extend_from_slice(b"image_bytes");
        entry.extend_from_slice(&[0x12, u8::try_from(tensor_bytes.len()).unwrap()]);
        entry.extend_from_slice(&tensor_bytes);
        expected.extend_from_slice(&[0x12, u8::try_from(entry.len()).unwrap()]);
        expected.extend_from_slice(&entry);
        assert_eq!(bytes, expected);

        let back = PredictRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(back, req);
        assert_eq!(back.inputs["image_bytes"].string_val[0], [0xff, 0xd8, 0x00]);
        assert_eq!(back.inputs["image_bytes"].dtype(), DataType::DtString);
    }

    #[test]
    fn descriptor_set_has_services() {
        let fds = prost_types::FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET).unwrap();
        let services: Vec<String> = fds
            .file
            .iter()
            .flat_map(|f| {
                f.service
                    .iter()
                    .map(move |s| format!("{}.{}", f.package(), s.name()))
            })
            .collect();
        assert!(
            services
                .iter()
                .any(|s| s == "tensorflow.serving.PredictionService"),
            "{services:?}"
        );
        assert!(
            services
                .iter()
                .any(|s| s == "tensorflow.serving.ModelService"),
            "{services:?}"
        );
        assert!(
            fds.file
                .iter()
                .any(|f| f.name() == "google/protobuf/wrappers.proto"),
            "well-known imports are included"
        );
    }
}
