//! One core, every front end: the same photo through `predict --model` (the local
//! backend), `predict --server` over REST and over gRPC (the embedded server started
//! through the workflow layer), and the app's Try it (a real kittest window on its own
//! embedded server) gives the same top-5 classes and probabilities. One model takes
//! encoded bytes with labels for 1001 classes (the EfficientNet demo), one decoded
//! float pixels (a Keras image classifier), one is the seed article's ResNet look-alike.

use crate::support::gui::{drop_and_wait_for_prediction, model_on_free_ports, wait_until};
use crate::support::{repo, tf};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tfprobe::imaging::Classification;
use tfprobe::ui::state::PredictStatus;
use tfprobe::workflow::open;
use tfprobe::workflow::serve::EmbeddedServer;

const TIMEOUT: Duration = Duration::from_secs(120);
/// The largest difference in a probability allowed between two front ends.
const TOLERANCE: f32 = 1e-6;

/// `tfprobe predict ... --top-k-json`, parsed.
fn cli_top_k(args: &[&str]) -> Classification {
    let output = Command::new(env!("CARGO_BIN_EXE_tfprobe"))
        .arg("predict")
        .args(args)
        .arg("--top-k-json")
        .current_dir(repo())
        .output()
        .expect("run tfprobe");
    assert!(
        output.status.success(),
        "tfprobe predict {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "tfprobe predict {args:?} printed no top-k JSON ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The app: open `model`, start its embedded server on free ports, drop `image`.
fn app_top_k(model: &Path, image: &Path) -> Classification {
    let mut harness = model_on_free_ports(model.to_path_buf(), TIMEOUT);
    harness
        .state_mut()
        .push_command(tfprobe::ui::command::Command::StartServer);
    wait_until(&mut harness, "the embedded server to serve", TIMEOUT, |h| {
        h.state().state.target_ready()
    });
    drop_and_wait_for_prediction(&mut harness, image.to_path_buf(), TIMEOUT);
    let item = &harness.state().state.predict.items[0];
    let classification = match &item.status {
        PredictStatus::Done(outcome) => outcome.classification.clone(),
        PredictStatus::Failed(message) => panic!("Try it failed: {message}"),
        _ => None,
    };
    harness
        .state_mut()
        .push_command(tfprobe::ui::command::Command::StopServer);
    classification.expect("Try it ranked the outputs")
}

/// `(class, probability)` of the first row's top 5.
fn top5(classification: &Classification) -> Vec<(usize, f32)> {
    classification.rows[0]
        .iter()
        .map(|prediction| (prediction.class, prediction.score))
        .collect()
}

fn assert_same(model: &str, name: &str, got: &Classification, want: &[(usize, f32)]) {
    let got = top5(got);
    assert_eq!(got.len(), 5, "{model}: {name} listed {got:?}");
    for (rank, ((class, score), (want_class, want_score))) in got.iter().zip(want).enumerate() {
        assert_eq!(
            class,
            want_class,
            "{model}: {name} ranks class {class} at {}, predict --model ranks {want_class}",
            rank + 1
        );
        assert!(
            (score - want_score).abs() <= TOLERANCE,
            "{model}: {name} gives class {class} probability {score}, predict --model {want_score}"
        );
    }
}

fn same_answer_everywhere(model: &str, image: &str) {
    tf::ensure_runtime();
    let model_path = repo().join(model);
    let image_path = repo().join(image);
    let local = cli_top_k(&["--model", model, "--image", image]);
    let want = top5(&local);
    // The probabilities are not flat: a ranking that cannot tell classes apart
    // would agree everywhere and prove nothing.
    assert!(
        want[0].1 > want[4].1 + 1e-3,
        "{model}: top-5 too flat: {want:?}"
    );

    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let opened = open::open_model(&model_path).expect("the model opens");
    let server = EmbeddedServer::for_model(&opened.info, "probe");
    let (started, endpoints) = runtime
        .block_on(server.start())
        .expect("the embedded server starts");
    runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        while !started.handle.ready() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{model}: not AVAILABLE"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let rest = endpoints.rest.expect("REST listens").to_string();
    let grpc = endpoints.grpc.expect("gRPC listens").to_string();
    let server_args = |address: &str| {
        vec![
            "--server".to_string(),
            address.to_string(),
            "--model_name".into(),
            "probe".into(),
            "--image".into(),
            image.to_string(),
        ]
    };
    let rest_args = server_args(&rest);
    let over_rest = cli_top_k(&rest_args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut grpc_args = server_args(&grpc);
    grpc_args.push("--grpc".into());
    let over_grpc = cli_top_k(&grpc_args.iter().map(String::as_str).collect::<Vec<_>>());
    runtime.block_on(started.handle.shutdown());

    let in_the_app = app_top_k(&model_path, &image_path);
    for (name, got) in [
        ("predict --server (REST)", &over_rest),
        ("predict --server --grpc", &over_grpc),
        ("the app's Try it", &in_the_app),
    ] {
        assert_same(model, name, got, &want);
    }
}

#[test]
fn encoded_bytes_model_gives_one_answer_everywhere() {
    same_answer_everywhere(
        "assets/models/efficientnet_lite0",
        "assets/images/chelsea.png",
    );
}

#[test]
fn float_pixel_keras_model_gives_one_answer_everywhere() {
    same_answer_everywhere(
        "tests/fixtures/models/keras_image",
        "assets/images/rocket.jpg",
    );
}

#[test]
fn seed_like_model_gives_one_answer_everywhere() {
    same_answer_everywhere("tests/fixtures/models/seedlike", "assets/images/coffee.png");
}
