//! tfprobe's integration tests, all in one test binary (`cargo test --test it`): one
//! module per area, the shared helpers in `support`. Filter by module as by a former
//! test binary, e.g. `cargo test --test it reliability_` or `cargo test --test it
//! server_rest::`.
//!
//! One process runs every test, so what is process-wide is shared on purpose: the
//! libtensorflow that `support::tf::ensure_runtime` installs and loads (once, under its
//! lock), the compat venv, the panic hook of `support::panics` (which counts only while
//! a reliability test watches, and never during a test that panics on purpose), and
//! the log capture of `server_warmup`. A test that measures the whole process (memory)
//! runs in a process of its own: `support::alone`.

// Test code: a failed unwrap or expect is the test (or benchmark) failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod cli_batch;
mod client_bench;
mod client_errors;
mod client_server;
mod client_tls;
mod compare;
mod deploy_targets;
mod graph_cli;
mod gui_batch;
mod gui_compare;
mod gui_connect;
mod gui_embedded_server;
mod gui_embedded_tls;
mod gui_graph;
mod gui_handoff;
mod gui_latency;
mod gui_model_tree;
mod gui_predict;
mod gui_state;
mod imaging_pipeline;
mod imaging_topk;
mod model_diff;
mod model_tree;
mod one_core;
mod reliability_gui;
mod reliability_inputs;
mod reliability_models;
mod reliability_props;
mod reliability_queue;
mod reliability_server;
mod reliability_soak;
mod runtime_backend;
mod runtime_cli;
mod runtime_install;
mod runtime_worker;
mod server_classify;
mod server_compat;
mod server_grpc;
mod server_lifecycle;
mod server_reload;
mod server_rest;
mod server_rest_big;
mod server_tls;
mod server_warmup;
mod show_golden;
mod tf_noise;
mod warmup_builder;
