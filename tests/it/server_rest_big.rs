//! Issue 18: a 100 MB JSON float body to a real `tfprobe serve` child on
//! loopback. The answer is checked value by value, and the server's peak memory
//! while it reads and runs the request (VmHWM, reset just before) stays within
//! 1.5x the tensor's bytes plus the body's.

use crate::support::http::{self, Http};
use crate::support::mean_model::write_mean_model;
use crate::support::{free_port, tf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VmRSS` / `VmHWM` of a process, in bytes.
fn memory_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let kib: u64 = line
        .trim_start_matches(field)
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

#[test]
fn a_100_mb_float_body_is_answered_within_the_memory_bound() {
    tf::ensure_runtime();
    const BATCH: usize = 4;
    const ITEM: usize = 1_400_000;
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("mean");
    write_mean_model(&base, &[ITEM as i64]);
    // Values as a Python client writes float32s (the double's shortest text).
    let value = |index: usize| ((index * 7919) % 10007) as f32 / 10007.0;
    let mut body = String::with_capacity(110 << 20);
    body.push_str("{\"instances\": [");
    let mut expected = Vec::new();
    for item in 0..BATCH {
        body.push_str(if item > 0 { ", [" } else { "[" });
        let mut sum = 0f64;
        for index in 0..ITEM {
            let v = value(item * ITEM + index);
            sum += f64::from(v);
            if index > 0 {
                body.push_str(", ");
            }
            body.push_str(ryu::Buffer::new().format(f64::from(v)));
        }
        body.push(']');
        expected.push(sum / ITEM as f64);
    }
    body.push_str("]}");
    assert!(body.len() > 100_000_000, "{} bytes", body.len());

    let (grpc, rest) = (free_port(), free_port());
    let log = dir.path().join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .arg("serve")
        .arg("--model_name=mean")
        .arg(format!("--model_base_path={}", base.display()))
        .arg(format!("--port={grpc}"))
        .arg(format!("--rest_api_port={rest}"))
        .arg("--max_request_bytes=200000000")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start tfprobe serve");
    let mut served = KillOnDrop(child);
    let pid = served.0.id();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], rest));
    let started = Instant::now();
    let small = format!("{{\"instances\": [[{}]]}}", vec!["0.5"; ITEM].join(","));
    loop {
        if let Some(status) = served.0.try_wait().unwrap() {
            panic!(
                "tfprobe serve exited ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if std::net::TcpStream::connect(addr).is_ok()
            && http::post(addr, "/v1/models/mean:predict", &small).status == 200
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "server not up");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Peak memory from here on: reset the high-water mark, then one request.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let before_bytes = memory_bytes(pid, "VmRSS");
    let mut client = Http::connect(addr);
    let reply = client.post("/v1/models/mean:predict", &body);
    let peak_bytes = memory_bytes(pid, "VmHWM");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answer = reply.json();
    let predictions = answer["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), BATCH, "{answer}");
    for (got, want) in predictions.iter().zip(&expected) {
        let got = got.as_f64().unwrap();
        assert!((got - want).abs() < 1e-4, "mean {got}, expected {want}");
    }
    let tensor_bytes = (BATCH * ITEM * 4) as u64;
    let bound_bytes = tensor_bytes * 3 / 2 + body.len() as u64;
    let extra_bytes = peak_bytes.saturating_sub(before_bytes);
    assert!(
        extra_bytes <= bound_bytes,
        "peak extra memory {extra_bytes} bytes > bound {bound_bytes} (tensor {tensor_bytes}, body {})",
        body.len()
    );
    eprintln!(
        "100 MB body: {} bytes, tensor {tensor_bytes} bytes, peak extra {extra_bytes} bytes (bound {bound_bytes})",
        body.len()
    );
}
