//! The embedded server: started through the workflow layer (settings checked, then
//! TensorFlow loaded, then the listeners), watched while it runs, stopped with grace.

use super::tasks::{Event, Reporter, Tasks};
use crate::server::{ModelStatus, ServerHandle};
use crate::ui::state::RuntimeState;
use crate::workflow::serve::EmbeddedServer;
use std::sync::Arc;
use std::time::Duration;

/// How often the server's model states are polled while it runs.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

impl Tasks {
    /// Starts the embedded server (stopping a running one first).
    pub fn start_server(&self, server: EmbeddedServer) {
        let reporter = self.reporter();
        let slot = Arc::clone(&self.server);
        self.spawn(async move {
            if let Some(old) = slot.lock().await.take() {
                old.shutdown_with_grace(Duration::from_secs(2)).await;
            }
            match server.start().await {
                Ok((started, endpoints)) => {
                    reporter.send(Event::Runtime(RuntimeState::Ready {
                        version: started.runtime.version.clone(),
                    }));
                    reporter.send(Event::ServerStarted(endpoints));
                    reporter.send(Event::ServerModels(started.handle.models()));
                    *slot.lock().await = Some(started.handle);
                    watch_server(slot, reporter).await;
                }
                Err(err) => {
                    if let crate::workflow::WorkflowError::Runtime(
                        crate::runtime::RuntimeError::LibraryNotFound { how_to_fix },
                    ) = &err
                    {
                        reporter.send(Event::Runtime(RuntimeState::Missing {
                            how_to_fix: how_to_fix.clone(),
                        }));
                    }
                    reporter.send(Event::ServerFailed(err));
                }
            }
        });
    }

    pub fn stop_server(&self) {
        let reporter = self.reporter();
        let slot = Arc::clone(&self.server);
        self.spawn(async move {
            if let Some(handle) = slot.lock().await.take() {
                handle.shutdown_with_grace(Duration::from_secs(3)).await;
            }
            reporter.send(Event::ServerStopped);
        });
    }
}

/// Reports the server's model states while it runs (only when they change).
async fn watch_server(slot: Arc<tokio::sync::Mutex<Option<ServerHandle>>>, reporter: Reporter) {
    let mut last: Vec<ModelStatus> = Vec::new();
    loop {
        tokio::time::sleep(WATCH_INTERVAL).await;
        let models = match slot.lock().await.as_ref() {
            Some(handle) => handle.models(),
            None => return,
        };
        if models != last {
            reporter.send(Event::ServerModels(models.clone()));
            last = models;
        }
    }
}
