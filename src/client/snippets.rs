//! "Copy as code": the exact request a client would send, as a curl command, a
//! grpcurl command or a Python script, each runnable as printed.

use super::grpc::model_spec;
use super::rest::model_url;
use super::rest_json::encode_predict_request;
use super::{ClientConfig, TlsOptions, VersionSelector};
use crate::tensor::NamedTensors;
use crate::tensor::TensorData;
use base64::Engine;
use serde_json::{Value, json};

/// Quotes `text` for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b))
    {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A heredoc delimiter that does not occur in `body` on a line of its own.
fn delimiter(body: &str) -> String {
    let mut word = "JSON".to_string();
    while body.lines().any(|line| line == word) {
        word.push('_');
    }
    word
}

/// `curl ... :predict` with the JSON body (images as `{"b64": ...}`).
pub fn curl(config: &ClientConfig, inputs: &NamedTensors) -> String {
    let url = format!("{}:predict", model_url(config, &config.base_url()));
    let body = encode_predict_request(inputs, config.signature.as_deref());
    let mut command = String::from("curl -sS --fail-with-body -X POST");
    command.push_str(&format!(" --max-time {}", config.timeout.as_secs().max(1)));
    for (name, value) in &config.headers {
        command.push_str(&format!(
            " -H {}",
            shell_quote(&format!("{}: {}", name.trim(), value.trim()))
        ));
    }
    if let Some(tls) = &config.tls {
        if tls.accept_invalid_certs {
            command.push_str(" -k");
        }
        if let Some(ca) = &tls.ca_file {
            command.push_str(&format!(
                " --cacert {}",
                shell_quote(&ca.display().to_string())
            ));
        }
        command.push_str(&client_cert_flags(tls, "--"));
    }
    let end = delimiter(&body);
    command.push_str(&format!(
        " {} --data-binary @- <<'{end}'\n{body}\n{end}\n",
        shell_quote(&url)
    ));
    command
}

/// ` --cert FILE --key FILE` (curl; grpcurl spells them with one dash), or nothing.
fn client_cert_flags(tls: &TlsOptions, dash: &str) -> String {
    match &tls.client_identity {
        Some(identity) => format!(
            " {dash}cert {} {dash}key {}",
            shell_quote(&identity.cert_file.display().to_string()),
            shell_quote(&identity.key_file.display().to_string())
        ),
        None => String::new(),
    }
}

/// TF Serving's `PredictRequest` in protobuf's JSON mapping (what grpcurl and
/// `json_format.Parse` read): numeric tensors as `tensor_content`, strings as `string_val`.
pub fn predict_request_json(config: &ClientConfig, inputs: &NamedTensors) -> Value {
    let spec = model_spec(config, true);
    let mut model_spec_json = json!({ "name": spec.name });
    match &config.version {
        VersionSelector::Latest => {}
        VersionSelector::Version(version) => {
            model_spec_json["version"] = json!(version.to_string())
        }
        VersionSelector::Label(label) => model_spec_json["version_label"] = json!(label),
    }
    if !spec.signature_name.is_empty() {
        model_spec_json["signature_name"] = json!(spec.signature_name);
    }
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let tensors: serde_json::Map<String, Value> = inputs
        .iter()
        .map(|(key, tensor)| {
            let proto = crate::pb::convert::tensor_to_proto_content(tensor);
            let dims: Vec<Value> = tensor
                .shape
                .iter()
                .map(|size| json!({ "size": size.to_string() }))
                .collect();
            let mut value =
                json!({ "dtype": tensor.dtype().name(), "tensor_shape": { "dim": dims } });
            match &tensor.data {
                TensorData::String(values) => {
                    value["string_val"] =
                        Value::Array(values.iter().map(|bytes| json!(b64(bytes))).collect());
                }
                _ => value["tensor_content"] = json!(b64(&proto.tensor_content)),
            }
            (key.clone(), value)
        })
        .collect();
    json!({ "model_spec": model_spec_json, "inputs": tensors })
}

/// `grpcurl ... tensorflow.serving.PredictionService/Predict`.
pub fn grpcurl(config: &ClientConfig, inputs: &NamedTensors) -> String {
    let body = predict_request_json(config, inputs).to_string();
    let mut command = String::from(
        "# Uses server reflection (tfprobe serve offers it). TF Serving has none: add\n\
         #   -import-path DIR -proto tensorflow_serving/apis/prediction_service.proto\n\
         # with DIR holding TF Serving's and TensorFlow's .proto files.\n",
    );
    command.push_str("grpcurl");
    match &config.tls {
        None => command.push_str(" -plaintext"),
        Some(tls) => {
            if tls.accept_invalid_certs {
                command.push_str(" -insecure");
            }
            if let Some(ca) = &tls.ca_file {
                command.push_str(&format!(
                    " -cacert {}",
                    shell_quote(&ca.display().to_string())
                ));
            }
            if let Some(name) = &tls.server_name {
                command.push_str(&format!(" -servername {}", shell_quote(name)));
            }
            command.push_str(&client_cert_flags(tls, "-"));
        }
    }
    command.push_str(&format!(
        " -max-time {} -max-msg-sz 268435456",
        config.timeout.as_secs().max(1)
    ));
    for (name, value) in &config.headers {
        command.push_str(&format!(
            " -H {}",
            shell_quote(&format!("{}: {}", name.trim(), value.trim()))
        ));
    }
    let end = delimiter(&body);
    command.push_str(&format!(
        " -d @ {} tensorflow.serving.PredictionService/Predict <<'{end}'\n{body}\n{end}\n",
        shell_quote(&config.authority())
    ));
    command
}

fn python_string(text: &str) -> String {
    // A JSON string literal is a valid Python string literal.
    serde_json::to_string(text).unwrap_or_default()
}

fn python_path(path: &std::path::Path) -> String {
    python_string(&path.display().to_string())
}

/// A Python script that sends the same request (REST: `requests`; gRPC:
/// `grpcio` + `tensorflow-serving-api`).
pub fn python(config: &ClientConfig, inputs: &NamedTensors) -> String {
    let headers: Vec<String> = config
        .headers
        .iter()
        .map(|(name, value)| {
            format!(
                "({}, {})",
                python_string(name.trim()),
                python_string(value.trim())
            )
        })
        .collect();
    let timeout = config.timeout.as_secs_f64();
    match config.protocol {
        super::Protocol::Rest => {
            let url = format!("{}:predict", model_url(config, &config.base_url()));
            let body = encode_predict_request(inputs, config.signature.as_deref());
            let mut verify = match &config.tls {
                Some(tls) if tls.accept_invalid_certs => ", verify=False".to_string(),
                Some(tls) => match &tls.ca_file {
                    Some(ca) => format!(", verify={}", python_string(&ca.display().to_string())),
                    None => String::new(),
                },
                None => String::new(),
            };
            if let Some(identity) = config
                .tls
                .as_ref()
                .and_then(|tls| tls.client_identity.as_ref())
            {
                verify.push_str(&format!(
                    ", cert=({}, {})",
                    python_path(&identity.cert_file),
                    python_path(&identity.key_file)
                ));
            }
            format!(
                "# pip install requests\nimport requests\n\nURL = {}\nBODY = {}\nHEADERS = dict([{}])\n\n\
                 response = requests.post(URL, data=BODY, headers=HEADERS, timeout={timeout}{verify})\n\
                 print(response.status_code)\nprint(response.text)\n",
                python_string(&url),
                python_string(&body),
                headers.join(", ")
            )
        }
        super::Protocol::Grpc => {
            let body = predict_request_json(config, inputs).to_string();
            let channel = match &config.tls {
                None => format!(
                    "grpc.insecure_channel({})",
                    python_string(&config.authority())
                ),
                Some(tls) => {
                    let read = |path: &std::path::Path| {
                        format!("open({}, 'rb').read()", python_path(path))
                    };
                    let roots = tls.ca_file.as_deref().map_or("None".into(), read);
                    let identity = match &tls.client_identity {
                        Some(identity) => format!(
                            ", private_key={}, certificate_chain={}",
                            read(&identity.key_file),
                            read(&identity.cert_file)
                        ),
                        None => String::new(),
                    };
                    format!(
                        "grpc.secure_channel({}, grpc.ssl_channel_credentials(root_certificates={roots}{identity}))",
                        python_string(&config.authority())
                    )
                }
            };
            format!(
                "# pip install grpcio tensorflow-serving-api\nimport grpc\nfrom google.protobuf import json_format\n\
                 from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc\n\n\
                 REQUEST = json_format.Parse({}, predict_pb2.PredictRequest())\n\
                 channel = {channel}\n\
                 stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)\n\
                 print(stub.Predict(REQUEST, {timeout}, metadata=[{}]))\n",
                python_string(&body),
                headers.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientIdentity, Protocol};
    use crate::tensor::Tensor;

    fn inputs() -> NamedTensors {
        [(
            "image_bytes".to_string(),
            Tensor::new(vec![1], TensorData::String(vec![vec![0xff, 0xd8, 0xff]])).unwrap(),
        )]
        .into()
    }

    #[test]
    fn curl_is_a_runnable_command_with_the_b64_body() {
        let mut config = ClientConfig::new("localhost", 8501, Protocol::Rest).with_model("resnet");
        config.headers = vec![("X-Key".into(), "it's".into())];
        let text = curl(&config, &inputs());
        assert_eq!(
            text,
            "curl -sS --fail-with-body -X POST --max-time 30 -H 'X-Key: it'\\''s' \
             http://localhost:8501/v1/models/resnet:predict --data-binary @- <<'JSON'\n\
             {\"instances\": [{\"b64\": \"/9j/\"}]}\nJSON\n"
        );
        config.tls = Some(TlsOptions {
            accept_invalid_certs: true,
            ..Default::default()
        });
        assert!(curl(&config, &inputs()).contains(" -k https://localhost:8501/"));
    }

    #[test]
    fn grpc_json_follows_the_protobuf_json_mapping() {
        let mut config = ClientConfig::new("localhost", 8500, Protocol::Grpc).with_model("resnet");
        config.signature = Some("serving_default".into());
        config.version = VersionSelector::Version(7);
        let value = predict_request_json(&config, &inputs());
        assert_eq!(
            value["model_spec"],
            json!({"name": "resnet", "version": "7", "signature_name": "serving_default"})
        );
        assert_eq!(
            value["inputs"]["image_bytes"]["string_val"],
            json!(["/9j/"])
        );
        assert_eq!(
            value["inputs"]["image_bytes"]["tensor_shape"]["dim"][0]["size"],
            "1"
        );
        let floats: NamedTensors = [(
            "x".to_string(),
            Tensor::new(vec![1], TensorData::Float(vec![1.0])).unwrap(),
        )]
        .into();
        assert_eq!(
            predict_request_json(&config, &floats)["inputs"]["x"]["tensor_content"],
            "AACAPw=="
        );
        let text = grpcurl(&config, &inputs());
        assert!(text.contains("grpcurl -plaintext -max-time 30 -max-msg-sz 268435456 -d @ localhost:8500 tensorflow.serving.PredictionService/Predict <<'JSON'\n"), "{text}");
        let script = python(&config, &inputs());
        assert!(
            script.contains("grpc.insecure_channel(\"localhost:8500\")"),
            "{script}"
        );
        config.protocol = Protocol::Rest;
        config.port = 8501;
        let script = python(&config, &inputs());
        assert!(
            script.contains("URL = \"http://localhost:8501/v1/models/resnet/versions/7:predict\""),
            "{script}"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("plain"), "plain");
    }

    #[test]
    fn client_certificates_appear_in_every_snippet() {
        let mut config = ClientConfig::new("localhost", 8501, Protocol::Rest).with_model("resnet");
        config.tls = Some(TlsOptions {
            ca_file: Some("ca.pem".into()),
            client_identity: Some(ClientIdentity {
                cert_file: "my client.pem".into(),
                key_file: "client.key".into(),
            }),
            ..Default::default()
        });
        let text = curl(&config, &inputs());
        assert!(
            text.contains(" --cacert ca.pem --cert 'my client.pem' --key client.key https://"),
            "{text}"
        );
        let script = python(&config, &inputs());
        assert!(
            script.contains(", verify=\"ca.pem\", cert=(\"my client.pem\", \"client.key\"))"),
            "{script}"
        );
        config.protocol = Protocol::Grpc;
        let text = grpcurl(&config, &inputs());
        assert!(
            text.contains("grpcurl -cacert ca.pem -cert 'my client.pem' -key client.key -max-time"),
            "{text}"
        );
        let script = python(&config, &inputs());
        assert!(
            script.contains(
                "grpc.ssl_channel_credentials(root_certificates=open(\"ca.pem\", 'rb').read(), \
                 private_key=open(\"client.key\", 'rb').read(), \
                 certificate_chain=open(\"my client.pem\", 'rb').read())"
            ),
            "{script}"
        );
    }
}
