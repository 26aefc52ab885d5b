//! What the app remembers between runs: theme, recent models, saved connections,
//! recent hosts and last settings round-trip through eframe's storage, and old or
//! partial saved state still loads (every field has a default).

use std::collections::HashMap;
use tfprobe::client::Protocol;
use tfprobe::ui::app::STATE_KEY;
use tfprobe::ui::state::{ConnectionSettings, Persisted, Tab, ThemeChoice};
use tfprobe::ui::{LaunchOptions, TfprobeApp};

#[derive(Default)]
struct MemoryStorage(HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }

    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }

    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }

    fn flush(&mut self) {}
}

#[test]
fn settings_survive_a_restart() {
    let ctx = egui::Context::default();
    let mut app = TfprobeApp::with_state(&ctx, Persisted::default(), LaunchOptions::default());
    {
        let persisted = &mut app.state.persisted;
        persisted.theme = ThemeChoice::Dark;
        persisted.add_recent_model("/models/a/1".into());
        persisted.add_recent_model("/models/b".into());
        persisted.add_recent_model("/models/a/1".into());
        persisted.add_recent_host("models.example".into());
        persisted.save_connection(ConnectionSettings {
            host: "models.example".into(),
            port: 8500,
            protocol: Protocol::Grpc,
            model_name: "resnet".into(),
            version: "3".into(),
            tls: true,
            client_cert_file: "/pki/client.pem".into(),
            client_key_file: "/pki/client.key".into(),
            ..ConnectionSettings::default()
        });
        persisted.latency.requests = 1234;
        persisted.latency.concurrency = 4;
        persisted.predict.top_k = 3;
        persisted.predict.preset = "imagenet".into();
        persisted.server.rest_port = 9501;
        persisted.tab = Tab::Latency;
    }
    let mut storage = MemoryStorage::default();
    eframe::App::save(&mut app, &mut storage);

    let restored: Persisted =
        eframe::get_value(&storage, STATE_KEY).expect("saved state reads back");
    assert_eq!(restored, app.state.persisted);
    assert_eq!(
        restored.recent_models,
        vec![std::path::PathBuf::from("/models/a/1"), "/models/b".into()],
        "most recent first, no duplicates"
    );
    let reopened = TfprobeApp::with_state(
        &egui::Context::default(),
        restored,
        LaunchOptions::default(),
    );
    assert_eq!(
        reopened.state.persisted.saved_connections[0].title(),
        "grpcs://models.example:8500/resnet"
    );
    assert_eq!(reopened.state.persisted.latency.requests, 1234);
    assert_eq!(reopened.state.persisted.tab, Tab::Latency);
}

#[test]
fn partial_or_old_saved_state_loads_with_defaults() {
    let mut storage = MemoryStorage::default();
    eframe::Storage::set_string(
        &mut storage,
        STATE_KEY,
        "(theme: Light, latency: (requests: 7))".into(),
    );
    let restored: Persisted = eframe::get_value(&storage, STATE_KEY).expect("partial state loads");
    assert_eq!(restored.theme, ThemeChoice::Light);
    assert_eq!(restored.latency.requests, 7);
    assert_eq!(restored.latency.warmup, Persisted::default().latency.warmup);
    assert_eq!(restored.server.host, "127.0.0.1");
    assert_eq!(restored.predict.top_k, 5);

    // A connection saved before the client certificate fields existed.
    eframe::Storage::set_string(
        &mut storage,
        STATE_KEY,
        r#"(saved_connections: [(host: "h", port: 8500, tls: true, ca_file: "/pki/ca.pem")])"#
            .into(),
    );
    let restored: Persisted = eframe::get_value(&storage, STATE_KEY).expect("old connections load");
    let connection = &restored.saved_connections[0];
    assert_eq!(
        (connection.host.as_str(), connection.ca_file.as_str()),
        ("h", "/pki/ca.pem")
    );
    assert!(connection.client_cert_file.is_empty() && connection.client_key_file.is_empty());

    // Unreadable state is ignored rather than fatal (the app falls back to defaults).
    eframe::Storage::set_string(&mut storage, STATE_KEY, "not ron at all {".into());
    assert!(eframe::get_value::<Persisted>(&storage, STATE_KEY).is_none());
}

#[test]
fn recent_lists_are_bounded() {
    let mut persisted = Persisted::default();
    for index in 0..30 {
        persisted.add_recent_model(format!("/models/{index}").into());
        persisted.add_recent_host(format!("host{index}"));
    }
    assert_eq!(
        persisted.recent_models.len(),
        tfprobe::ui::state::MAX_RECENT
    );
    assert_eq!(
        persisted.recent_models[0],
        std::path::PathBuf::from("/models/29")
    );
    assert_eq!(persisted.recent_hosts.len(), tfprobe::ui::state::MAX_RECENT);
}
