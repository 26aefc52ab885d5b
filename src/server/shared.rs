//! State shared by the REST and gRPC front ends (and the classify/regress path they
//! share). Defined apart from `server/mod.rs` so that the front ends, which the
//! facade starts, do not reach back into it.

use super::metrics::Metrics;
use super::versions::ModelManager;
use std::sync::Arc;
use std::time::Duration;

/// State shared by the REST and gRPC front ends.
pub(crate) struct Shared {
    pub manager: Arc<ModelManager>,
    pub metrics: Arc<Metrics>,
    pub rest_timeout: Option<Duration>,
    pub max_request_bytes: usize,
    pub rest_one_pass_json: bool,
    pub max_batch_size: u64,
}
