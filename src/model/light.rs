//! `saved_model.pb` decoded for what the signature tree needs, and nothing else.
//!
//! The tree (tags, signatures, the op set, concrete functions) reads a few fields of a
//! file whose bulk is node attributes: constant tensors, shapes, dtypes. These messages
//! carry the same field numbers as TensorFlow's (`proto/tensorflow/...`) but declare only
//! the fields the tree reads, so prost skips the rest of the bytes without building
//! them. The full messages (`read_saved_model_proto`) are decoded only where a view needs
//! the whole graph (the graph inspector, the runtime).

use crate::pb::tensorflow as tfpb;
use std::collections::BTreeMap;

#[derive(Clone, PartialEq, prost::Message)]
pub struct LightSavedModel {
    #[prost(int64, tag = "1")]
    pub saved_model_schema_version: i64,
    #[prost(message, repeated, tag = "2")]
    pub meta_graphs: Vec<LightMetaGraph>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LightMetaGraph {
    #[prost(message, optional, tag = "1")]
    pub meta_info_def: Option<tfpb::meta_graph_def::MetaInfoDef>,
    #[prost(message, optional, tag = "2")]
    pub graph_def: Option<LightGraphDef>,
    #[prost(btree_map = "string, message", tag = "5")]
    pub signature_def: BTreeMap<String, tfpb::SignatureDef>,
    #[prost(message, optional, tag = "7")]
    pub object_graph_def: Option<tfpb::SavedObjectGraph>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LightGraphDef {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<LightNode>,
    #[prost(message, optional, tag = "2")]
    pub library: Option<LightLibrary>,
}

/// A node's op, and of its attributes only what names a function (`f`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct LightNode {
    #[prost(string, tag = "2")]
    pub op: String,
    #[prost(btree_map = "string, message", tag = "5")]
    pub attr: BTreeMap<String, LightAttr>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LightAttr {
    /// `AttrValue.func`: the only attribute value the op set follows.
    #[prost(message, optional, tag = "10")]
    pub func: Option<LightName>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LightName {
    #[prost(string, tag = "1")]
    pub name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LightLibrary {
    #[prost(message, repeated, tag = "1")]
    pub function: Vec<LightFunction>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LightFunction {
    /// `FunctionDef.signature` (an `OpDef`), of which only the name is read.
    #[prost(message, optional, tag = "1")]
    pub signature: Option<LightName>,
    #[prost(message, repeated, tag = "3")]
    pub node_def: Vec<LightNode>,
}
