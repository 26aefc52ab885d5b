//! Tests that measure the whole process (its resident memory) cannot share it with the
//! rest of the suite: [`in_own_process`] runs such a test again, by itself, in a fresh
//! process of this test binary and checks that it passed there.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set (to the test's name) in the environment of the process that runs the test alone.
const ALONE: &str = "TFPROBE_TEST_ALONE";

/// `true` in the process made for `test` (its full name, `module::function`): run the
/// body there. Elsewhere runs this binary with only `test`, waits up to `timeout`, passes
/// its output on (shown with `--nocapture` or when it fails) and returns `false` once it
/// has passed.
pub fn in_own_process(test: &str, timeout: Duration) -> bool {
    if std::env::var_os(ALONE).is_some_and(|name| name == test) {
        return true;
    }
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ALONE, test)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the test binary");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let read_stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let read_stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the test binary") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (read_stdout.join().unwrap(), read_stderr.join().unwrap());
    eprintln!("{test}, in a process of its own:\n{stdout}{stderr}");
    let status = status.unwrap_or_else(|| panic!("{test} ran past {timeout:?}"));
    assert!(status.success(), "{test} failed in its own process");
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{test} did not run in its own process"
    );
    false
}
