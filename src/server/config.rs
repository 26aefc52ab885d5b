//! What to serve: models (name, base path, version policy, version labels),
//! from `--model_name`/`--model_base_path` or from TF Serving's text-format
//! `ModelServerConfig` file (`--model_config_file`), which is parsed against
//! the same descriptors the gRPC types are generated from.

use super::error::ServeError;
use crate::pb::tensorflow::serving::file_system_storage_path_source_config::servable_version_policy::PolicyChoice;
use crate::pb::tensorflow::serving::{ModelServerConfig, model_server_config};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which of the numeric version folders under a base path are served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionPolicy {
    /// The `num_versions` highest versions (TF Serving's default: 1).
    Latest { num_versions: u32 },
    /// Every version found.
    All,
    /// Exactly these versions (those present on disk).
    Specific { versions: Vec<i64> },
}

impl Default for VersionPolicy {
    fn default() -> Self {
        VersionPolicy::Latest { num_versions: 1 }
    }
}

impl VersionPolicy {
    /// The versions to serve out of those on disk (ascending in and out).
    pub fn select(&self, on_disk: &[i64]) -> Vec<i64> {
        match self {
            VersionPolicy::Latest { num_versions } => {
                let keep = (*num_versions).max(1) as usize;
                on_disk[on_disk.len().saturating_sub(keep)..].to_vec()
            }
            VersionPolicy::All => on_disk.to_vec(),
            VersionPolicy::Specific { versions } => on_disk
                .iter()
                .copied()
                .filter(|version| versions.contains(version))
                .collect(),
        }
    }
}

/// One model to serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSource {
    /// The name clients use (`ModelSpec.name`, `/v1/models/{name}`).
    pub name: String,
    /// The folder holding numeric version folders (`.../resnet/1538687457/`).
    pub base_path: PathBuf,
    pub policy: VersionPolicy,
    /// Version labels (`stable` -> 1), for `/labels/{label}` and `version_label`.
    pub labels: BTreeMap<String, i64>,
}

impl ModelSource {
    /// A model served with TF Serving's defaults (latest version, no labels).
    pub fn new(name: impl Into<String>, base_path: impl Into<PathBuf>) -> Self {
        ModelSource {
            name: name.into(),
            base_path: base_path.into(),
            policy: VersionPolicy::default(),
            labels: BTreeMap::new(),
        }
    }
}

/// Reads a TF Serving model config file (text-format `ModelServerConfig`).
/// Relative base paths are taken relative to the file's folder.
pub fn read_model_config_file(path: &Path) -> Result<Vec<ModelSource>, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_model_config(&text, path.parent()).map_err(|err| match err {
        ServeError::Config { message } => {
            ServeError::config(format!("model config file {}: {message}", path.display()))
        }
        other => other,
    })
}

/// Parses the text of a model config file.
pub fn parse_model_config(
    text: &str,
    relative_to: Option<&Path>,
) -> Result<Vec<ModelSource>, ServeError> {
    let config = parse_text_proto(text)?;
    let list = match config.config {
        Some(model_server_config::Config::ModelConfigList(list)) => list,
        Some(model_server_config::Config::CustomModelConfig(_)) => {
            return Err(ServeError::config(
                "custom_model_config is not supported; use model_config_list",
            ));
        }
        None => {
            return Err(ServeError::config(
                "no model_config_list { config { ... } } found",
            ));
        }
    };
    let mut sources: Vec<ModelSource> = Vec::new();
    for model in list.config {
        if model.name.is_empty() {
            return Err(ServeError::config("a config entry has no name"));
        }
        if sources.iter().any(|source| source.name == model.name) {
            return Err(ServeError::config(format!(
                "Illegal to list model {} multiple times in config list",
                model.name
            )));
        }
        if model.base_path.is_empty() {
            return Err(ServeError::config(format!(
                "model {} has no base_path",
                model.name
            )));
        }
        if !model.model_platform.is_empty() && model.model_platform != "tensorflow" {
            return Err(ServeError::config(format!(
                "model {}: model_platform '{}' is not supported (only 'tensorflow')",
                model.name, model.model_platform
            )));
        }
        let base_path = PathBuf::from(&model.base_path);
        let base_path = match relative_to {
            Some(dir) if base_path.is_relative() => dir.join(base_path),
            _ => base_path,
        };
        let policy = match model
            .model_version_policy
            .and_then(|policy| policy.policy_choice)
        {
            None => VersionPolicy::default(),
            Some(PolicyChoice::Latest(latest)) => VersionPolicy::Latest {
                num_versions: latest.num_versions.max(1),
            },
            Some(PolicyChoice::All(_)) => VersionPolicy::All,
            Some(PolicyChoice::Specific(specific)) => {
                if specific.versions.is_empty() {
                    return Err(ServeError::config(format!(
                        "model {}: model_version_policy specific {{ }} lists no versions",
                        model.name
                    )));
                }
                VersionPolicy::Specific {
                    versions: specific.versions,
                }
            }
        };
        sources.push(ModelSource {
            name: model.name,
            base_path,
            policy,
            labels: model.version_labels,
        });
    }
    if sources.is_empty() {
        return Err(ServeError::config("model_config_list lists no models"));
    }
    Ok(sources)
}

fn parse_text_proto(text: &str) -> Result<ModelServerConfig, ServeError> {
    let pool = prost_reflect::DescriptorPool::decode(crate::pb::FILE_DESCRIPTOR_SET)
        .map_err(|err| ServeError::internal(format!("descriptor set: {err}")))?;
    let descriptor = pool
        .get_message_by_name("tensorflow.serving.ModelServerConfig")
        .ok_or_else(|| {
            ServeError::internal("descriptor set lacks tensorflow.serving.ModelServerConfig")
        })?;
    let message =
        prost_reflect::DynamicMessage::parse_text_format(descriptor, text).map_err(|err| {
            ServeError::config(format!("not a valid text-format ModelServerConfig: {err}"))
        })?;
    message
        .transcode_to::<ModelServerConfig>()
        .map_err(|err| ServeError::internal(format!("ModelServerConfig: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_select_versions() {
        let on_disk = [1, 2, 5, 7];
        assert_eq!(VersionPolicy::default().select(&on_disk), vec![7]);
        assert_eq!(
            VersionPolicy::Latest { num_versions: 2 }.select(&on_disk),
            vec![5, 7]
        );
        assert_eq!(
            VersionPolicy::Latest { num_versions: 9 }.select(&on_disk),
            vec![1, 2, 5, 7]
        );
        assert_eq!(VersionPolicy::All.select(&on_disk), vec![1, 2, 5, 7]);
        assert_eq!(
            VersionPolicy::Specific {
                versions: vec![2, 3, 7]
            }
            .select(&on_disk),
            vec![2, 7]
        );
        assert!(VersionPolicy::default().select(&[]).is_empty());
    }

    #[test]
    fn parses_tf_serving_model_config_files() {
        let text = r#"
            model_config_list {
              config {
                name: 'resnet'
                base_path: '/models/resnet'
                model_platform: 'tensorflow'
                model_version_policy { specific { versions: 1 versions: 2 } }
                version_labels { key: 'stable' value: 1 }
                version_labels { key: 'canary' value: 2 }
              }
              config: {
                name: "half"
                base_path: "relative/half"
                model_version_policy: { all: {} }
              }
              config { name: "latest2" base_path: "/m/l" model_version_policy { latest { num_versions: 2 } } }
            }
        "#;
        let models = parse_model_config(text, Some(Path::new("/etc/tfprobe"))).unwrap();
        assert_eq!(models.len(), 3);
        assert_eq!(models[0].name, "resnet");
        assert_eq!(models[0].base_path, PathBuf::from("/models/resnet"));
        assert_eq!(
            models[0].policy,
            VersionPolicy::Specific {
                versions: vec![1, 2]
            }
        );
        assert_eq!(models[0].labels["stable"], 1);
        assert_eq!(models[0].labels["canary"], 2);
        assert_eq!(
            models[1].base_path,
            PathBuf::from("/etc/tfprobe/relative/half")
        );
        assert_eq!(models[1].policy, VersionPolicy::All);
        assert_eq!(models[2].policy, VersionPolicy::Latest { num_versions: 2 });
    }

    #[test]
    fn config_errors_say_what_is_wrong() {
        let err =
            parse_model_config("model_config_list { config { nme: 'x' } }", None).unwrap_err();
        assert!(err.to_string().contains("nme"), "{err}");
        let err = parse_model_config(
            "model_config_list { config { name: 'a' base_path: '/a' } config { name: 'a' base_path: '/b' } }",
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Illegal to list model a multiple times in config list"
        );
        assert!(
            parse_model_config("", None)
                .unwrap_err()
                .to_string()
                .contains("model_config_list")
        );
    }
}
