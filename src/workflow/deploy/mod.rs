//! The hand-off to serving engines built for clusters: what TF Serving in Docker
//! (`docker run`, a compose file), KServe (an `InferenceService`) and Triton (a model
//! repository with `config.pbtxt`) need to serve the opened model. Pure text from the
//! signature tree; [`write_plan`] puts a plan's files in a folder.

mod files;
mod triton;

pub use files::{DeployContents, DeployFile, DeployPlan, DeployTarget, write_plan};
pub use triton::{triton_config, triton_data_type};

use super::WorkflowError;
use crate::model::SavedModelInfo;
use std::path::{Path, PathBuf};

/// KServe's inference protocol: v1 is TF Serving's REST API, v2 the Open Inference one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KserveProtocol {
    #[default]
    V1,
    V2,
}

/// What the user chose beyond the model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeployOptions {
    /// The served model's name; `None` takes [`super::open::default_model_name`].
    pub model_name: Option<String>,
    pub protocol: KserveProtocol,
    /// KServe's `storageUri`; `None` names a PersistentVolumeClaim path to copy into.
    pub storage_uri: Option<String>,
    /// Triton: link `model.savedmodel` to the version folder instead of copying it.
    pub symlink: bool,
}

/// Where TF Serving's base path is (the folder of numeric version folders), and the
/// shell commands that make one when the user opened a folder that is not inside one.
struct BaseLayout {
    base_path: PathBuf,
    version: i64,
    prepare: Option<String>,
}

fn base_layout(info: &SavedModelInfo, model_name: &str) -> BaseLayout {
    let absolute = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Some(base) = &info.base_path {
        return BaseLayout {
            base_path: absolute(base),
            version: info.version.unwrap_or(1),
            prepare: None,
        };
    }
    let dir = absolute(&info.path);
    match (info.version, dir.parent()) {
        (Some(version), Some(parent)) => BaseLayout {
            base_path: parent.to_path_buf(),
            version,
            prepare: None,
        },
        (_, parent) => {
            let base_path = parent
                .unwrap_or(Path::new("/"))
                .join(format!("{model_name}-serving"));
            let prepare = format!(
                "mkdir -p {base} && cp -r {dir} {version_dir}",
                base = shell_quote(&base_path.display().to_string()),
                dir = shell_quote(&dir.display().to_string()),
                version_dir = shell_quote(&base_path.join("1").display().to_string()),
            );
            BaseLayout {
                base_path,
                version: 1,
                prepare: Some(prepare),
            }
        }
    }
}

/// Builds the files `target` needs for the model `info`.
pub fn plan(
    info: &SavedModelInfo,
    target: DeployTarget,
    options: &DeployOptions,
) -> Result<DeployPlan, WorkflowError> {
    // The name lands in a container name, a folder, a URL and a YAML key: even the
    // folder's own name is checked (the error asks for a plain one).
    let model_name = match &options.model_name {
        Some(name) => check_model_name(name)?,
        None => check_model_name(&super::open::default_model_name(info))?,
    };
    let layout = base_layout(info, &model_name);
    let mut notes = Vec::new();
    if let Some(prepare) = &layout.prepare {
        notes.push(format!(
            "TF Serving loads <base path>/<version>/saved_model.pb, and {} is not inside a numeric \
             version folder. Lay it out first: {prepare}",
            info.path.display()
        ));
    }
    let text_file = |name: &str, body: String| DeployFile {
        relative_path: PathBuf::from(name),
        contents: DeployContents::Text(body),
    };
    let files = match target {
        DeployTarget::Docker => {
            let mut script = String::from("#!/bin/sh\n");
            if let Some(prepare) = &layout.prepare {
                script.push_str(&format!("{prepare}\n"));
            }
            script.push_str(&docker_command(&layout.base_path, &model_name));
            script.push('\n');
            vec![text_file("docker-run.sh", script)]
        }
        DeployTarget::Compose => vec![text_file(
            "docker-compose.yaml",
            compose_yaml(&layout.base_path, &model_name),
        )],
        DeployTarget::Kserve => {
            let resource = kserve_name(&model_name);
            let storage_uri = match &options.storage_uri {
                Some(uri) => uri.clone(),
                None => {
                    let uri = format!("pvc://{resource}-models/{model_name}");
                    let what = match options.protocol {
                        KserveProtocol::V1 => format!(
                            "{} with its numeric version folders",
                            layout.base_path.display()
                        ),
                        KserveProtocol::V2 => "the Triton model repository".to_string(),
                    };
                    notes.push(format!(
                        "storageUri {uri} is a PersistentVolumeClaim path: copy {what} there, or \
                         give --storage_uri (gs://, s3://, pvc://)."
                    ));
                    uri
                }
            };
            if options.protocol == KserveProtocol::V2 {
                notes.push(
                    "KServe serves TensorFlow over protocol v2 with its Triton runtime: the storage \
                     must hold a Triton model repository (tfprobe deploy --target triton)."
                        .to_string(),
                );
            }
            vec![text_file(
                "inferenceservice.yaml",
                kserve_yaml(&resource, &storage_uri, options.protocol),
            )]
        }
        DeployTarget::Triton => {
            let config = triton_config(info, &model_name)?;
            let savedmodel = PathBuf::from(&model_name)
                .join(layout.version.to_string())
                .join("model.savedmodel");
            let model_dir = std::fs::canonicalize(&info.path).unwrap_or_else(|_| info.path.clone());
            vec![
                DeployFile {
                    relative_path: PathBuf::from(&model_name).join("config.pbtxt"),
                    contents: DeployContents::Text(config),
                },
                DeployFile {
                    relative_path: savedmodel,
                    contents: if options.symlink {
                        DeployContents::LinkTo(model_dir)
                    } else {
                        DeployContents::CopyOf(model_dir)
                    },
                },
            ]
        }
    };
    Ok(DeployPlan {
        target,
        model_name,
        files,
        notes,
    })
}

/// Model names become folder names, URL parts and environment values: keep them plain.
fn check_model_name(name: &str) -> Result<String, WorkflowError> {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        && !name.starts_with('.');
    if plain {
        Ok(name.to_string())
    } else {
        Err(WorkflowError::Setting(format!(
            "model name {name:?} must be ASCII letters, digits, '_', '-' or '.', not starting with '.'"
        )))
    }
}

/// A Kubernetes resource name (RFC 1123 label): lowercase letters, digits and '-'.
fn kserve_name(model_name: &str) -> String {
    let name: String = model_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "model".to_string()
    } else {
        name.chars().take(63).collect()
    }
}

/// Quotes a word for a POSIX shell when it holds anything but plain characters.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-,=:+@".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The seed article's command, with this model's base path and name.
pub fn docker_command(base_path: &Path, model_name: &str) -> String {
    let mount = format!(
        "type=bind,source={},target=/models/{model_name}",
        base_path.display()
    );
    format!(
        "docker run -p 8500:8500 -p 8501:8501 --name tfserving_{model_name} --mount {} -e MODEL_NAME={model_name} -t tensorflow/serving",
        shell_quote(&mount)
    )
}

/// A YAML scalar: JSON's double-quoted strings are YAML's too.
fn yaml_string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

fn compose_yaml(base_path: &Path, model_name: &str) -> String {
    format!(
        "services:\n  {service}:\n    image: tensorflow/serving\n    ports:\n      - \"8500:8500\"\n      - \"8501:8501\"\n    \
         volumes:\n      - type: bind\n        source: {source}\n        target: {target}\n    \
         environment:\n      MODEL_NAME: {name}\n",
        service = kserve_name(model_name),
        source = yaml_string(&base_path.display().to_string()),
        target = yaml_string(&format!("/models/{model_name}")),
        name = yaml_string(model_name),
    )
}

fn kserve_yaml(resource: &str, storage_uri: &str, protocol: KserveProtocol) -> String {
    let protocol = match protocol {
        KserveProtocol::V1 => "v1",
        KserveProtocol::V2 => "v2",
    };
    format!(
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: {resource}\nspec:\n  \
         predictor:\n    model:\n      modelFormat:\n        name: tensorflow\n      protocolVersion: {protocol}\n      \
         storageUri: {uri}\n",
        uri = yaml_string(storage_uri),
    )
}
