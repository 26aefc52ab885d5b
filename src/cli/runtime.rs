//! `tfprobe runtime status | install`: where libtensorflow is, and getting it.

use anyhow::Context;
use clap::{Args, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tfprobe::runtime::discovery::{self, DEFAULT_VERSION};
use tfprobe::runtime::install::{self, InstallOptions, InstallProgress};
use tfprobe::runtime::library;

#[derive(Args, Debug)]
pub struct RuntimeArgs {
    #[command(subcommand)]
    pub command: RuntimeCommand,
}

#[derive(Subcommand, Debug)]
pub enum RuntimeCommand {
    /// Say where libtensorflow was found and its version, or how to get it.
    Status {
        /// Only look; do not load the library to ask it for its version.
        #[arg(long = "no-load")]
        no_load: bool,
    },
    /// Download the tensorflow-cpu wheel with pip and keep only libtensorflow (in tfprobe's cache).
    Install {
        /// TensorFlow version to install.
        #[arg(long, default_value = DEFAULT_VERSION)]
        version: String,
        /// Use this already-downloaded tensorflow(-cpu) wheel instead of pip.
        #[arg(long)]
        wheel: Option<PathBuf>,
        /// The Python whose pip downloads the wheel.
        #[arg(long, default_value = "python3")]
        python: String,
    },
}

pub fn run(args: &RuntimeArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        RuntimeCommand::Status { no_load } => status(*no_load),
        RuntimeCommand::Install {
            version,
            wheel,
            python,
        } => {
            let mut options = InstallOptions::new(version);
            options.wheel = wheel.clone();
            options.python = python.clone();
            let mut bar = ProgressPrinter::new(version);
            let location = install::install_with(&options, |event| bar.show(&event))
                .context("tfprobe runtime install")?;
            bar.finish();
            println!(
                "TensorFlow {version} runtime is in {}",
                location.dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn status(no_load: bool) -> anyhow::Result<ExitCode> {
    let location = match discovery::discover() {
        Ok(location) => location,
        Err(err) => {
            let mut text = String::from("TensorFlow runtime: not found\n");
            text += &format!(
                "  --tf-lib:        {}\n",
                discovery::tf_lib_override()
                    .map(|dir| dir.display().to_string())
                    .unwrap_or_else(|| "not given".into())
            );
            text += &format!(
                "  TENSORFLOW_DIR:  {}\n",
                // The user's value: tfprobe points the variable at its own choice.
                discovery::user_tensorflow_dir()
                    .map(|dir| dir.display().to_string())
                    .unwrap_or_else(|| "not set".into())
            );
            text += &format!(
                "  cache:           {}\n",
                match (discovery::find_in_cache(), discovery::cache_root()) {
                    (Some(found), _) => format!(
                        "{} holds TensorFlow {} (not used: the setting above wins)",
                        found.dir.display(),
                        found.version.unwrap_or_default()
                    ),
                    (None, Some(root)) => format!(
                        "{} (nothing installed)",
                        discovery::cache_dir_for(&root, DEFAULT_VERSION).display()
                    ),
                    (None, None) => "none (HOME unset)".into(),
                }
            );
            text += &format!(
                "  python3 on PATH: {}\n",
                match discovery::find_in_python("python3") {
                    Some(found) => format!("{} (not used: the setting above wins)", found.source),
                    None => "no tensorflow package".into(),
                }
            );
            text += &format!("{err}\n");
            text += &format!(
                "To get it: tfprobe runtime install   (TensorFlow {DEFAULT_VERSION}, CPU)\n"
            );
            crate::cli::output::print_stdout(&text)?;
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut text = String::from("TensorFlow runtime: found\n");
    text += &format!("  directory: {}\n", location.dir.display());
    text += &format!("  found via: {}\n", location.source);
    text += &format!(
        "  version:   {}\n",
        location
            .version
            .as_deref()
            .unwrap_or("unknown until loaded")
    );
    if !no_load {
        match library::ensure_loaded() {
            Ok(loaded) => {
                text += &format!(
                    "  loaded:    TF_Version() = {} ({} ms to load)\n",
                    loaded.version,
                    loaded.load_time.as_millis()
                );
            }
            Err(err) => {
                text += &format!("  loaded:    FAILED: {err}\n");
                crate::cli::output::print_stdout(&text)?;
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    crate::cli::output::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on a terminal (stderr), a few plain lines otherwise.
struct ProgressPrinter {
    version: String,
    terminal: bool,
    phase: String,
    last_quarter: u64,
    open_line: bool,
}

impl ProgressPrinter {
    fn new(version: &str) -> ProgressPrinter {
        ProgressPrinter {
            version: version.to_string(),
            terminal: std::io::stderr().is_terminal(),
            phase: String::new(),
            last_quarter: u64::MAX,
            open_line: false,
        }
    }

    fn show(&mut self, event: &InstallProgress) {
        match event {
            InstallProgress::AlreadyInstalled { dir } => {
                self.line(&format!("already installed in {}", dir.display()))
            }
            InstallProgress::WaitingForLock { lock } => self.line(&format!(
                "waiting for another tfprobe install to finish (lock {})",
                lock.display()
            )),
            InstallProgress::Downloading { downloaded, total } => {
                let label = format!("downloading tensorflow-cpu {} with pip", self.version);
                self.bar(&label, *downloaded, *total);
            }
            InstallProgress::Extracting { file, done, total } => {
                self.bar(&format!("extracting {file}"), *done, Some(*total))
            }
            InstallProgress::Finished { .. } => {}
        }
    }

    fn bar(&mut self, label: &str, done: u64, total: Option<u64>) {
        let megabytes = |bytes: u64| bytes as f64 / 1e6;
        let new_phase = self.phase != label;
        if new_phase {
            if self.open_line {
                eprintln!();
                self.open_line = false;
            }
            self.phase = label.to_string();
            self.last_quarter = u64::MAX;
        }
        if self.terminal {
            let text = match total {
                Some(total) if total > 0 => {
                    let fraction = (done as f64 / total as f64).clamp(0.0, 1.0);
                    let filled = (fraction * 30.0) as usize;
                    format!(
                        "\r{label:<48} [{}{}] {:>3.0}% {:.1}/{:.1} MB",
                        "#".repeat(filled),
                        "-".repeat(30 - filled),
                        fraction * 100.0,
                        megabytes(done),
                        megabytes(total)
                    )
                }
                _ => format!("\r{label:<48} {:.1} MB", megabytes(done)),
            };
            eprint!("{text}");
            let _ = std::io::stderr().flush();
            self.open_line = true;
        } else {
            let quarter = match total {
                Some(total) if total > 0 => done.saturating_mul(4) / total,
                _ => 0,
            };
            if quarter != self.last_quarter {
                self.last_quarter = quarter;
                match total {
                    Some(total) if total > 0 => {
                        eprintln!("{label}: {:.1}/{:.1} MB", megabytes(done), megabytes(total))
                    }
                    _ => eprintln!("{label}..."),
                }
            }
        }
    }

    fn line(&mut self, text: &str) {
        if self.open_line {
            eprintln!();
            self.open_line = false;
        }
        eprintln!("{text}");
    }

    fn finish(&mut self) {
        if self.open_line {
            eprintln!();
            self.open_line = false;
        }
    }
}
