//! JSON of TF Serving's REST API: reading predict requests (row and columnar
//! formats) and classify/regress requests (tf.Examples), writing their
//! responses, model status and model metadata.

mod examples;
mod fill;
mod meta;
mod parse;
mod predict;
mod response;
mod stream;
mod text;

pub use examples::{ExamplesBody, classification_json, regression_json};
pub use meta::{metadata_json, status_json};
pub use parse::{Json, Number};
pub use predict::{Format, PredictBody};
pub use response::outputs_json;
pub use stream::{StreamedPredict, stream_predict};
pub use text::{debug_string, tf_type_name, write_f32, write_f64, write_json_string};
