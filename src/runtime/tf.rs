//! The TensorFlow backend: a SavedModel loaded with TensorFlow's C session loader (tag
//! `serve`), run by the signature tree that `model::open` read (not the crate's own
//! MetaGraphDef parse), feeding and fetching by the TensorInfo names (`name:0`).

use super::library::{self, LoadedRuntime};
use super::tf_tensor::{TfInput, fetch_output, status_error, status_message};
use super::validate;
use super::{Backend, NamedTensors, RuntimeError};
use crate::model::{MetaGraphInfo, SavedModelInfo, SignatureInfo};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tensorflow::{Graph, Operation, SavedModelBundle, SessionOptions, SessionRunArgs};

/// How to load a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Threads one op may use (`intra_op_parallelism_threads`); `None`: TensorFlow's default.
    pub intra_op_threads: Option<u32>,
    /// Ops run at once (`inter_op_parallelism_threads`); `None`: TensorFlow's default.
    pub inter_op_threads: Option<u32>,
    /// The MetaGraph to load; `["serve"]` by default.
    pub tags: Vec<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            intra_op_threads: None,
            inter_op_threads: None,
            tags: vec!["serve".into()],
        }
    }
}

/// A serialized `tensorflow.ConfigProto` holding only the two thread counts: field 2
/// `intra_op_parallelism_threads` and field 5 `inter_op_parallelism_threads`, both int32
/// varints (tag byte = field number << 3 | wire type 0). Empty when neither is set.
pub fn config_proto(intra_op_threads: Option<u32>, inter_op_threads: Option<u32>) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push((value as u8) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }
    let mut out = Vec::new();
    for (field, value) in [(2u64, intra_op_threads), (5u64, inter_op_threads)] {
        if let Some(value) = value {
            varint(&mut out, field << 3);
            varint(&mut out, u64::from(value));
        }
    }
    out
}

/// Graph ports of one signature, resolved at load time.
struct Ports {
    inputs: HashMap<String, (Operation, i32)>,
    outputs: HashMap<String, (Operation, i32)>,
}

/// A SavedModel loaded into a TensorFlow session. Thread-safe: sessions run concurrently.
pub struct TfBackend {
    model: SavedModelInfo,
    tags: Vec<String>,
    /// The MetaGraph loaded (the one `tags` names in `model`), found once at load time.
    meta_graph: MetaGraphInfo,
    bundle: SavedModelBundle,
    /// Kept alive for the session (operations also hold it).
    _graph: Graph,
    /// Per signature key: its ports, or why it cannot run.
    ports: HashMap<String, Result<Ports, String>>,
    runtime: Arc<LoadedRuntime>,
    load_time: Duration,
}

impl std::fmt::Debug for TfBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TfBackend")
            .field("path", &self.model.path)
            .field("tags", &self.tags)
            .finish_non_exhaustive()
    }
}

impl TfBackend {
    /// Loads libtensorflow if needed, reads the signature tree, then loads the SavedModel
    /// (a version directory or a TF-Serving base path, whose highest version is used).
    pub fn load(dir: &Path, options: &LoadOptions) -> Result<TfBackend, RuntimeError> {
        let runtime = library::ensure_loaded()?;
        let model = crate::model::open(dir)?;
        let tags: Vec<&str> = options.tags.iter().map(String::as_str).collect();
        let meta_graph = model
            .meta_graph(&tags)
            .ok_or_else(|| RuntimeError::ModelLoad {
                path: model.path.clone(),
                message: format!(
                    "no MetaGraph with tag-set '{}'; the model has {}",
                    tags.join(","),
                    model
                        .meta_graphs
                        .iter()
                        .map(|meta_graph| format!("'{}'", meta_graph.tags.join(",")))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        let mut session_options = SessionOptions::new();
        let config = config_proto(options.intra_op_threads, options.inter_op_threads);
        if !config.is_empty() {
            session_options.set_config(&config).map_err(status_error)?;
        }
        let mut graph = Graph::new();
        let started = Instant::now();
        let bundle = SavedModelBundle::load(&session_options, &tags, &mut graph, &model.path)
            .map_err(|status| RuntimeError::ModelLoad {
                path: model.path.clone(),
                message: status_message(&status),
            })?;
        let load_time = started.elapsed();
        let ports = meta_graph
            .signatures
            .iter()
            .map(|signature| (signature.key.clone(), resolve_ports(&graph, signature)))
            .collect();
        let meta_graph = meta_graph.clone();
        Ok(TfBackend {
            tags: options.tags.clone(),
            meta_graph,
            model,
            bundle,
            _graph: graph,
            ports,
            runtime,
            load_time,
        })
    }

    /// The library this backend runs on.
    pub fn runtime(&self) -> &LoadedRuntime {
        &self.runtime
    }

    /// How long TensorFlow took to load the SavedModel (restore included).
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    pub fn meta_graph(&self) -> &MetaGraphInfo {
        &self.meta_graph
    }
}

fn resolve_ports(graph: &Graph, signature: &SignatureInfo) -> Result<Ports, String> {
    let resolve = |name: &str| -> Result<(Operation, i32), String> {
        let (operation, index) =
            validate::split_tensor_name(name).map_err(|err| err.to_string())?;
        let found = graph
            .operation_by_name(operation)
            .map_err(|err| format!("bad operation name '{operation}': {err}"))?
            .ok_or_else(|| format!("the graph has no operation '{operation}' (tensor '{name}')"))?;
        if index as usize >= found.num_outputs() {
            return Err(format!(
                "operation '{operation}' has no output {index} (tensor '{name}')"
            ));
        }
        Ok((found, index))
    };
    let mut ports = Ports {
        inputs: HashMap::new(),
        outputs: HashMap::new(),
    };
    for view in &signature.inputs {
        ports.inputs.insert(
            view.key.clone(),
            resolve(&view.name).map_err(|err| format!("input '{}': {err}", view.key))?,
        );
    }
    for view in &signature.outputs {
        ports.outputs.insert(
            view.key.clone(),
            resolve(&view.name).map_err(|err| format!("output '{}': {err}", view.key))?,
        );
    }
    Ok(ports)
}

impl Backend for TfBackend {
    fn model(&self) -> &SavedModelInfo {
        &self.model
    }

    fn run(
        &self,
        signature_key: &str,
        inputs: NamedTensors,
        output_keys: &[String],
    ) -> Result<NamedTensors, RuntimeError> {
        let signature = validate::find_signature(self.meta_graph(), signature_key)?;
        validate::check_inputs(signature, &inputs)?;
        let outputs = validate::select_outputs(signature, output_keys)?;
        let ports = match self.ports.get(signature_key) {
            Some(Ok(ports)) => ports,
            Some(Err(why)) => {
                return Err(RuntimeError::InvalidArgument {
                    message: format!("signature '{signature_key}' cannot run: {why}"),
                });
            }
            None => {
                return Err(RuntimeError::SignatureNotFound {
                    requested: signature_key.into(),
                    available: String::new(),
                });
            }
        };
        let feeds: Vec<(&(Operation, i32), TfInput)> = signature
            .inputs
            .iter()
            .map(|view| {
                (
                    &ports.inputs[&view.key],
                    TfInput::from_tensor(&inputs[&view.key]),
                )
            })
            .collect();
        drop(inputs);
        let mut args = SessionRunArgs::new();
        for ((operation, index), input) in &feeds {
            input.feed(&mut args, operation, *index);
        }
        let tokens: Vec<_> = outputs
            .iter()
            .map(|view| {
                let (operation, index) = &ports.outputs[&view.key];
                args.request_fetch(operation, *index)
            })
            .collect();
        self.bundle.session.run(&mut args).map_err(status_error)?;
        let mut result = NamedTensors::new();
        for (position, (view, token)) in outputs.iter().zip(tokens).enumerate() {
            result.insert(
                view.key.clone(),
                fetch_output(&mut args, token, position, &view.key)?,
            );
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_proto_encodes_thread_counts() {
        assert_eq!(config_proto(None, None), Vec::<u8>::new());
        assert_eq!(config_proto(Some(2), Some(5)), vec![0x10, 2, 0x28, 5]);
        assert_eq!(config_proto(Some(300), None), vec![0x10, 0xac, 0x02]);
    }
}
