//! Which signature a request runs: the one asked for, else `serving_default`, else the
//! only runnable one. One rule for the CLI, the app and every target, and one error
//! that lists the choices.

pub use crate::model::DEFAULT_SIGNATURE_KEY;
use crate::model::{MetaGraphInfo, SavedModelInfo, SignatureInfo};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the model has no signature '{asked}' (it has: {}); choose one with --signature_def or the app's Signature menu", list(.available))]
    NotFound {
        asked: String,
        available: Vec<String>,
    },
    #[error("the model has several signatures ({}) and none is serving_default; choose one with --signature_def or the app's Signature menu", list(.available))]
    Ambiguous { available: Vec<String> },
    #[error("the model has no signature a client can run (tag-set 'serve' holds none)")]
    NoSignatures,
}

fn list(keys: &[String]) -> String {
    keys.join(", ")
}

/// Signatures a client can run, in the model's order (`__saved_model_init_op` is none).
pub fn runnable(meta_graph: &MetaGraphInfo) -> Vec<&SignatureInfo> {
    meta_graph
        .signatures
        .iter()
        .filter(|signature| !signature.key.starts_with("__"))
        .collect()
}

/// The runnable signatures of a model's serving MetaGraph (none without one).
pub fn runnable_in(model: &SavedModelInfo) -> Vec<&SignatureInfo> {
    model.serving_meta_graph().map(runnable).unwrap_or_default()
}

/// The signature a request runs. `asked` empty counts as not asked.
pub fn pick<'a>(
    model: &'a SavedModelInfo,
    asked: Option<&str>,
) -> Result<&'a SignatureInfo, SignatureError> {
    let signatures = runnable_in(model);
    let available = || signatures.iter().map(|s| s.key.clone()).collect();
    match asked.filter(|key| !key.is_empty()) {
        Some(key) => signatures
            .iter()
            .find(|signature| signature.key == key)
            .copied()
            .ok_or_else(|| SignatureError::NotFound {
                asked: key.to_string(),
                available: available(),
            }),
        None => match signatures.as_slice() {
            [] => Err(SignatureError::NoSignatures),
            [only] => Ok(only),
            several => several
                .iter()
                .find(|signature| signature.key == DEFAULT_SIGNATURE_KEY)
                .copied()
                .ok_or_else(|| SignatureError::Ambiguous {
                    available: available(),
                }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MetaGraphInfo;

    fn model(keys: &[&str]) -> SavedModelInfo {
        let signatures = keys
            .iter()
            .map(|key| SignatureInfo {
                key: key.to_string(),
                method_name: "tensorflow/serving/predict".into(),
                inputs: Vec::new(),
                outputs: Vec::new(),
            })
            .collect();
        SavedModelInfo {
            meta_graphs: vec![MetaGraphInfo {
                tags: vec!["serve".into()],
                signatures,
                ..MetaGraphInfo::default()
            }],
            ..SavedModelInfo::default()
        }
    }

    #[test]
    fn asked_then_default_then_only() {
        let both = model(&["predict", "serving_default", "__saved_model_init_op"]);
        assert_eq!(pick(&both, None).unwrap().key, "serving_default");
        assert_eq!(pick(&both, Some("")).unwrap().key, "serving_default");
        assert_eq!(pick(&both, Some("predict")).unwrap().key, "predict");
        let only = model(&["classify", "__saved_model_init_op"]);
        assert_eq!(pick(&only, None).unwrap().key, "classify");
    }

    #[test]
    fn errors_list_the_choices_and_the_way_to_choose() {
        let two = model(&["a", "b"]);
        assert_eq!(
            pick(&two, None).unwrap_err().to_string(),
            "the model has several signatures (a, b) and none is serving_default; choose one with \
             --signature_def or the app's Signature menu"
        );
        assert_eq!(
            pick(&two, Some("c")).unwrap_err().to_string(),
            "the model has no signature 'c' (it has: a, b); choose one with --signature_def or the \
             app's Signature menu"
        );
        assert_eq!(
            pick(&model(&["__saved_model_init_op"]), None).unwrap_err(),
            SignatureError::NoSignatures
        );
    }
}
