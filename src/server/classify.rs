//! TF Serving's Classify and Regress APIs, shared by REST and gRPC: the
//! request's tf.Example protos are serialized into the signature's single
//! DT_STRING input `inputs`, the signature is run like a Predict, and its
//! `classes` / `scores` (classify) or `outputs` (regress) tensors are checked
//! and turned into results. Signatures are checked by their inputs and
//! outputs, not their method name, like TF Serving without
//! `--enable_signature_method_name_check` (its default), so TF2 exports with
//! the right keys work too.

use super::Shared;
use super::error::ServeError;
use super::predict::{RequestLimits, check_inputs, run, signature_key_or_default};
use super::versions::{Servable, VersionRequest};
use crate::model::{DType, SignatureInfo};
use crate::pb::tensorflow::serving::{
    Class, ClassificationResult, Classifications, Input, Regression, RegressionResult, input,
};
use crate::tensor::NamedTensors;
use crate::tensor::{Tensor, TensorData};
use prost::Message;
use std::sync::Arc;
use std::time::Duration;

const INPUTS: &str = "inputs";
const CLASSES: &str = "classes";
const SCORES: &str = "scores";
const OUTPUTS: &str = "outputs";

/// Which of the two APIs a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Classify,
    Regress,
}

impl Api {
    /// The API's name in metrics labels and messages.
    pub fn name(self) -> &'static str {
        match self {
            Api::Classify => "classify",
            Api::Regress => "regress",
        }
    }

    /// The outputs to fetch, after checking the signature has this API's
    /// shape (TF Serving's PreProcessClassification / PreProcessRegression).
    fn output_keys(self, signature: &SignatureInfo) -> Result<Vec<String>, ServeError> {
        if signature.inputs.len() != 1 {
            return Err(ServeError::invalid("Expected one input Tensor."));
        }
        let outputs = signature.outputs.len();
        match self {
            Api::Classify if outputs != 1 && outputs != 2 => {
                return Err(ServeError::invalid(format!(
                    "Expected one or two output Tensors, found {outputs}"
                )));
            }
            Api::Regress if outputs != 1 => {
                return Err(ServeError::invalid("Expected one output Tensor."));
            }
            _ => {}
        }
        let kind = match self {
            Api::Classify => "classification",
            Api::Regress => "regression",
        };
        if signature.input(INPUTS).is_none() {
            return Err(ServeError::invalid(format!(
                "No {kind} inputs found in SignatureDef: {}",
                describe(signature)
            )));
        }
        let wanted: &[&str] = match self {
            Api::Classify => &[CLASSES, SCORES],
            Api::Regress => &[OUTPUTS],
        };
        let keys: Vec<String> = wanted
            .iter()
            .filter(|key| signature.output(key).is_some())
            .map(|key| key.to_string())
            .collect();
        if !keys.is_empty() {
            return Ok(keys);
        }
        Err(ServeError::invalid(match self {
            Api::Classify => format!(
                "Expected classification signature outputs to contain at least one of \"classes\" or \"scores\". Signature was: {}",
                describe(signature)
            ),
            Api::Regress => format!(
                "No regression outputs found in SignatureDef: {}",
                describe(signature)
            ),
        }))
    }
}

/// A one-line stand-in for the SignatureDef dump TF Serving prints: what is
/// needed to see why the signature does not fit.
fn describe(signature: &SignatureInfo) -> String {
    let keys = |tensors: &[crate::model::TensorInfoView]| {
        tensors
            .iter()
            .map(|tensor| format!("{} ({})", tensor.key, tensor.dtype.name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "'{}' (method_name {}) with inputs [{}] and outputs [{}]",
        signature.key,
        signature.method_name,
        keys(&signature.inputs),
        keys(&signature.outputs),
    )
}

/// A request that ran: the version and signature that answered, and what
/// the signature returned.
pub struct Outcome {
    pub servable: Arc<Servable>,
    pub signature_key: String,
    outputs: NamedTensors,
    num_examples: usize,
}

impl Outcome {
    /// The outputs as a Classify answer.
    pub fn classification(&self) -> Result<ClassificationResult, ServeError> {
        classification_result(&self.outputs, self.num_examples)
    }

    /// The outputs as a Regress answer.
    pub fn regression(&self) -> Result<RegressionResult, ServeError> {
        regression_result(&self.outputs, self.num_examples)
    }
}

/// One Classify or Regress request, decoded from either protocol.
pub struct ExamplesRequest<'a> {
    pub api: Api,
    pub model: &'a str,
    pub version: &'a VersionRequest,
    pub signature_name: &'a str,
    pub input: &'a Input,
    /// The most the serialized examples may take (context copies included).
    pub max_bytes: u64,
    pub timeout: Option<Duration>,
}

/// A request's signature input and the outputs to fetch, checked.
pub struct Prepared {
    pub inputs: NamedTensors,
    pub output_keys: Vec<String>,
    pub num_examples: usize,
}

/// Checks `signature` fits `api` and turns `input` into its `inputs` tensor
/// (what the serving paths and warmup replay both run).
pub fn prepare(
    api: Api,
    signature: &SignatureInfo,
    input: &Input,
    limits: &RequestLimits,
) -> Result<Prepared, ServeError> {
    let output_keys = api.output_keys(signature)?;
    let examples = serialized_examples(input, limits.max_decoded_bytes)?;
    let num_examples = examples.len();
    let tensor = Tensor::new(vec![num_examples as u64], TensorData::String(examples))
        .map_err(|err| ServeError::internal(err.to_string()))?;
    let inputs: NamedTensors = [(INPUTS.to_string(), tensor)].into_iter().collect();
    check_inputs(signature, &inputs, limits.max_batch_size)?;
    Ok(Prepared {
        inputs,
        output_keys,
        num_examples,
    })
}

/// Runs a request; `signature_label` gets the signature once it is known to exist.
pub async fn handle(
    shared: &Shared,
    request: ExamplesRequest<'_>,
    signature_label: &mut String,
) -> Result<Outcome, ServeError> {
    let servable = shared.manager.resolve(request.model, request.version)?;
    let signature_key = signature_key_or_default(request.signature_name);
    let signature = servable.signature(&signature_key)?;
    signature_label.push_str(&signature.key);
    let limits = RequestLimits {
        max_decoded_bytes: request.max_bytes,
        max_batch_size: shared.max_batch_size,
    };
    let prepared = prepare(request.api, signature, request.input, &limits)?;
    let outputs = run(
        &servable,
        &signature_key,
        prepared.inputs,
        &prepared.output_keys,
        request.timeout,
    )
    .await?;
    Ok(Outcome {
        servable,
        signature_key,
        outputs,
        num_examples: prepared.num_examples,
    })
}

/// Checks what a signature returned makes a valid answer (warmup keeps no answer).
pub fn check_outputs(
    api: Api,
    outputs: &NamedTensors,
    num_examples: usize,
) -> Result<(), ServeError> {
    match api {
        Api::Classify => classification_result(outputs, num_examples).map(drop),
        Api::Regress => regression_result(outputs, num_examples).map(drop),
    }
}

/// The examples as the model reads them: each serialized, with the context
/// (when there is one) serialized in front, which protobuf parsing merges
/// into each example (the example's own features win).
fn serialized_examples(input: &Input, max_bytes: u64) -> Result<Vec<Vec<u8>>, ServeError> {
    let (context, examples) = match &input.kind {
        None => (None, &[][..]),
        Some(input::Kind::ExampleList(list)) => (None, &list.examples[..]),
        Some(input::Kind::ExampleListWithContext(list)) => {
            (list.context.as_ref(), &list.examples[..])
        }
    };
    if examples.is_empty() {
        return Err(ServeError::invalid("Input is empty."));
    }
    let context = context.map(Message::encode_to_vec).unwrap_or_default();
    let total: u64 = examples
        .iter()
        .map(|example| (context.len() + example.encoded_len()) as u64)
        .sum();
    // The context is copied into every example: a large one in a small
    // request could otherwise take far more memory than the request did.
    if total > max_bytes {
        return Err(ServeError::invalid(format!(
            "the {} serialized examples take {total} bytes (the context repeated in each), \
             more than the server's limit of {max_bytes} bytes for a request's inputs; \
             send fewer examples or a smaller context, or start the server with a larger --max_request_bytes",
            examples.len()
        )));
    }
    examples
        .iter()
        .map(|example| {
            let mut bytes = Vec::with_capacity(context.len() + example.encoded_len());
            bytes.extend_from_slice(&context);
            // Encoding fails only when a buffer cannot grow, which a Vec always can.
            example.encode(&mut bytes).map_err(|err| {
                ServeError::internal(format!("cannot serialize an example: {err}"))
            })?;
            Ok(bytes)
        })
        .collect()
}

/// TensorFlow's `TensorShape::DebugString`: `[3,1]`.
fn shape_text(tensor: &Tensor) -> String {
    let dims: Vec<String> = tensor.shape.iter().map(u64::to_string).collect();
    format!("[{}]", dims.join(","))
}

/// Checks a classify output (`what`: "classes" or "scores") like TF Serving.
fn check_class_tensor(
    tensor: &Tensor,
    what: &str,
    dtype: DType,
    num_examples: usize,
) -> Result<(), ServeError> {
    if tensor.shape.len() != 2 {
        return Err(ServeError::invalid(format!(
            "Expected Tensor shape: [batch_size num_classes] but got {}",
            shape_text(tensor)
        )));
    }
    if tensor.dtype() != dtype {
        return Err(ServeError::invalid(format!(
            "Expected {what} Tensor of {}. Got: {}",
            dtype.name(),
            tensor.dtype().name()
        )));
    }
    if tensor.shape[0] != num_examples as u64 {
        return Err(ServeError::invalid(format!(
            "Expected {what} output batch size of {num_examples}. Got: {}",
            tensor.shape[0]
        )));
    }
    Ok(())
}

/// TF Serving's PostProcessClassificationResult: one (label, score) list per example.
fn classification_result(
    outputs: &NamedTensors,
    num_examples: usize,
) -> Result<ClassificationResult, ServeError> {
    let classes = outputs.get(CLASSES);
    let scores = outputs.get(SCORES);
    if let Some(tensor) = classes {
        check_class_tensor(tensor, "classes", DType::STRING, num_examples)?;
    }
    if let Some(tensor) = scores {
        check_class_tensor(tensor, "scores", DType::FLOAT, num_examples)?;
    }
    let num_classes = match (classes, scores) {
        (Some(classes), Some(scores)) if classes.shape[1] != scores.shape[1] => {
            return Err(ServeError::invalid(format!(
                "Tensors class and score should match in dim_size(1). Got {} vs. {}",
                classes.shape[1], scores.shape[1]
            )));
        }
        (Some(tensor), _) | (None, Some(tensor)) => tensor.shape[1] as usize,
        (None, None) => 0,
    };
    let labels = match classes.map(|tensor| &tensor.data) {
        Some(TensorData::String(labels)) => &labels[..],
        _ => &[],
    };
    let values = match scores.map(|tensor| &tensor.data) {
        Some(TensorData::Float(values)) => &values[..],
        _ => &[],
    };
    let classifications = (0..num_examples)
        .map(|example| Classifications {
            classes: (0..num_classes)
                .map(|class| {
                    let index = example * num_classes + class;
                    Class {
                        // proto3 strings must be UTF-8; TF Serving copies the bytes as they are.
                        label: labels
                            .get(index)
                            .map(|label| String::from_utf8_lossy(label).into_owned())
                            .unwrap_or_default(),
                        score: values.get(index).copied().unwrap_or_default(),
                    }
                })
                .collect(),
        })
        .collect();
    Ok(ClassificationResult { classifications })
}

/// TF Serving's PostProcessRegressionResult: one value per example.
fn regression_result(
    outputs: &NamedTensors,
    num_examples: usize,
) -> Result<RegressionResult, ServeError> {
    let tensor = outputs
        .get(OUTPUTS)
        .ok_or_else(|| ServeError::invalid("Could not find output tensor 'outputs'"))?;
    let shape = &tensor.shape;
    if !(shape.len() == 1 || (shape.len() == 2 && shape[1] == 1)) {
        return Err(ServeError::invalid(format!(
            "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got {}",
            shape_text(tensor)
        )));
    }
    if shape[0] != num_examples as u64 {
        return Err(ServeError::invalid(format!(
            "Input batch size did not match output batch size: {num_examples} vs. {}",
            shape[0]
        )));
    }
    let TensorData::Float(values) = &tensor.data else {
        return Err(ServeError::invalid(format!(
            "Expected output Tensor of DT_FLOAT.  Got: {}",
            tensor.dtype().name()
        )));
    };
    Ok(RegressionResult {
        regressions: values.iter().map(|&value| Regression { value }).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::tensorflow::serving::{ExampleList, ExampleListWithContext};
    use crate::pb::tensorflow::{Example, Feature, Features, FloatList, feature};

    fn example(name: &str, values: &[f32]) -> Example {
        let feature = Feature {
            kind: Some(feature::Kind::FloatList(FloatList {
                value: values.to_vec(),
            })),
        };
        Example {
            features: Some(Features {
                feature: [(name.to_string(), feature)].into_iter().collect(),
            }),
        }
    }

    #[test]
    fn context_is_merged_into_every_example() {
        let input = Input {
            kind: Some(input::Kind::ExampleListWithContext(
                ExampleListWithContext {
                    examples: vec![example("x", &[1.0]), example("y", &[2.0])],
                    context: Some(example("y", &[9.0])),
                },
            )),
        };
        let serialized = serialized_examples(&input, 1 << 20).unwrap();
        let parsed: Vec<Example> = serialized
            .iter()
            .map(|bytes| Example::decode(&bytes[..]).unwrap())
            .collect();
        let features = |example: &Example| example.features.clone().unwrap().feature;
        assert_eq!(features(&parsed[0]).len(), 2, "context y added to x");
        assert_eq!(features(&parsed[1]), features(&example("y", &[2.0])));
    }

    #[test]
    fn empty_and_oversized_inputs_are_refused() {
        let empty = Input {
            kind: Some(input::Kind::ExampleList(ExampleList { examples: vec![] })),
        };
        assert_eq!(
            serialized_examples(&empty, 1 << 20)
                .unwrap_err()
                .to_string(),
            "Input is empty."
        );
        assert!(serialized_examples(&Input { kind: None }, 1 << 20).is_err());
        let many = Input {
            kind: Some(input::Kind::ExampleListWithContext(
                ExampleListWithContext {
                    examples: vec![Example::default(); 100],
                    context: Some(example("x", &[0.0; 100])),
                },
            )),
        };
        let err = serialized_examples(&many, 10_000).unwrap_err().to_string();
        assert!(err.contains("larger --max_request_bytes"), "{err}");
    }

    #[test]
    fn outputs_are_checked_like_tf_serving() {
        let scores = Tensor::new(vec![2], TensorData::Float(vec![0.5, 0.5])).unwrap();
        let outputs: NamedTensors = [(SCORES.to_string(), scores)].into_iter().collect();
        assert_eq!(
            classification_result(&outputs, 2).unwrap_err().to_string(),
            "Expected Tensor shape: [batch_size num_classes] but got [2]"
        );
        let values = Tensor::new(vec![2, 1], TensorData::Float(vec![1.0, 2.0])).unwrap();
        let outputs: NamedTensors = [(OUTPUTS.to_string(), values)].into_iter().collect();
        assert_eq!(
            regression_result(&outputs, 3).unwrap_err().to_string(),
            "Input batch size did not match output batch size: 3 vs. 2"
        );
        assert_eq!(regression_result(&outputs, 2).unwrap().regressions.len(), 2);
    }
}
