//! Concrete functions saved in the object graph (`SavedObjectGraph`), decoded from
//! their `StructuredValue` input signatures into Python-like values so that `show
//! --all` can print them exactly as saved_model_cli does after loading the model.

use super::dtype::DType;
use super::ops::python_str_repr;
use crate::pb::tensorflow as tfpb;
use serde::{Deserialize, Serialize};

/// A `tf.function` (or bare concrete function) reachable from the root object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FunctionInfo {
    /// Attribute name on the root object, e.g. `serve` or `__call__`.
    pub name: String,
    pub concrete_functions: Vec<ConcreteFunctionInfo>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConcreteFunctionInfo {
    /// Function name in the graph's library, e.g. `__inference_serve_42`.
    pub name: String,
    /// Positional arguments.
    pub args: Vec<ArgumentSpec>,
    /// Keyword arguments (name, value).
    pub kwargs: Vec<(String, PyValue)>,
}

/// One positional argument, kept as the Python value TensorFlow would decode.
pub type ArgumentSpec = PyValue;

/// The subset of Python values that `nested_structure_coder` decodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PyValue {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<PyValue>),
    Tuple(Vec<PyValue>),
    Dict(Vec<(String, PyValue)>),
    NamedTuple {
        name: String,
        fields: Vec<(String, PyValue)>,
    },
    TensorSpec {
        name: Option<String>,
        shape: Option<Vec<Option<i64>>>,
        dtype: DType,
    },
    TensorShape(Option<Vec<Option<i64>>>),
    DType(DType),
    /// Anything else (type specs of composite tensors, numpy values): its class name.
    Opaque(String),
}

impl PyValue {
    /// Python's `type(value).__name__`.
    pub fn type_name(&self) -> &str {
        match self {
            PyValue::None => "NoneType",
            PyValue::Bool(_) => "bool",
            PyValue::Int(_) => "int",
            PyValue::Float(_) => "float",
            PyValue::Str(_) => "str",
            PyValue::List(_) => "list",
            PyValue::Tuple(_) => "tuple",
            PyValue::Dict(_) => "dict",
            PyValue::NamedTuple { name, .. } => name,
            PyValue::TensorSpec { .. } => "TensorSpec",
            PyValue::TensorShape(_) => "TensorShape",
            PyValue::DType(_) => "DType",
            PyValue::Opaque(name) => name,
        }
    }

    /// Python's `repr(value)`.
    pub fn repr(&self) -> String {
        match self {
            PyValue::Str(text) => python_str_repr(text),
            PyValue::List(items) => format!("[{}]", join_reprs(items)),
            PyValue::Tuple(items) if items.len() == 1 => format!("({},)", items[0].repr()),
            PyValue::Tuple(items) => format!("({})", join_reprs(items)),
            PyValue::Dict(fields) => format!("{{{}}}", join_fields(fields, python_str_repr, ": ")),
            PyValue::NamedTuple { name, fields } => {
                format!(
                    "{name}({})",
                    join_fields(fields, |key| key.to_string(), "=")
                )
            }
            PyValue::TensorShape(dims) => format!("TensorShape({})", shape_list_repr(dims)),
            PyValue::DType(dtype) => format!("tf.{}", dtype.python_name()),
            PyValue::TensorSpec { name, shape, dtype } => format!(
                "TensorSpec(shape={}, dtype=tf.{}, name={})",
                shape_str(shape),
                dtype.python_name(),
                name.as_deref().map_or("None".to_string(), python_str_repr)
            ),
            other => other.str(),
        }
    }

    /// Python's `str(value)`.
    pub fn str(&self) -> String {
        match self {
            PyValue::None => "None".into(),
            PyValue::Bool(true) => "True".into(),
            PyValue::Bool(false) => "False".into(),
            PyValue::Int(number) => number.to_string(),
            PyValue::Float(number) => python_float_repr(*number),
            PyValue::Str(text) => text.clone(),
            PyValue::TensorShape(dims) => shape_str(dims),
            PyValue::DType(dtype) => format!("<dtype: '{}'>", dtype.python_name()),
            PyValue::Opaque(name) => format!("<{name}>"),
            other => other.repr(),
        }
    }

    /// Decodes a `StructuredValue` as TensorFlow's nested_structure_coder does.
    pub fn from_proto(value: &tfpb::StructuredValue) -> PyValue {
        use tfpb::structured_value::Kind;
        let Some(kind) = &value.kind else {
            return PyValue::None;
        };
        match kind {
            Kind::NoneValue(_) => PyValue::None,
            Kind::Float64Value(number) => PyValue::Float(*number),
            Kind::Int64Value(number) => PyValue::Int(*number),
            Kind::StringValue(text) => PyValue::Str(text.clone()),
            Kind::BoolValue(flag) => PyValue::Bool(*flag),
            Kind::TensorShapeValue(shape) => PyValue::TensorShape(shape_dims(shape)),
            Kind::TensorDtypeValue(dtype) => PyValue::DType(DType(*dtype)),
            Kind::TensorSpecValue(spec) => tensor_spec(spec),
            Kind::BoundedTensorSpecValue(_) => PyValue::Opaque("BoundedTensorSpec".into()),
            Kind::TypeSpecValue(spec) => PyValue::Opaque(if spec.type_spec_class_name.is_empty() {
                "TypeSpec".into()
            } else {
                spec.type_spec_class_name.clone()
            }),
            Kind::ListValue(list) => {
                PyValue::List(list.values.iter().map(PyValue::from_proto).collect())
            }
            Kind::TupleValue(tuple) => {
                PyValue::Tuple(tuple.values.iter().map(PyValue::from_proto).collect())
            }
            Kind::DictValue(dict) => PyValue::Dict(
                dict.fields
                    .iter()
                    .map(|(key, value)| (key.clone(), PyValue::from_proto(value)))
                    .collect(),
            ),
            Kind::NamedTupleValue(named) => PyValue::NamedTuple {
                name: named.name.clone(),
                fields: named
                    .values
                    .iter()
                    .map(|pair| {
                        (
                            pair.key.clone(),
                            pair.value
                                .as_ref()
                                .map_or(PyValue::None, PyValue::from_proto),
                        )
                    })
                    .collect(),
            },
            Kind::TensorValue(_) => PyValue::Opaque("EagerTensor".into()),
            Kind::NumpyValue(_) => PyValue::Opaque("ndarray".into()),
        }
    }
}

fn tensor_spec(spec: &tfpb::TensorSpecProto) -> PyValue {
    PyValue::TensorSpec {
        name: (!spec.name.is_empty()).then(|| spec.name.clone()),
        shape: spec.shape.as_ref().map_or(Some(Vec::new()), shape_dims),
        dtype: DType(spec.dtype),
    }
}

fn shape_dims(shape: &tfpb::TensorShapeProto) -> Option<Vec<Option<i64>>> {
    if shape.unknown_rank {
        return None;
    }
    Some(
        shape
            .dim
            .iter()
            .map(|dim| (dim.size >= 0).then_some(dim.size))
            .collect(),
    )
}

/// `str(tf.TensorShape)`: `(None, 3)`, `(None,)`, `()` or `<unknown>`.
fn shape_str(dims: &Option<Vec<Option<i64>>>) -> String {
    let Some(dims) = dims else {
        return "<unknown>".into();
    };
    let texts: Vec<String> = dims
        .iter()
        .map(|dim| dim.map_or("None".into(), |size| size.to_string()))
        .collect();
    if texts.len() == 1 {
        format!("({},)", texts[0])
    } else {
        format!("({})", texts.join(", "))
    }
}

/// `repr(tf.TensorShape)`'s argument: `[None, 3]` or `None`.
fn shape_list_repr(dims: &Option<Vec<Option<i64>>>) -> String {
    let Some(dims) = dims else {
        return "None".into();
    };
    let texts: Vec<String> = dims
        .iter()
        .map(|dim| dim.map_or("None".into(), |size| size.to_string()))
        .collect();
    format!("[{}]", texts.join(", "))
}

fn join_reprs(items: &[PyValue]) -> String {
    items
        .iter()
        .map(PyValue::repr)
        .collect::<Vec<_>>()
        .join(", ")
}

fn join_fields(
    fields: &[(String, PyValue)],
    key_text: impl Fn(&str) -> String,
    separator: &str,
) -> String {
    fields
        .iter()
        .map(|(key, value)| format!("{}{separator}{}", key_text(key), value.repr()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Python's float repr: shortest round-trip digits, `1.0` for integral values,
/// exponent form below 1e-4 and from 1e16 on, `inf`/`nan`.
pub fn python_float_repr(number: f64) -> String {
    if number.is_nan() {
        return "nan".into();
    }
    if number.is_infinite() {
        return if number > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let magnitude = number.abs();
    if magnitude != 0.0 && !(1e-4..1e16).contains(&magnitude) {
        // Rust's `{:e}` gives the shortest digits; Python pads the exponent to 2 digits.
        let text = format!("{number:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let text = format!("{number:?}");
    if text.contains('.') || text.contains('e') {
        text
    } else {
        format!("{text}.0")
    }
}

/// Functions reachable as direct attributes of the root object, sorted by attribute
/// name; each function's concrete functions sorted by their library names.
pub fn functions_from_object_graph(graph: &tfpb::SavedObjectGraph) -> Vec<FunctionInfo> {
    use tfpb::saved_object::Kind;
    let Some(root) = graph.nodes.first() else {
        return Vec::new();
    };
    let concrete = |name: &str| {
        let saved = graph.concrete_functions.get(name);
        let signature = saved
            .and_then(|saved| saved.canonicalized_input_signature.as_ref())
            .map(PyValue::from_proto);
        let (args, kwargs) = match signature {
            Some(PyValue::Tuple(mut parts)) if parts.len() == 2 => {
                let kwargs = parts.pop().unwrap_or(PyValue::None);
                let args = parts.pop().unwrap_or(PyValue::None);
                (sequence_items(args), dict_items(kwargs))
            }
            _ => (Vec::new(), Vec::new()),
        };
        ConcreteFunctionInfo {
            name: name.to_string(),
            args,
            kwargs,
        }
    };
    let mut functions: Vec<FunctionInfo> = root
        .children
        .iter()
        .filter_map(|child| {
            let node = graph.nodes.get(usize::try_from(child.node_id).ok()?)?;
            let mut concrete_functions: Vec<ConcreteFunctionInfo> = match node.kind.as_ref()? {
                Kind::Function(function) => function
                    .concrete_functions
                    .iter()
                    .map(|name| concrete(name))
                    .collect(),
                Kind::BareConcreteFunction(bare) => vec![concrete(&bare.concrete_function_name)],
                _ => return None,
            };
            concrete_functions.sort_by(|a, b| a.name.cmp(&b.name));
            Some(FunctionInfo {
                name: child.local_name.clone(),
                concrete_functions,
            })
        })
        .collect();
    functions.sort_by(|a, b| a.name.cmp(&b.name));
    functions
}

fn sequence_items(value: PyValue) -> Vec<PyValue> {
    match value {
        PyValue::Tuple(items) | PyValue::List(items) => items,
        PyValue::None => Vec::new(),
        other => vec![other],
    }
}

fn dict_items(value: PyValue) -> Vec<(String, PyValue)> {
    match value {
        PyValue::Dict(fields) => fields,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_spec_repr_matches_python() {
        let spec = PyValue::TensorSpec {
            name: Some("x".into()),
            shape: Some(vec![None, Some(3)]),
            dtype: DType::FLOAT,
        };
        assert_eq!(
            spec.repr(),
            "TensorSpec(shape=(None, 3), dtype=tf.float32, name='x')"
        );
        let scalar = PyValue::TensorSpec {
            name: None,
            shape: Some(vec![]),
            dtype: DType::INT64,
        };
        assert_eq!(
            scalar.repr(),
            "TensorSpec(shape=(), dtype=tf.int64, name=None)"
        );
        let vector = PyValue::TensorSpec {
            name: None,
            shape: Some(vec![None]),
            dtype: DType::STRING,
        };
        assert_eq!(
            vector.repr(),
            "TensorSpec(shape=(None,), dtype=tf.string, name=None)"
        );
        let unknown = PyValue::TensorSpec {
            name: None,
            shape: None,
            dtype: DType::BOOL,
        };
        assert_eq!(
            unknown.repr(),
            "TensorSpec(shape=<unknown>, dtype=tf.bool, name=None)"
        );
    }

    #[test]
    fn float_repr_matches_python() {
        assert_eq!(python_float_repr(1.0), "1.0");
        assert_eq!(python_float_repr(0.5), "0.5");
        assert_eq!(python_float_repr(1e-5), "1e-05");
        assert_eq!(python_float_repr(1e16), "1e+16");
        assert_eq!(python_float_repr(123.25), "123.25");
    }
}
