//! TensorFlow's start-up noise kept off the terminal without losing anything else:
//! file descriptor 2 is routed through a pipe whose reader thread forwards every byte, in
//! order, to the original stderr, except TensorFlow's INFO and WARNING lines (see
//! [`super::library`]'s module docs for when it is installed).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Why the stderr filter could not be set up (stderr then stays as it is: TensorFlow's
/// noise shows, nothing is lost).
#[derive(Debug, thiserror::Error)]
enum StderrFilterError {
    #[error("cannot create the pipe: {0}")]
    Pipe(std::io::Error),
    #[error("stderr (file descriptor 2) is not open: {0}")]
    NoStderr(std::io::Error),
    #[error("cannot start the forwarding thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot move stderr onto the pipe: {0}")]
    Redirect(std::io::Error),
}

/// The pipe behind file descriptor 2 and where its reader forwards to.
struct StderrFilter {
    /// The pipe's read end (the write end is fd 2 itself).
    read_fd: libc::c_int,
    /// A copy of the original stderr (terminal, file or pipe) that output goes to.
    original_fd: libc::c_int,
    /// The reader took bytes out of the pipe and has not written them all yet.
    busy: AtomicBool,
    /// The reader holds back a partial line that may be the start of a TensorFlow line.
    holding: AtomicBool,
    /// The reader saw end-of-file (every write end closed) and stopped.
    finished: AtomicBool,
}

static STDERR_FILTER: OnceLock<Option<&'static StderrFilter>> = OnceLock::new();

/// How long a partial line that looks like the start of a TensorFlow line waits for its
/// end before it is forwarded anyway (absl writes a whole line at once, so its rest comes
/// within microseconds; a prompt written without a newline is merely this much late).
const PARTIAL_LINE_WAIT_MS: libc::c_int = 20;
/// How long the exit handler waits for the reader to forward what is in the pipe.
const EXIT_DRAIN_LIMIT: Duration = Duration::from_millis(1000);

/// Routes fd 2 through the filter, once per process (a no-op after the first call).
pub(super) fn filter_stderr() {
    STDERR_FILTER.get_or_init(|| match StderrFilter::install() {
        Ok(filter) => Some(filter),
        Err(err) => {
            tracing::debug!("TensorFlow's start-up lines will not be filtered: {err}");
            None
        }
    });
}

impl StderrFilter {
    fn install() -> Result<&'static StderrFilter, StderrFilterError> {
        let last_error = std::io::Error::last_os_error;
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two new descriptors into the two-element array it is given.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(StderrFilterError::Pipe(last_error()));
        }
        let [read_fd, write_fd] = fds;
        // Only the read end is non-blocking (the SIGABRT handler must never wait on it);
        // writers to fd 2 keep blocking when the pipe is full, as on a terminal.
        // SAFETY: sets a status flag on a descriptor we just created.
        unsafe { libc::fcntl(read_fd, libc::F_SETFL, libc::O_NONBLOCK) };
        // SAFETY: F_DUPFD_CLOEXEC duplicates fd 2 (or fails, checked) onto a new descriptor
        // that child processes do not inherit; nothing else is touched.
        let original_fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 3) };
        if original_fd < 0 {
            let err = last_error();
            // SAFETY: both ends are ours and used nowhere else yet.
            unsafe {
                libc::close(read_fd);
                libc::close(write_fd);
            }
            return Err(StderrFilterError::NoStderr(err));
        }
        // Leaked: the reader thread and the exit handler use it until the process ends.
        let filter: &'static StderrFilter = Box::leak(Box::new(StderrFilter {
            read_fd,
            original_fd,
            busy: AtomicBool::new(false),
            holding: AtomicBool::new(false),
            finished: AtomicBool::new(false),
        }));
        let hide_errors = std::env::var("TF_CPP_MIN_LOG_LEVEL")
            .ok()
            .and_then(|level| level.trim().parse::<u32>().ok())
            .is_some_and(|level| level >= 3);
        let spawned = std::thread::Builder::new()
            .name("tfprobe-stderr".into())
            .spawn(move || filter.forward(NoiseFilter::new(hide_errors)));
        if let Err(err) = spawned {
            // SAFETY: the write end is ours; the read end and the copy stay (leaked, unused).
            unsafe { libc::close(write_fd) };
            return Err(StderrFilterError::Thread(err));
        }
        // SAFETY: registers a function that lives for the whole program and only touches
        // the leaked filter through atomics and plain system calls.
        unsafe { libc::atexit(drain_stderr_at_exit) };
        forward_before_abort();
        // Rust's stderr and C's `stderr` are unbuffered, so nothing written before this
        // point waits in a buffer: it went to the original stderr, and everything after
        // goes into the pipe, in order. dup2 swaps what fd 2 refers to atomically, so a
        // concurrent write lands whole on one side or the other.
        // SAFETY: plain descriptor juggling on descriptors we own (write_fd) or that exist
        // (2, checked by the fcntl above).
        let redirected = unsafe { libc::dup2(write_fd, 2) } >= 0;
        let err = last_error();
        // SAFETY: fd 2 now refers to the pipe (or the redirect failed); this copy is ours.
        // When it failed, closing the last write end ends the reader thread.
        unsafe { libc::close(write_fd) };
        if !redirected {
            return Err(StderrFilterError::Redirect(err));
        }
        Ok(filter)
    }

    /// The reader thread: pipe → [`NoiseFilter`] → original stderr, until end-of-file.
    fn forward(&self, mut noise: NoiseFilter) {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let mut poll = libc::pollfd {
                fd: self.read_fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let timeout_ms = if noise.holding() {
                PARTIAL_LINE_WAIT_MS
            } else {
                -1
            };
            // SAFETY: polls one valid pollfd that lives on this stack frame.
            let ready = unsafe { libc::poll(&mut poll, 1, timeout_ms) };
            if ready == 0 {
                self.write_original(&noise.flush());
                self.holding.store(false, Ordering::SeqCst);
                continue;
            }
            if ready < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            // Set before the bytes leave the pipe, so that "the pipe is empty and the
            // reader is not busy" really means everything was forwarded.
            self.busy.store(true, Ordering::SeqCst);
            // SAFETY: reads into a buffer of exactly that many bytes that we own.
            let read = unsafe {
                libc::read(
                    self.read_fd,
                    buffer.as_mut_ptr().cast::<libc::c_void>(),
                    buffer.len(),
                )
            };
            match read {
                0 => break,
                n if n < 0 => {
                    self.busy.store(false, Ordering::SeqCst);
                    let kind = std::io::Error::last_os_error().kind();
                    // WouldBlock: the abort handler took the bytes poll announced.
                    if matches!(
                        kind,
                        std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
                    ) {
                        continue;
                    }
                    break;
                }
                n => {
                    let chunk = &buffer[..n.unsigned_abs()];
                    self.write_original(&noise.feed(chunk));
                    self.holding.store(noise.holding(), Ordering::SeqCst);
                    self.busy.store(false, Ordering::SeqCst);
                }
            }
        }
        self.write_original(&noise.flush());
        self.holding.store(false, Ordering::SeqCst);
        self.busy.store(false, Ordering::SeqCst);
        self.finished.store(true, Ordering::SeqCst);
    }

    /// Writes all of `bytes` to the original stderr; errors (a closed terminal) drop them,
    /// as a direct write would have failed too.
    fn write_original(&self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            // SAFETY: writes from a live slice of exactly that length to our descriptor.
            let written = unsafe {
                libc::write(
                    self.original_fd,
                    bytes.as_ptr().cast::<libc::c_void>(),
                    bytes.len(),
                )
            };
            if written < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            bytes = &bytes[written.unsigned_abs()..];
        }
    }

    /// Writes what waits in the pipe to the original stderr as it is (signal handler:
    /// async-signal-safe calls only, no allocation).
    fn forward_queued_raw(&self) {
        let mut buffer = [0u8; 4096];
        loop {
            let mut queued_bytes: libc::c_int = 0;
            // SAFETY: FIONREAD stores the byte count into the int it is given.
            let asked = unsafe {
                libc::ioctl(
                    self.read_fd,
                    libc::FIONREAD,
                    std::ptr::from_mut(&mut queued_bytes),
                )
            };
            if asked != 0 || queued_bytes <= 0 {
                return;
            }
            let wanted = buffer.len().min(queued_bytes.unsigned_abs() as usize);
            // SAFETY: reads at most the buffer's length into the buffer we own; the read end
            // is non-blocking, so a reader thread that took the bytes first costs nothing.
            let read = unsafe {
                libc::read(
                    self.read_fd,
                    buffer.as_mut_ptr().cast::<libc::c_void>(),
                    wanted,
                )
            };
            if read <= 0 {
                return;
            }
            self.write_original(&buffer[..read.unsigned_abs()]);
        }
    }

    /// Waits (at most `limit`) until everything written into the pipe so far is forwarded.
    fn wait_drained(&self, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit && !self.finished.load(Ordering::SeqCst) {
            let mut queued_bytes: libc::c_int = 0;
            // SAFETY: FIONREAD stores the byte count into the int it is given.
            let asked = unsafe {
                libc::ioctl(
                    self.read_fd,
                    libc::FIONREAD,
                    std::ptr::from_mut(&mut queued_bytes),
                )
            };
            let idle = !self.busy.load(Ordering::SeqCst) && !self.holding.load(Ordering::SeqCst);
            if asked != 0 || (queued_bytes == 0 && idle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// At exit (return from `main`, `std::process::exit`, a panic in `main`): what other
/// threads and this one wrote must reach the terminal before the process is gone.
extern "C" fn drain_stderr_at_exit() {
    let Some(Some(filter)) = STDERR_FILTER.get() else {
        return;
    };
    filter.wait_drained(EXIT_DRAIN_LIMIT);
    // From here on writes go straight to the original stderr (later exit handlers, threads
    // still running); what slipped into the pipe meanwhile is forwarded just below.
    // SAFETY: original_fd is our open copy of the original stderr.
    unsafe { libc::dup2(filter.original_fd, 2) };
    filter.wait_drained(EXIT_DRAIN_LIMIT);
}

/// The action SIGABRT had before [`forward_before_abort`] replaced it.
static PREVIOUS_SIGABRT: OnceLock<libc::sigaction> = OnceLock::new();

/// TensorFlow's fatal errors (`F0000 ... Check failed`) are written to fd 2 and followed
/// at once by `abort()`, which runs no exit handlers: on SIGABRT whatever still waits in the
/// pipe is written out unfiltered, then the previous action runs.
fn forward_before_abort() {
    extern "C" fn on_abort(_signal: libc::c_int) {
        if let Some(Some(filter)) = STDERR_FILTER.get() {
            filter.forward_queued_raw();
        }
        if let Some(previous) = PREVIOUS_SIGABRT.get() {
            // SAFETY: sigaction and raise are async-signal-safe; `previous` is the action
            // the kernel gave us. SIGABRT is blocked while this handler runs, so the raised
            // one is delivered, to the previous action, once it returns.
            unsafe {
                libc::sigaction(libc::SIGABRT, previous, std::ptr::null_mut());
                libc::raise(libc::SIGABRT);
            }
        }
    }
    // SAFETY: zeroed is a valid sigaction (no flags, empty mask, SIG_DFL) to fill in.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_abort as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: as above; sigaction overwrites it with the action it replaces.
    let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: both structs are live; the handler only makes async-signal-safe calls
    // (ioctl, read, write, sigaction, raise) and atomic loads.
    let installed = unsafe {
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGABRT, &action, &mut previous) == 0
    };
    if installed {
        let _ = PREVIOUS_SIGABRT.set(previous);
    }
}

/// The first line of absl's banner, printed once when TensorFlow logs before
/// `absl::InitializeLog()` (always, at load).
const ABSL_BANNER: &[u8] =
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR";

/// absl's line prefix, `I0000 00:00:1700000000.123456` (severity, MMDD, time): a digit
/// wherever `0` stands here. Severity letters are checked separately.
const ABSL_PREFIX_SHAPE: &[u8] = b"I0000 00:00:00.000000";

/// Lines TensorFlow logs as several lines (the message holds newlines, absl prefixes only
/// the first): the source file of the first line and how its continuation starts.
const CONTINUATIONS: &[(&str, &str)] = &[(
    "cpu_feature_guard.cc:",
    "To enable the following instructions:",
)];

/// Line by line, the part of stderr that is not TensorFlow's noise. Pure bytes in, bytes
/// out (the reader thread feeds it), so it can be tested without descriptors.
#[derive(Debug, Default)]
struct NoiseFilter {
    /// The unfinished last line, held because it may be the start of a noise line.
    pending: Vec<u8>,
    /// A partial line was forwarded already: the rest of that line is not a line start.
    mid_line: bool,
    /// The continuation expected after a dropped multi-line record.
    continuation: Option<&'static str>,
    /// `TF_CPP_MIN_LOG_LEVEL` is 3 or more: TensorFlow's ERROR lines go too.
    hide_errors: bool,
}

impl NoiseFilter {
    fn new(hide_errors: bool) -> NoiseFilter {
        NoiseFilter {
            hide_errors,
            ..NoiseFilter::default()
        }
    }

    /// Takes the next bytes read from the pipe; returns what to forward now.
    fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut forward = Vec::with_capacity(bytes.len());
        let mut rest = bytes;
        while let Some(newline) = rest.iter().position(|&byte| byte == b'\n') {
            let (line, after) = rest.split_at(newline + 1);
            rest = after;
            if self.mid_line {
                // The end of a line whose start went out already.
                self.mid_line = false;
                forward.extend_from_slice(line);
                continue;
            }
            let mut whole = std::mem::take(&mut self.pending);
            whole.extend_from_slice(line);
            if !self.is_noise(&whole) {
                forward.extend_from_slice(&whole);
            }
        }
        if rest.is_empty() {
            return forward;
        }
        if self.mid_line {
            forward.extend_from_slice(rest);
        } else {
            self.pending.extend_from_slice(rest);
            // Prompts and progress bars (`\r` redraws) must not wait for a newline.
            if !could_start_noise(&self.pending) {
                forward.append(&mut self.pending);
                self.mid_line = true;
            }
        }
        forward
    }

    /// The held partial line, given up waiting for (it is forwarded as it is).
    fn flush(&mut self) -> Vec<u8> {
        if !self.pending.is_empty() {
            self.mid_line = true;
        }
        std::mem::take(&mut self.pending)
    }

    fn holding(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether a whole line (with its newline) is TensorFlow noise to drop.
    fn is_noise(&mut self, line: &[u8]) -> bool {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if let Some(start) = self.continuation.take()
            && text.starts_with(start.as_bytes())
        {
            return true;
        }
        if text.starts_with(ABSL_BANNER) {
            return true;
        }
        let Some(severity) = absl_severity(text) else {
            return false;
        };
        let noise = match severity {
            b'I' | b'W' => true,
            b'E' => self.hide_errors,
            // FATAL lines explain the crash that follows: always shown.
            _ => false,
        };
        if noise {
            self.continuation = CONTINUATIONS
                .iter()
                .find(|(file, _)| contains(text, file.as_bytes()))
                .map(|(_, start)| *start);
        }
        noise
    }
}

/// The severity letter of an absl log line (`I0000 00:00:1700000000.123456  123 file.cc:12] ...`).
fn absl_severity(line: &[u8]) -> Option<u8> {
    let severity = *line.first()?;
    if !matches!(severity, b'I' | b'W' | b'E' | b'F') || !matches_prefix_shape(line, true) {
        return None;
    }
    // After the time: the thread id, then `file:line] `.
    let rest = &line[ABSL_PREFIX_SHAPE.len()..];
    let close = rest.windows(2).position(|pair| pair == b"] ")?;
    let location = &rest[..close];
    let colon = location.iter().rposition(|&byte| byte == b':')?;
    let (file, line_number) = (&location[..colon], &location[colon + 1..]);
    let file_named = file
        .rsplit(|&byte| byte == b' ')
        .next()
        .is_some_and(|name| !name.is_empty());
    (file_named && !line_number.is_empty() && line_number.iter().all(u8::is_ascii_digit))
        .then_some(severity)
}

/// `text` follows [`ABSL_PREFIX_SHAPE`] (all of it when `whole`, else as far as it goes).
/// The seconds field may carry more digits (absl prints Unix seconds), so `.` is looked
/// up rather than placed.
fn matches_prefix_shape(text: &[u8], whole: bool) -> bool {
    if whole && text.len() < ABSL_PREFIX_SHAPE.len() {
        return false;
    }
    let Some((&severity, rest)) = text.split_first() else {
        return true;
    };
    if !matches!(severity, b'I' | b'W' | b'E' | b'F') {
        return false;
    }
    rest.iter()
        .zip(&ABSL_PREFIX_SHAPE[1..])
        .all(|(&byte, &shape)| match shape {
            b'0' => byte.is_ascii_digit(),
            b'.' => byte == b'.' || byte.is_ascii_digit(),
            other => byte == other,
        })
}

/// A partial line that may still become a noise line once its end arrives.
fn could_start_noise(partial: &[u8]) -> bool {
    let shorter = partial.len().min(ABSL_BANNER.len());
    partial[..shorter] == ABSL_BANNER[..shorter] || matches_prefix_shape(partial, false)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filtered(chunks: &[&str]) -> String {
        let mut noise = NoiseFilter::new(false);
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(noise.feed(chunk.as_bytes()));
        }
        out.extend(noise.flush());
        String::from_utf8(out).unwrap()
    }

    const BANNER: &str =
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n";
    const ONEDNN: &str = "I0000 00:00:1700000000.123456   4242 port.cc:153] oneDNN custom operations are on. \
                          You may see slightly different numerical results due to floating-point round-off errors \
                          from different computation orders. To turn them off, set the environment variable \
                          `TF_ENABLE_ONEDNN_OPTS=0`.\n";
    const CPU_GUARD: &str = "I0000 00:00:1700000000.223456   4242 cpu_feature_guard.cc:210] This TensorFlow \
                             binary is optimized to use available CPU instructions in performance-critical \
                             operations.\nTo enable the following instructions: AVX2 AVX512F FMA, in other \
                             operations, rebuild TensorFlow with the appropriate compiler flags.\n";

    #[test]
    fn drops_tensorflow_start_up_lines_and_keeps_everything_else_in_order() {
        let ours = "error: input 'x' is missing\n";
        let tracing = "2025-01-01T00:00:00.000000Z  WARN tfprobe::server: slow model\n";
        let text = filtered(&[BANNER, ONEDNN, ours, CPU_GUARD, tracing]);
        assert_eq!(text, format!("{ours}{tracing}"));
    }

    #[test]
    fn keeps_tensorflow_errors_and_fatal_lines() {
        let error = "E0000 00:00:1700000000.123456    12 op_kernel.cc:1830] OP_REQUIRES failed\n";
        let fatal = "F0000 00:00:1700000000.123456    12 check.cc:7] Check failed: x\n";
        assert_eq!(filtered(&[error, fatal]), format!("{error}{fatal}"));
        let mut quiet = NoiseFilter::new(true);
        assert_eq!(quiet.feed(error.as_bytes()), b"");
        assert_eq!(quiet.feed(fatal.as_bytes()), fatal.as_bytes());
    }

    #[test]
    fn lines_split_across_reads_are_judged_whole() {
        let (first, second) = ONEDNN.split_at(9);
        assert_eq!(filtered(&[first, second, "kept\n"]), "kept\n");
        let (first, second) = BANNER.split_at(30);
        assert_eq!(filtered(&[first, second]), "");
    }

    #[test]
    fn a_continuation_is_dropped_only_right_after_its_record() {
        let line = "To enable the following instructions: is our text here\n";
        assert_eq!(filtered(&[line]), line);
        assert_eq!(filtered(&[ONEDNN, line]), line);
    }

    #[test]
    fn partial_lines_that_cannot_be_noise_go_out_at_once() {
        let mut noise = NoiseFilter::new(false);
        assert_eq!(noise.feed(b"\r[=====>    ] 42%"), b"\r[=====>    ] 42%");
        assert!(!noise.holding());
        // The rest of that line is not mistaken for a line start.
        assert_eq!(
            noise.feed(b"I0000 00:00:1.5   1 x.cc:1] mid-line\nnext\n"),
            b"I0000 00:00:1.5   1 x.cc:1] mid-line\nnext\n"
        );
        assert_eq!(noise.feed(b"I0000 00:0"), b"");
        assert!(noise.holding());
        assert_eq!(noise.flush(), b"I0000 00:0");
    }

    #[test]
    fn look_alikes_are_not_noise() {
        for line in [
            "Info: something\n",
            "I0000 was the number\n",
            "W1234 12:34:56.789012 but no location\n",
            "WARNING: something else\n",
            "\n",
        ] {
            assert_eq!(filtered(&[line]), line, "{line:?}");
        }
    }
}
