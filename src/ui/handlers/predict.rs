//! The Try-it tab: adding images, sending each to the current target, and the
//! thumbnails and predictions coming back.

use crate::imaging::ImageError;
use crate::ui::app::TfprobeApp;
use crate::ui::effects::PredictJob;
use crate::ui::state::{PredictItem, PredictOutcome, PredictStatus, Tab};
use crate::workflow::WorkflowError;
use std::sync::Arc;

impl TfprobeApp {
    pub(super) fn add_image(&mut self, name: String, bytes: Arc<Vec<u8>>) {
        let id = self.state.fresh_id();
        self.state.predict.items.push(PredictItem {
            id,
            name,
            bytes: Arc::clone(&bytes),
            thumbnail: None,
            status: PredictStatus::Decoding,
        });
        self.state.predict.selected = self.state.predict.items.len() - 1;
        self.state.persisted.tab = Tab::TryIt;
        self.tasks.thumbnail(id, bytes);
        self.predict(id);
    }

    pub(super) fn predict_all(&mut self) {
        let ids: Vec<u64> = self
            .state
            .predict
            .items
            .iter()
            .map(|item| item.id)
            .collect();
        for id in ids {
            self.predict(id);
        }
    }

    pub(super) fn clear_images(&mut self) {
        self.state.predict.items.clear();
        self.state.predict.selected = 0;
    }

    /// Sends image `id` to the current target, or marks it waiting for one.
    pub(super) fn predict(&mut self, id: u64) {
        let signature = self.state.chosen_signature().map(|chosen| chosen.cloned());
        let config = self
            .state
            .target_config(self.state.persisted.predict.protocol);
        let model_dir = self.state.target_model_dir();
        let ready = self.state.target_ready();
        let settings = self.state.persisted.predict.clone();
        let Some(item) = item_mut(&mut self.state.predict.items, id) else {
            return;
        };
        let signature = match signature {
            Some(Ok(signature)) => signature,
            // Several signatures and none chosen: say so, and how to choose.
            Some(Err(err)) => {
                item.status = PredictStatus::Failed(err.to_string());
                return;
            }
            None => {
                item.status = PredictStatus::Waiting;
                return;
            }
        };
        let (Some(config), true) = (config, ready) else {
            item.status = PredictStatus::Waiting;
            return;
        };
        item.status = PredictStatus::Running;
        let job = PredictJob {
            id,
            config,
            signature,
            settings,
            bytes: Arc::clone(&item.bytes),
            model_dir,
        };
        self.tasks.predict(job);
    }

    pub(super) fn thumbnail_ready(
        &mut self,
        id: u64,
        result: Result<egui::ColorImage, ImageError>,
    ) {
        let Some(item) = item_mut(&mut self.state.predict.items, id) else {
            return;
        };
        match result {
            Ok(image) => {
                item.thumbnail = Some(self.ctx.load_texture(
                    format!("thumbnail-{id}"),
                    image,
                    egui::TextureOptions::LINEAR,
                ))
            }
            Err(err) => item.status = PredictStatus::Failed(err.to_string()),
        }
    }

    pub(super) fn predicted(
        &mut self,
        id: u64,
        result: Result<PredictOutcome, WorkflowError>,
        curl: Option<String>,
    ) {
        let state = &mut self.state;
        if curl.is_some() {
            state.predict.last_curl = curl;
        }
        let Some(item) = item_mut(&mut state.predict.items, id) else {
            return;
        };
        if matches!(item.status, PredictStatus::Failed(_)) && result.is_err() {
            return; // the thumbnail already said it is not an image
        }
        item.status = match result {
            Ok(outcome) => PredictStatus::Done(Box::new(outcome)),
            Err(err) => PredictStatus::Failed(err.to_string()),
        };
    }
}

/// The Try-it image with this id, if it is still there.
fn item_mut(items: &mut [PredictItem], id: u64) -> Option<&mut PredictItem> {
    items.iter_mut().find(|item| item.id == id)
}
