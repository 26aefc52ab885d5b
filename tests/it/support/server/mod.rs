//! Helpers of the server tests: servers on 127.0.0.1:0 backed by the real
//! TensorFlow runtime, a backend with hooks around each run, and JSON encodings
//! of tensors (the HTTP client is `support::http`).

pub mod load;

use super::http::b64;
use base64::Engine;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tfprobe::runtime::{Backend, LoadOptions, TfBackend};
use tfprobe::server::{Loader, ModelSource, ServerConfig, ServerHandle};
use tfprobe::tensor::{Tensor, TensorData};

/// The Python of tests/compat/setup.sh's venv (requests, grpcio,
/// tensorflow-serving-api), created once per test run.
pub fn compat_python() -> PathBuf {
    static VENV: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|poison| poison.into_inner());
    VENV.get_or_init(|| {
        let output = std::process::Command::new("timeout")
            .args(["900", "bash"])
            .arg(super::repo().join("tests/compat/setup.sh"))
            .output()
            .expect("run tests/compat/setup.sh");
        assert!(
            output.status.success(),
            "tests/compat/setup.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        super::repo().join(".venv-compat/bin/python")
    })
    .clone()
}

/// Loads SavedModels with the real TensorFlow runtime (installed on first use).
pub fn tf_loader() -> Loader {
    Arc::new(|dir: &Path| {
        TfBackend::load(dir, &LoadOptions::default())
            .map(|backend| Arc::new(backend) as Arc<dyn Backend>)
    })
}

/// A loader whose backends count their runs in `runs`.
pub fn counting_loader(runs: Arc<std::sync::atomic::AtomicUsize>) -> Loader {
    let real = tf_loader();
    Arc::new(move |dir: &Path| {
        let runs = Arc::clone(&runs);
        let backend = real(dir)?;
        Ok(Arc::new(Hooked::new(backend, move || {
            runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })) as Arc<dyn Backend>)
    })
}

/// A config on free loopback ports, polling every 100 ms.
pub fn config(models: Vec<ModelSource>) -> ServerConfig {
    let mut config = ServerConfig::new(models, tf_loader());
    config.grpc_port = Some(0);
    config.rest_port = Some(0);
    config.poll_interval = Some(Duration::from_millis(100));
    config
}

pub async fn start(config: ServerConfig) -> ServerHandle {
    tokio::time::timeout(Duration::from_secs(120), tfprobe::server::start(config))
        .await
        .expect("server started within 2 minutes")
        .expect("server starts")
}

/// A tensor's values as nested JSON lists (strings as `{"b64": ...}`).
pub fn tensor_json(tensor: &Tensor) -> serde_json::Value {
    let flat: Vec<serde_json::Value> = match &tensor.data {
        TensorData::Float(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::Double(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::Half(v) => v
            .iter()
            .map(|x| serde_json::json!(half::f16::from_bits(*x).to_f32()))
            .collect(),
        TensorData::BFloat16(v) => v
            .iter()
            .map(|x| serde_json::json!(half::bf16::from_bits(*x).to_f32()))
            .collect(),
        TensorData::Int8(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::Int16(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::Int32(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::Int64(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::UInt8(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::UInt16(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::UInt32(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::UInt64(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::Bool(v) => v.iter().map(|x| serde_json::json!(x)).collect(),
        TensorData::String(v) => v
            .iter()
            .map(|x| serde_json::json!({ "b64": b64(x) }))
            .collect(),
    };
    nest(&flat, &tensor.shape)
}

fn nest(flat: &[serde_json::Value], shape: &[u64]) -> serde_json::Value {
    match shape.split_first() {
        None => flat[0].clone(),
        Some((&outer, inner)) => {
            let step: usize = inner.iter().product::<u64>() as usize;
            serde_json::Value::Array(
                (0..outer as usize)
                    .map(|i| nest(&flat[i * step..(i + 1) * step], inner))
                    .collect(),
            )
        }
    }
}

/// Reads JSON values back into a tensor of the given dtype and shape
/// (strings: plain text or `{"b64": ...}`).
pub fn tensor_from_values(like: &Tensor, value: &serde_json::Value) -> Tensor {
    let mut flat = Vec::new();
    flatten(value, &mut flat);
    let f64s = || {
        flat.iter()
            .map(|v| v.as_f64().unwrap_or_else(|| panic!("number: {v}")))
            .collect::<Vec<_>>()
    };
    let i64s = || {
        flat.iter()
            .map(|v| v.as_i64().unwrap_or_else(|| panic!("integer: {v}")))
            .collect::<Vec<_>>()
    };
    let u64s = || {
        flat.iter()
            .map(|v| v.as_u64().unwrap_or_else(|| panic!("unsigned: {v}")))
            .collect::<Vec<_>>()
    };
    let data = match &like.data {
        TensorData::Float(_) => TensorData::Float(f64s().into_iter().map(|x| x as f32).collect()),
        TensorData::Double(_) => TensorData::Double(f64s()),
        TensorData::Half(_) => TensorData::Half(
            f64s()
                .into_iter()
                .map(|x| half::f16::from_f64(x).to_bits())
                .collect(),
        ),
        TensorData::BFloat16(_) => TensorData::BFloat16(
            f64s()
                .into_iter()
                .map(|x| half::bf16::from_f64(x).to_bits())
                .collect(),
        ),
        TensorData::Int8(_) => TensorData::Int8(i64s().into_iter().map(|x| x as i8).collect()),
        TensorData::Int16(_) => TensorData::Int16(i64s().into_iter().map(|x| x as i16).collect()),
        TensorData::Int32(_) => TensorData::Int32(i64s().into_iter().map(|x| x as i32).collect()),
        TensorData::Int64(_) => TensorData::Int64(i64s()),
        TensorData::UInt8(_) => TensorData::UInt8(u64s().into_iter().map(|x| x as u8).collect()),
        TensorData::UInt16(_) => TensorData::UInt16(u64s().into_iter().map(|x| x as u16).collect()),
        TensorData::UInt32(_) => TensorData::UInt32(u64s().into_iter().map(|x| x as u32).collect()),
        TensorData::UInt64(_) => TensorData::UInt64(u64s()),
        TensorData::Bool(_) => {
            TensorData::Bool(flat.iter().map(|v| v.as_bool().expect("bool")).collect())
        }
        TensorData::String(_) => TensorData::String(
            flat.iter()
                .map(|v| match v {
                    serde_json::Value::String(text) => text.as_bytes().to_vec(),
                    other => base64::engine::general_purpose::STANDARD
                        .decode(other["b64"].as_str().expect("b64 object"))
                        .expect("base64"),
                })
                .collect(),
        ),
    };
    Tensor::new(like.shape.clone(), data).expect("values fit the shape")
}

fn flatten(value: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    match value {
        serde_json::Value::Array(items) => items.iter().for_each(|item| flatten(item, out)),
        other => out.push(other.clone()),
    }
}

/// A backend with hooks around each run: `before` (to hold a run back or
/// count runs started) and `after` (to count runs finished).
pub struct Hooked {
    inner: Arc<dyn Backend>,
    before: Box<dyn Fn() + Send + Sync>,
    after: Box<dyn Fn() + Send + Sync>,
}

impl Hooked {
    pub fn new(inner: Arc<dyn Backend>, before: impl Fn() + Send + Sync + 'static) -> Hooked {
        Hooked {
            inner,
            before: Box::new(before),
            after: Box::new(|| {}),
        }
    }

    pub fn after(self, after: impl Fn() + Send + Sync + 'static) -> Hooked {
        Hooked {
            after: Box::new(after),
            ..self
        }
    }
}

impl Backend for Hooked {
    fn model(&self) -> &tfprobe::model::SavedModelInfo {
        self.inner.model()
    }

    fn run(
        &self,
        signature_key: &str,
        inputs: tfprobe::runtime::NamedTensors,
        output_keys: &[String],
    ) -> Result<tfprobe::runtime::NamedTensors, tfprobe::runtime::RuntimeError> {
        (self.before)();
        let outputs = self.inner.run(signature_key, inputs, output_keys);
        (self.after)();
        outputs
    }
}
