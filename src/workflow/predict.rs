//! "This image through that model": plan the input once, build the request off the
//! async threads (decoding and resizing are CPU work), run it on a target, rank it.

use super::WorkflowError;
use super::classify::{self, Ranking};
use super::image_request::{ImagePlan, Request};
use super::target::{Answer, Target};
use crate::imaging::Classification;
use std::sync::Arc;

/// One image's prediction.
#[derive(Debug)]
pub struct ImagePrediction {
    /// What was sent (front ends print it as curl, grpcurl or Python).
    pub request: Request,
    pub answer: Answer,
    /// The labelled top-k, or why the outputs could not be ranked (they need not be
    /// class scores: that is no failure of the request).
    pub ranked: Result<Classification, WorkflowError>,
    /// How the input was built, in one line.
    pub input_summary: String,
}

/// Builds the request for `image_bytes` on a blocking thread.
pub async fn build_request(
    plan: &ImagePlan,
    image_bytes: Arc<Vec<u8>>,
) -> Result<Request, WorkflowError> {
    let plan = plan.clone();
    tokio::task::spawn_blocking(move || plan.request(&image_bytes))
        .await
        .map_err(|join| WorkflowError::interrupted("preparing the input", join))?
}

/// Sends one image to `target` and ranks the answer.
pub async fn predict_image<T: Target>(
    target: &T,
    plan: &ImagePlan,
    image_bytes: Arc<Vec<u8>>,
    ranking: &Ranking,
) -> Result<ImagePrediction, WorkflowError> {
    let request = build_request(plan, image_bytes).await?;
    run_and_rank(target, plan, request, ranking).await
}

/// Runs a built request (front ends that show the request before the answer build it
/// with [`build_request`] first) and ranks the answer.
pub async fn run_and_rank<T: Target>(
    target: &T,
    plan: &ImagePlan,
    request: Request,
    ranking: &Ranking,
) -> Result<ImagePrediction, WorkflowError> {
    let answer = target.run(&request).await?;
    let ranked = classify::rank(&answer.outputs, ranking);
    Ok(ImagePrediction {
        request,
        answer,
        ranked,
        input_summary: plan.summary(),
    })
}
