//! The live log of the server panel: a `tracing` writer that keeps the last lines in
//! memory (and still prints them to stderr). It never touches the egui context: log
//! calls can come from inside egui's own locks, so the panel polls instead.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

const MAX_LINES: usize = 2000;

#[derive(Default)]
pub struct LogBuffer {
    lines: Mutex<VecDeque<String>>,
    partial: Mutex<String>,
    /// Lines ever pushed (the panel repaints when it changes).
    count: std::sync::atomic::AtomicU64,
}

static BUFFER: OnceLock<LogBuffer> = OnceLock::new();

/// The process-wide log buffer.
pub fn buffer() -> &'static LogBuffer {
    BUFFER.get_or_init(LogBuffer::default)
}

impl LogBuffer {
    /// How many lines were ever logged.
    pub fn count(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn push_line(&self, line: String) {
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if lines.len() == MAX_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// A copy of the last `count` lines.
    pub fn tail(&self, count: usize) -> Vec<String> {
        let lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lines
            .iter()
            .skip(lines.len().saturating_sub(count))
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    fn write_bytes(&self, bytes: &[u8]) {
        let mut partial = self
            .partial
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        partial.push_str(&String::from_utf8_lossy(bytes));
        while let Some(end) = partial.find('\n') {
            let line: String = partial.drain(..=end).collect();
            self.push_line(line.trim_end().to_string());
        }
    }
}

/// A `MakeWriter` for `tracing_subscriber::fmt` that feeds [`buffer`] and stderr.
#[derive(Clone, Copy, Default)]
pub struct UiLogWriter;

impl Write for UiLogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        buffer().write_bytes(bytes);
        let _ = std::io::stderr().write_all(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for UiLogWriter {
    type Writer = UiLogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        UiLogWriter
    }
}

/// Installs the GUI's tracing subscriber (`TFPROBE_LOG` filters, default `info`).
/// Does nothing when one is already installed.
pub fn install_subscriber() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TFPROBE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .with_writer(UiLogWriter)
        .try_init();
}
