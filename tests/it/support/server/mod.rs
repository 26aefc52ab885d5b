//! Helpers of the server tests: servers on 127.0.0.1:0 backed by the real
//! TensorFlow runtime, a small keep-alive HTTP/1.1 client (so that requests
//! can be sent exactly as the seed's clients send them: no Content-Type), and
//! JSON encodings of tensors.
#![allow(dead_code)]

pub mod load;
pub mod pki;

use base64::Engine;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tfprobe::runtime::{Backend, LoadOptions, TfBackend};
use tfprobe::server::{Loader, ModelSource, ServerConfig, ServerHandle};
use tfprobe::tensor::{Tensor, TensorData};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python of tests/compat/setup.sh's venv (requests, grpcio,
/// tensorflow-serving-api), created once per test run.
pub fn compat_python() -> PathBuf {
    static VENV: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|poison| poison.into_inner());
    VENV.get_or_init(|| {
        let output = std::process::Command::new("timeout")
            .args(["900", "bash"])
            .arg(repo().join("tests/compat/setup.sh"))
            .output()
            .expect("run tests/compat/setup.sh");
        assert!(
            output.status.success(),
            "tests/compat/setup.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        repo().join(".venv-compat/bin/python")
    })
    .clone()
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/models").join(name)
}

/// Loads SavedModels with the real TensorFlow runtime (installed on first use).
pub fn tf_loader() -> Loader {
    Arc::new(|dir: &Path| {
        TfBackend::load(dir, &LoadOptions::default())
            .map(|backend| Arc::new(backend) as Arc<dyn Backend>)
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

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }

    /// The `error` message of a TF Serving error body.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in {}", self.body))
            .to_string()
    }
}

/// A keep-alive HTTP/1.1 connection that sends bodies without a Content-Type,
/// like `requests.post(url, data=str)`.
pub struct Http {
    reader: BufReader<TcpStream>,
}

impl Http {
    pub fn connect(addr: SocketAddr) -> Http {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Http {
            reader: BufReader::new(stream),
        }
    }

    pub fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, None)
    }

    pub fn post(&mut self, path: &str, body: &str) -> Reply {
        self.send("POST", path, Some(body.as_bytes()))
    }

    pub fn send(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Reply {
        self.send_with_headers(method, path, &[], body)
    }

    /// A request with extra header lines (`Content-Type`, ...).
    pub fn send_with_headers(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        let stream = self.reader.get_mut();
        stream.write_all(request.as_bytes()).expect("send head");
        if let Some(body) = body {
            stream.write_all(body).expect("send body");
        }
        self.read_reply()
    }

    fn read_reply(&mut self) -> Reply {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header line");
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            let (name, value) = trimmed.split_once(':').expect("header");
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        let length: usize = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .map(|(_, value)| value.parse().expect("content length"))
            .expect("the server sends Content-Length");
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).expect("body");
        Reply {
            status,
            headers,
            body: String::from_utf8(body).expect("UTF-8 body"),
        }
    }
}

/// One request on a new connection.
pub fn get(addr: SocketAddr, path: &str) -> Reply {
    Http::connect(addr).get(path)
}

pub fn post(addr: SocketAddr, path: &str, body: &str) -> Reply {
    Http::connect(addr).post(path, body)
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
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

/// A free loopback port (for a server started as a process).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
