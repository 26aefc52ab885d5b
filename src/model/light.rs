//! `saved_model.pb` decoded for what the signature tree needs, and nothing else.
//!
//! The tree (tags, signatures, the op set, concrete functions) reads a few fields of a
//! file whose bulk is node attributes: constant tensors, shapes, dtypes. These messages
//! carry the same field numbers as TensorFlow's (`proto/tensorflow/...`) but declare only
//! the fields the tree reads, so prost skips the rest of the bytes without building
//! them. They keep TensorFlow's message names, which decode errors print. The full messages (`read_saved_model_proto`) are decoded only where a view needs
//! the whole graph (the graph inspector, the runtime).

use crate::pb::tensorflow as tfpb;
use std::collections::BTreeMap;

#[derive(Clone, PartialEq, prost::Message)]
pub struct SavedModel {
    #[prost(int64, tag = "1")]
    pub saved_model_schema_version: i64,
    #[prost(message, repeated, tag = "2")]
    pub meta_graphs: Vec<MetaGraphDef>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MetaGraphDef {
    #[prost(message, optional, tag = "1")]
    pub meta_info_def: Option<tfpb::meta_graph_def::MetaInfoDef>,
    #[prost(message, optional, tag = "2")]
    pub graph_def: Option<GraphDef>,
    #[prost(btree_map = "string, message", tag = "5")]
    pub signature_def: BTreeMap<String, tfpb::SignatureDef>,
    #[prost(message, optional, tag = "7")]
    pub object_graph_def: Option<tfpb::SavedObjectGraph>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphDef {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeDef>,
    #[prost(message, optional, tag = "2")]
    pub library: Option<FunctionDefLibrary>,
}

/// A node's op, and of its attributes only what names a function (`f`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeDef {
    #[prost(string, tag = "2")]
    pub op: String,
    #[prost(btree_map = "string, message", tag = "5")]
    pub attr: BTreeMap<String, AttrValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AttrValue {
    /// `AttrValue.func`: the only attribute value the op set follows.
    #[prost(message, optional, tag = "10")]
    pub func: Option<NameAttrList>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NameAttrList {
    #[prost(string, tag = "1")]
    pub name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FunctionDefLibrary {
    #[prost(message, repeated, tag = "1")]
    pub function: Vec<FunctionDef>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FunctionDef {
    /// `FunctionDef.signature` (an `OpDef`), of which only the name is read.
    #[prost(message, optional, tag = "1")]
    pub signature: Option<NameAttrList>,
    #[prost(message, repeated, tag = "3")]
    pub node_def: Vec<NodeDef>,
}

/// Tags and signatures only: what `show`'s tag-set, signature-key and signature views
/// print. The graph and the object graph are skipped whole.
pub mod signatures {
    use crate::pb::tensorflow as tfpb;
    use std::collections::BTreeMap;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SavedModel {
        #[prost(int64, tag = "1")]
        pub saved_model_schema_version: i64,
        #[prost(message, repeated, tag = "2")]
        pub meta_graphs: Vec<MetaGraphDef>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetaGraphDef {
        #[prost(message, optional, tag = "1")]
        pub meta_info_def: Option<tfpb::meta_graph_def::MetaInfoDef>,
        #[prost(btree_map = "string, message", tag = "5")]
        pub signature_def: BTreeMap<String, tfpb::SignatureDef>,
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{open, open_signatures};
    use std::path::PathBuf;

    #[test]
    fn the_signature_only_read_gives_the_same_tags_and_signatures_as_the_full_one() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models");
        for name in [
            "dtypes/1",
            "keras_image/1",
            "seedlike/1538687457",
            "tf1_softmax/1",
        ] {
            let full = open(&root.join(name)).expect("full read");
            let light = open_signatures(&root.join(name)).expect("signature read");
            assert!(!full.meta_graphs.is_empty());
            assert_eq!(full.meta_graphs.len(), light.meta_graphs.len(), "{name}");
            for (full, light) in full.meta_graphs.iter().zip(&light.meta_graphs) {
                assert_eq!(full.tags, light.tags, "{name}");
                assert_eq!(full.signatures, light.signatures, "{name}");
                assert!(light.ops.is_empty() && !full.ops.is_empty(), "{name}");
            }
        }
    }
}
