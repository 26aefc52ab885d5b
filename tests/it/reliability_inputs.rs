//! The bad-input suite, part 2: every bad REST request tfprobe knows of, in one
//! table. Each case asserts the HTTP status and a TF Serving error body whose
//! message names what was expected, then a good request on the same keep-alive
//! connection must succeed; no thread may panic. Part 1 (model files) is
//! tests/it/reliability_models.rs, part 3 (gRPC, resource limits, full queues)
//! tests/it/reliability_server.rs; docs/reliability.md lists every case.

use crate::support::fixture;
use crate::support::http::{Http, Reply};
use crate::support::panics::PanicWatch;
use crate::support::server::{config, start};
use crate::support::tf;
use tfprobe::server::ModelSource;

/// What a REST case must answer.
enum Expect {
    /// This status, with a TF Serving error body whose message contains this.
    Error(u16, &'static str),
    /// 200, with a body that contains this.
    Ok(&'static str),
}

struct RestCase {
    what: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<Vec<u8>>,
    expect: Expect,
}

fn post(what: &'static str, path: &str, body: &str, expect: Expect) -> RestCase {
    RestCase {
        what,
        method: "POST",
        path: path.to_string(),
        headers: Vec::new(),
        body: Some(body.as_bytes().to_vec()),
        expect,
    }
}

fn get(what: &'static str, path: &str, expect: Expect) -> RestCase {
    RestCase {
        what,
        method: "GET",
        path: path.to_string(),
        headers: Vec::new(),
        body: None,
        expect,
    }
}

impl RestCase {
    fn header(mut self, name: &'static str, value: &'static str) -> RestCase {
        self.headers.push((name, value));
        self
    }

    /// What is wrong with `reply`, if anything.
    fn mismatch(&self, reply: &Reply) -> Option<String> {
        let (status, needle) = match self.expect {
            Expect::Error(status, needle) => (status, needle),
            Expect::Ok(needle) => (200, needle),
        };
        let json = reply.header("content-type") == Some("application/json");
        let text = match self.expect {
            Expect::Error(..) if json => serde_json::from_str::<serde_json::Value>(&reply.body)
                .ok()
                .and_then(|body| body["error"].as_str().map(str::to_string)),
            Expect::Ok(_) => Some(reply.body.clone()),
            Expect::Error(..) => None,
        };
        match text {
            Some(text) if reply.status == status && text.contains(needle) => None,
            _ => Some(format!(
                "{}: expected {status} with {needle:?}, got {} {}",
                self.what, reply.status, reply.body
            )),
        }
    }
}

/// The good request run after every bad one: two_versions' version 2 on x = [1, 2].
const GOOD_PATH: &str = "/v1/models/half:predict";
const GOOD_BODY: &str = r#"{"instances": [1.0, 2.0]}"#;

/// Every bad REST request tfprobe knows of. Fixtures: resnet (seedlike: one
/// DT_STRING `image_bytes`), shapes (`fixed`: m float (2, 2), v int32 (3)),
/// half (two_versions: x float (-1)) and dtypes (one signature per dtype).
fn rest_cases() -> Vec<RestCase> {
    use Expect::{Error, Ok};
    let predict = "/v1/models/resnet:predict";
    let half = GOOD_PATH;
    let dtypes = "/v1/models/dtypes:predict";
    let batch_too_big = format!(r#"{{"instances": [{}1.0]}}"#, "1.0, ".repeat(1024));
    let big_body = format!(r#"{{"instances": ["{}"]}}"#, "x".repeat(70 * 1024));
    let deep = format!("{}{}", "[".repeat(600), "]".repeat(600));
    vec![
        // Invalid JSON.
        post(
            "truncated JSON",
            predict,
            r#"{"instances": [1,"#,
            Error(400, "JSON Parse error: Invalid value. at offset: 17"),
        ),
        post(
            "empty body",
            predict,
            "",
            Error(400, "JSON Parse error: The document is empty"),
        ),
        post("not an object", predict, "[1]", Error(400, "Is not object")),
        post(
            "bare word",
            predict,
            "hello",
            Error(400, "JSON Parse error: Invalid value. at offset: 0"),
        ),
        post(
            "unterminated string",
            predict,
            r#"{"instances": ["abc]}"#,
            Error(400, "JSON Parse error"),
        ),
        post(
            "nesting too deep",
            half,
            &format!(r#"{{"instances": {deep}}}"#),
            Error(400, "Nesting is too deep."),
        ),
        RestCase {
            body: Some(b"{\"instances\": [\"\xff\"]}".to_vec()),
            ..post(
                "invalid UTF-8",
                predict,
                "",
                Error(
                    400,
                    "JSON Parse error: Invalid encoding in string. at offset: 15",
                ),
            )
        },
        // Request layout.
        post(
            "no inputs",
            predict,
            r#"{"signature_name": "serving_default"}"#,
            Error(400, "Missing 'inputs' or 'instances' key"),
        ),
        post(
            "both layouts",
            predict,
            r#"{"instances": [1], "inputs": [1]}"#,
            Error(400, "expecting only one of 'inputs' or 'instances' keys"),
        ),
        post(
            "empty instances",
            predict,
            r#"{"instances": []}"#,
            Error(400, "No values in 'instances' array"),
        ),
        post(
            "instances not a list",
            predict,
            r#"{"instances": 3}"#,
            Error(400, "Expecting 'instances' to be an list/array"),
        ),
        post(
            "signature_name not a string",
            predict,
            r#"{"signature_name": 3, "instances": [1]}"#,
            Error(400, "'signature_name' key must be a string value"),
        ),
        post(
            "missing named input",
            "/v1/models/shapes:predict",
            r#"{"signature_name": "fixed", "inputs": {"m": [[1.0, 2.0], [3.0, 4.0]]}}"#,
            Error(
                400,
                "Missing named input: v in 'inputs' object. (the signature's inputs are: m,v)",
            ),
        ),
        post(
            "unknown named input",
            "/v1/models/shapes:predict",
            r#"{"signature_name": "fixed", "instances": [{"m": [1.0, 2.0], "w": 1}]}"#,
            Error(400, "does not have named input: w"),
        ),
        post(
            "plain list for several inputs",
            "/v1/models/shapes:predict",
            r#"{"signature_name": "fixed", "instances": [1.0]}"#,
            Error(
                400,
                "instances is a plain list, but expecting list of objects",
            ),
        ),
        // Types, shapes and values.
        post(
            "number for a string input",
            predict,
            r#"{"instances": [1.5]}"#,
            Error(
                400,
                "JSON Value: 1.5 Type: Number is not of expected type: string",
            ),
        ),
        post(
            "string for a float input",
            half,
            r#"{"instances": ["one"]}"#,
            Error(400, "Type: String is not of expected type: float"),
        ),
        post(
            "null for a float input",
            half,
            r#"{"instances": [null]}"#,
            Error(400, "Type: Null is not of expected type: float"),
        ),
        post(
            "fraction for an int32 input",
            "/v1/models/shapes:predict",
            r#"{"signature_name": "fixed", "inputs": {"m": [[1.0, 2.0], [3.0, 4.0]], "v": [1, 2.5, 3]}}"#,
            Error(
                400,
                "JSON Value: 2.5 Type: Number is not of expected type: int32",
            ),
        ),
        post(
            "ragged list",
            "/v1/models/shapes:predict",
            r#"{"signature_name": "fixed", "inputs": {"m": [[1.0, 2.0], [3.0]], "v": [1, 2, 3]}}"#,
            Error(
                400,
                "Encountered list at unexpected size: 1 at level: 1 expected size: 2",
            ),
        ),
        post(
            "ragged depth",
            half,
            r#"{"inputs": [[1.0], 2.0]}"#,
            Error(400, "found at incorrect level"),
        ),
        post(
            "shape mismatch",
            "/v1/models/shapes:predict",
            r#"{"signature_name": "fixed", "inputs": {"m": [[1.0, 2.0, 3.0]], "v": [1, 2, 3]}}"#,
            Error(400, "input 'm' expects shape (2, 2) but got [1, 3]"),
        ),
        post(
            "rank mismatch",
            half,
            r#"{"inputs": [[1.0, 2.0]]}"#,
            Error(400, "input 'x' expects shape (-1) but got [1, 2]"),
        ),
        post(
            "bad base64",
            predict,
            r#"{"instances": [{"b64": "***"}]}"#,
            Error(400, "Unable to base64 decode"),
        ),
        post(
            "b64 not a string",
            predict,
            r#"{"instances": [{"b64": 7}]}"#,
            Error(
                400,
                "does not have named input: b64 (the signature's inputs are: image_bytes)",
            ),
        ),
        post(
            "bytes that are not an image",
            predict,
            r#"{"instances": [{"b64": "aGVsbG8="}]}"#,
            Error(
                400,
                "Unknown image file format. One of JPEG, JPEG XL, PNG, GIF, BMP, WebP required.",
            ),
        ),
        post(
            "int32 out of range",
            dtypes,
            r#"{"signature_name": "int32", "instances": [2147483648]}"#,
            Error(
                400,
                "JSON Value: 2147483648 Type: Number is not of expected type: int32",
            ),
        ),
        post(
            "integer beyond uint64",
            dtypes,
            r#"{"signature_name": "int64", "instances": [123456789012345678901234567890]}"#,
            Error(400, "is not of expected type: int64"),
        ),
        post(
            "number beyond double",
            half,
            r#"{"instances": [1e400]}"#,
            Error(400, "Number too big to be stored in double."),
        ),
        post(
            "NaN and infinities are values",
            half,
            r#"{"instances": [NaN, Infinity, -Infinity]}"#,
            Ok("NaN"),
        ),
        post(
            "float overflowing float32 reads as Infinity",
            half,
            r#"{"instances": [1e39]}"#,
            Ok("Infinity"),
        ),
        post(
            "batch over the limit",
            half,
            &batch_too_big,
            Error(
                400,
                "Task size 1025 is larger than maximum input batch size 1024",
            ),
        ),
        // Models, versions, labels, signatures.
        post(
            "unknown model",
            "/v1/models/nope:predict",
            r#"{"instances": [1]}"#,
            Error(404, "Servable not found for request: Latest(nope)"),
        ),
        post(
            "unknown version",
            "/v1/models/resnet/versions/7:predict",
            r#"{"instances": [1]}"#,
            Error(404, "Servable not found for request: Specific(resnet, 7)"),
        ),
        post(
            "unknown label",
            "/v1/models/resnet/labels/stable:predict",
            r#"{"instances": [1]}"#,
            Error(400, "Unrecognized servable version label: stable"),
        ),
        post(
            "unknown signature",
            predict,
            r#"{"signature_name": "nope", "instances": [1]}"#,
            Error(
                400,
                "Serving signature name: \"nope\" not found in signature def",
            ),
        ),
        get(
            "status of an unknown model",
            "/v1/models/nope",
            Error(404, "Could not find any versions of model nope"),
        ),
        get(
            "status of an unknown version",
            "/v1/models/resnet/versions/3",
            Error(404, "Could not find version 3 of model resnet"),
        ),
        get(
            "metadata of an unknown model",
            "/v1/models/nope/metadata",
            Error(404, "Servable not found for request: Latest(nope)"),
        ),
        // Paths that try to leave the API: model names are keys of the served set, never
        // file paths, so nothing outside the configured model folders is read.
        get(
            "dot-dot segments",
            "/v1/models/resnet/../../../etc/passwd",
            Error(
                400,
                "Malformed request: GET /v1/models/resnet/../../../etc/passwd",
            ),
        ),
        get(
            "encoded traversal as a model name",
            "/v1/models/..%2F..%2F..%2Fetc%2Fpasswd",
            Error(
                404,
                "Could not find any versions of model ../../../etc/passwd",
            ),
        ),
        get(
            "absolute path as a model name",
            "/v1/models/%2Fetc%2Fpasswd/metadata",
            Error(404, "Servable not found for request: Latest(/etc/passwd)"),
        ),
        // Malformed URLs and methods.
        get(
            "no model name",
            "/v1/models",
            Error(400, "Missing model name in request."),
        ),
        get(
            "outside the API",
            "/elsewhere",
            Error(404, "/v1/models/<name>"),
        ),
        post(
            "unknown verb",
            "/v1/models/resnet:explode",
            "{}",
            Error(400, "Malformed request: POST /v1/models/resnet:explode"),
        ),
        post(
            "predict without a verb",
            "/v1/models/resnet",
            "{}",
            Error(400, "Malformed request: POST /v1/models/resnet"),
        ),
        post(
            "non-numeric version",
            "/v1/models/resnet/versions/abc:predict",
            "{}",
            Error(400, "Malformed request"),
        ),
        post(
            "version beyond int64",
            "/v1/models/resnet/versions/99999999999999999999:predict",
            "{}",
            Error(
                400,
                "Failed to convert version: 99999999999999999999 to numeric.",
            ),
        ),
        post(
            "name that is not UTF-8",
            "/v1/models/%FF:predict",
            "{}",
            Error(400, "Failed to decode model name:%FF"),
        ),
        post(
            "invalid escape",
            "/v1/models/%ZZ:predict",
            r#"{"instances": [1]}"#,
            Error(404, "Latest(%ZZ)"),
        ),
        get(
            "trailing slash",
            "/v1/models/resnet/",
            Error(400, "Malformed request: GET /v1/models/resnet/"),
        ),
        RestCase {
            method: "PUT",
            ..post(
                "PUT",
                "/v1/models/resnet",
                "{}",
                Error(400, "Malformed request: PUT /v1/models/resnet"),
            )
        },
        RestCase {
            method: "DELETE",
            ..get(
                "DELETE",
                "/v1/models/resnet",
                Error(400, "Malformed request: DELETE /v1/models/resnet"),
            )
        },
        post(
            ":classify without examples",
            "/v1/models/resnet:classify",
            "{}",
            Error(
                400,
                "JSON Value: {} When method is classify, key 'examples' is expected and was not found",
            ),
        ),
        post(
            ":regress on a predict signature",
            "/v1/models/resnet:regress",
            r#"{"examples": [{"x": 1.0}]}"#,
            Error(400, "Expected one output Tensor."),
        ),
        // Sizes and content types.
        post(
            "body over --max_request_bytes",
            predict,
            &big_body,
            Error(
                413,
                "request body is larger than 65536 bytes; start the server with a larger --max_request_bytes",
            ),
        ),
        post(
            "text/plain is accepted like TF Serving",
            half,
            GOOD_BODY,
            Ok("predictions"),
        )
        .header("Content-Type", "text/plain"),
        post(
            "form content type is accepted",
            half,
            GOOD_BODY,
            Ok("predictions"),
        )
        .header("Content-Type", "application/x-www-form-urlencoded"),
        post(
            "JSON content type, body not JSON",
            half,
            "a=1&b=2",
            Error(400, "JSON Parse error: Invalid value. at offset: 0"),
        )
        .header("Content-Type", "application/json"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_bad_requests_answer_tf_serving_errors_and_the_server_keeps_serving() {
    let panics = PanicWatch::install();
    tf::ensure_runtime();
    let mut config = config(vec![
        ModelSource::new("resnet", fixture("seedlike")),
        ModelSource::new("shapes", fixture("shapes")),
        ModelSource::new("half", fixture("two_versions")),
        ModelSource::new("dtypes", fixture("dtypes")),
    ]);
    config.max_request_bytes = 64 * 1024;
    let server = start(config).await;
    let addr = server.rest_addr().unwrap();
    let mut http = Http::connect(addr);
    let cases = rest_cases();
    let mut mismatches = Vec::new();
    for case in &cases {
        let reply =
            http.send_with_headers(case.method, &case.path, &case.headers, case.body.as_deref());
        mismatches.extend(case.mismatch(&reply));
        // Same keep-alive connection: the bad request left it usable.
        let good = http.post(GOOD_PATH, GOOD_BODY);
        assert_eq!(good.status, 200, "after {}: {}", case.what, good.body);
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    eprintln!("{} REST cases checked", cases.len());
    raw_http_garbage_closes_only_its_connection(addr);
    server.shutdown().await;
    panics.assert_none();
}

/// Bytes that are not HTTP get hyper's 400 and a closed connection; other
/// connections are unaffected.
fn raw_http_garbage_closes_only_its_connection(addr: std::net::SocketAddr) {
    use std::io::{Read, Write};
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"POST /v1/models/half:predict HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        b"\x00\xff\x16\x03\x01 binary\r\n\r\n",
    ] {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        stream.write_all(garbage).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{garbage:?} answered {answer:?}"
        );
        let good = Http::connect(addr).post(GOOD_PATH, GOOD_BODY);
        assert_eq!(good.status, 200, "after {garbage:?}: {}", good.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_limit_follows_the_server_setting() {
    let panics = PanicWatch::install();
    tf::ensure_runtime();
    let mut config = config(vec![ModelSource::new("half", fixture("two_versions"))]);
    config.max_batch_size = 2;
    let server = start(config).await;
    let mut http = Http::connect(server.rest_addr().unwrap());
    let two_rows = http.post(GOOD_PATH, r#"{"instances": [1.0, 2.0]}"#);
    assert_eq!(two_rows.status, 200, "{}", two_rows.body);
    let three_rows = http.post(GOOD_PATH, r#"{"instances": [1.0, 2.0, 3.0]}"#);
    assert_eq!(three_rows.status, 400, "{}", three_rows.body);
    assert!(
        three_rows.body.contains(
            "Task size 3 is larger than maximum input batch size 2: input 'x' has 3 rows (its first dimension); split the request into batches of at most 2, or raise --max_batch_size"
        ),
        "{}",
        three_rows.body
    );
    server.shutdown().await;
    panics.assert_none();
}
