//! Checking a request against a signature before anything runs, with errors that name
//! what the signature expects. Pure functions: no TensorFlow needed.

use super::{NamedTensors, RuntimeError};
use crate::model::{MetaGraphInfo, SavedModelInfo, Shape, SignatureInfo, TensorInfoView};
use crate::tensor::{Tensor, element_count};

/// The signature `key` of `meta_graph`, or `SignatureNotFound` listing the valid keys.
pub fn find_signature<'a>(
    meta_graph: &'a MetaGraphInfo,
    key: &str,
) -> Result<&'a SignatureInfo, RuntimeError> {
    meta_graph
        .signature(key)
        .ok_or_else(|| RuntimeError::SignatureNotFound {
            requested: key.to_string(),
            available: runnable_keys(meta_graph).join(", "),
        })
}

/// Signature keys a client can run (`__saved_model_init_op` is not one).
pub fn runnable_keys(meta_graph: &MetaGraphInfo) -> Vec<&str> {
    meta_graph
        .signature_keys()
        .into_iter()
        .filter(|key| !key.starts_with("__"))
        .collect()
}

/// The serving MetaGraph (tag `serve`) of a model tree.
pub fn serving_meta_graph(model: &SavedModelInfo) -> Result<&MetaGraphInfo, RuntimeError> {
    model
        .meta_graph(&["serve"])
        .ok_or_else(|| RuntimeError::InvalidArgument {
            message: format!(
                "the SavedModel at {} has no MetaGraph tagged 'serve' (tag-sets: {})",
                model.path.display(),
                model
                    .meta_graphs
                    .iter()
                    .map(|meta_graph| format!("'{}'", meta_graph.tags.join(",")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// `x: DT_FLOAT (-1, 3)` for each input, as error messages list them.
pub fn describe(views: &[TensorInfoView]) -> String {
    if views.is_empty() {
        return "nothing".into();
    }
    views
        .iter()
        .map(|view| format!("{}: {} {}", view.key, view.dtype, view.shape.cli_text()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks names, dtypes, ranks and fixed dims of `inputs` against `signature`.
pub fn check_inputs(signature: &SignatureInfo, inputs: &NamedTensors) -> Result<(), RuntimeError> {
    for key in inputs.keys() {
        if signature.input(key).is_none() {
            return Err(RuntimeError::UnknownInput {
                signature: signature.key.clone(),
                input: key.clone(),
                expected: describe(&signature.inputs),
            });
        }
    }
    for view in &signature.inputs {
        let tensor = inputs
            .get(&view.key)
            .ok_or_else(|| RuntimeError::MissingInput {
                signature: signature.key.clone(),
                input: view.key.clone(),
                expected: describe(&signature.inputs),
            })?;
        check_tensor(view, tensor)?;
    }
    Ok(())
}

/// One input against its TensorInfo.
pub fn check_tensor(view: &TensorInfoView, tensor: &Tensor) -> Result<(), RuntimeError> {
    if tensor.dtype() != view.dtype {
        return Err(RuntimeError::DTypeMismatch {
            input: view.key.clone(),
            expected: view.dtype.name(),
            actual: tensor.dtype().name(),
        });
    }
    if element_count(&tensor.shape) != Some(tensor.num_elements() as u64) {
        return Err(RuntimeError::InvalidArgument {
            message: format!(
                "input '{}' has shape {:?} but {} values",
                view.key,
                tensor.shape,
                tensor.num_elements()
            ),
        });
    }
    if let Shape::Dims(dims) = &view.shape {
        let fits = dims.len() == tensor.shape.len()
            && dims
                .iter()
                .zip(&tensor.shape)
                .all(|(dim, &actual)| dim.size < 0 || dim.size as u64 == actual);
        if !fits {
            return Err(RuntimeError::ShapeMismatch {
                input: view.key.clone(),
                expected: view.shape.cli_text(),
                actual: tensor.shape.clone(),
            });
        }
    }
    Ok(())
}

/// The outputs to fetch: `output_keys` (each must exist) or all of them.
pub fn select_outputs<'a>(
    signature: &'a SignatureInfo,
    output_keys: &[String],
) -> Result<Vec<&'a TensorInfoView>, RuntimeError> {
    if output_keys.is_empty() {
        return Ok(signature.outputs.iter().collect());
    }
    let mut selected = Vec::with_capacity(output_keys.len());
    for key in output_keys {
        let view = signature
            .output(key)
            .ok_or_else(|| RuntimeError::UnknownOutput {
                signature: signature.key.clone(),
                output: key.clone(),
                available: signature
                    .outputs
                    .iter()
                    .map(|view| view.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        if !selected
            .iter()
            .any(|chosen: &&TensorInfoView| chosen.key == view.key)
        {
            selected.push(view);
        }
    }
    Ok(selected)
}

/// `serving_default_x:0` -> (`serving_default_x`, 0); a name without `:N` is output 0.
pub fn split_tensor_name(name: &str) -> Result<(&str, i32), RuntimeError> {
    match name.rsplit_once(':') {
        Some((operation, index)) => match index.parse::<i32>() {
            Ok(index) if index >= 0 && !operation.is_empty() => Ok((operation, index)),
            _ => Err(RuntimeError::InvalidArgument { message: format!("malformed tensor name '{name}' in the signature") }),
        },
        None if !name.is_empty() => Ok((name, 0)),
        None => Err(RuntimeError::InvalidArgument {
            message: "the signature names no graph tensor (composite or sparse tensors are not supported)".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DType;
    use crate::tensor::TensorData;

    fn signature() -> SignatureInfo {
        let view = |key: &str, dtype, sizes: &[i64]| TensorInfoView {
            key: key.into(),
            dtype,
            shape: Shape::from_sizes(sizes),
            name: format!("serving_default_{key}:0"),
        };
        SignatureInfo {
            key: "serving_default".into(),
            method_name: "tensorflow/serving/predict".into(),
            inputs: vec![
                view("m", DType::FLOAT, &[2, -1]),
                view("v", DType::INT32, &[3]),
            ],
            outputs: vec![view("y", DType::FLOAT, &[-1])],
        }
    }

    fn inputs(m_shape: Vec<u64>, v: Tensor) -> NamedTensors {
        let count = m_shape.iter().product::<u64>() as usize;
        let mut inputs = NamedTensors::new();
        inputs.insert(
            "m".into(),
            Tensor::new(m_shape, TensorData::Float(vec![0.0; count])).unwrap(),
        );
        inputs.insert("v".into(), v);
        inputs
    }

    #[test]
    fn accepts_matching_inputs_and_names_what_is_wrong() {
        let sig = signature();
        let v = Tensor::new(vec![3], TensorData::Int32(vec![1, 2, 3])).unwrap();
        check_inputs(&sig, &inputs(vec![2, 5], v.clone())).unwrap();
        check_inputs(&sig, &inputs(vec![2, 0], v.clone())).unwrap();

        let err = check_inputs(&sig, &inputs(vec![3, 5], v.clone())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input 'm' expects shape (2, -1) but got [3, 5]"
        );
        let err = check_inputs(&sig, &inputs(vec![2], v.clone())).unwrap_err();
        assert!(matches!(err, RuntimeError::ShapeMismatch { .. }));

        let wrong = Tensor::new(vec![3], TensorData::Int64(vec![1, 2, 3])).unwrap();
        let err = check_inputs(&sig, &inputs(vec![2, 1], wrong)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input 'v' expects dtype DT_INT32 but got DT_INT64"
        );

        let mut missing = inputs(vec![2, 1], v.clone());
        missing.remove("v");
        let err = check_inputs(&sig, &missing).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input 'v' of signature 'serving_default' is missing; the signature expects: m: DT_FLOAT (2, -1), v: DT_INT32 (3)"
        );
        let mut extra = inputs(vec![2, 1], v);
        extra.insert(
            "z".into(),
            Tensor::scalar(TensorData::Bool(vec![true])).unwrap(),
        );
        assert!(matches!(
            check_inputs(&sig, &extra).unwrap_err(),
            RuntimeError::UnknownInput { .. }
        ));
    }

    #[test]
    fn outputs_and_tensor_names() {
        let sig = signature();
        assert_eq!(select_outputs(&sig, &[]).unwrap().len(), 1);
        let err = select_outputs(&sig, &["nope".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "signature 'serving_default' has no output 'nope'; its outputs are: y"
        );
        assert_eq!(
            split_tensor_name("StatefulPartitionedCall:1").unwrap(),
            ("StatefulPartitionedCall", 1)
        );
        assert_eq!(split_tensor_name("x").unwrap(), ("x", 0));
        assert!(split_tensor_name("x:a").is_err());
        assert!(split_tensor_name("").is_err());
    }
}
