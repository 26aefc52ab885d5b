//! The targets `compare` reads from a spec: a SavedModel folder or base path on this
//! machine (`PATH`, `PATH@VERSION`), a TF Serving REST URL
//! (`http(s)://HOST:PORT/v1/models/NAME[/versions/N]`) or a gRPC one
//! (`grpc(s)://HOST:PORT/NAME[@VERSION]`). KServe V2 URLs are refused with a clear
//! message until the V2 client exists.

use super::WorkflowError;
use super::target::{AnyTarget, LocalTarget, ServerTarget, Target};
use crate::client::{ClientConfig, Protocol, VersionSelector};
use crate::model::SavedModelInfo;
use crate::runtime::LoadOptions;
use std::path::{Path, PathBuf};

/// The forms a target spec may take, for error messages.
pub const ACCEPTED_TARGETS: &str = "a SavedModel folder or base path (PATH or PATH@VERSION), \
     a REST URL http(s)://HOST:PORT/v1/models/NAME[/versions/N], \
     or a gRPC URL grpc(s)://HOST:PORT/NAME[@VERSION]";

/// What a `--target` names.
#[derive(Clone, Debug, PartialEq)]
pub enum TargetSpec {
    /// A model on this machine: a version folder, or a base path with an optional version.
    Local { path: PathBuf, version: Option<i64> },
    /// A TF Serving-compatible server (REST or gRPC, TLS or not).
    Server(Box<ClientConfig>),
}

fn bad_spec(spec: &str, why: &str) -> WorkflowError {
    WorkflowError::Setting(format!(
        "target '{spec}': {why}; expected {ACCEPTED_TARGETS}"
    ))
}

fn v2_refused(spec: &str) -> WorkflowError {
    WorkflowError::Setting(format!(
        "target '{spec}': KServe V2 (Open Inference Protocol) targets are not supported yet; \
         use a TF Serving v1 REST URL (http://HOST:PORT/v1/models/NAME) or a gRPC URL \
         (grpc://HOST:PORT/NAME)"
    ))
}

fn parse_version(spec: &str, text: &str) -> Result<i64, WorkflowError> {
    text.parse::<i64>()
        .ok()
        .filter(|version| *version > 0)
        .ok_or_else(|| bad_spec(spec, &format!("version '{text}' is not a positive number")))
}

/// Reads a target spec. Local paths are checked to exist; servers are not contacted.
pub fn parse_target(spec: &str) -> Result<TargetSpec, WorkflowError> {
    let text = spec.trim();
    if text.is_empty() {
        return Err(bad_spec(spec, "it is empty"));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return parse_local(spec, text);
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.trim_end_matches('/');
    let scheme = scheme.to_ascii_lowercase();
    let (protocol, name, version) = match scheme.as_str() {
        "v2" | "v2s" => return Err(v2_refused(spec)),
        "http" | "https" => {
            if path == "v2" || path.starts_with("v2/") {
                return Err(v2_refused(spec));
            }
            let parts: Vec<&str> = path.split('/').collect();
            match parts.as_slice() {
                ["v1", "models", name] => (Protocol::Rest, *name, None),
                ["v1", "models", name, "versions", version] => {
                    (Protocol::Rest, *name, Some(parse_version(spec, version)?))
                }
                _ => {
                    return Err(bad_spec(
                        spec,
                        "a REST URL needs the path /v1/models/NAME[/versions/N]",
                    ));
                }
            }
        }
        "grpc" | "grpcs" => match path.split_once('@') {
            Some((name, version)) => (Protocol::Grpc, name, Some(parse_version(spec, version)?)),
            None => (Protocol::Grpc, path, None),
        },
        other => return Err(bad_spec(spec, &format!("unknown scheme '{other}://'"))),
    };
    if name.is_empty() || name.contains('/') {
        return Err(bad_spec(spec, "no model name in the URL"));
    }
    let base = format!("{scheme}://{authority}");
    let mut config = ClientConfig::parse_target(&base, protocol)
        .map_err(|err| bad_spec(spec, &err.to_string()))?
        .with_model(name);
    if let Some(version) = version {
        config.version = VersionSelector::Version(version);
    }
    Ok(TargetSpec::Server(Box::new(config)))
}

fn parse_local(spec: &str, text: &str) -> Result<TargetSpec, WorkflowError> {
    let (path, version) = match text.rsplit_once('@') {
        Some((path, version))
            if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit()) =>
        {
            (path, Some(parse_version(spec, version)?))
        }
        _ => (text, None),
    };
    let path = PathBuf::from(path);
    if !path.is_dir() {
        return Err(bad_spec(spec, "no such folder"));
    }
    if let Some(version) = version {
        let dir = path.join(version.to_string());
        if !dir.is_dir() {
            return Err(bad_spec(
                spec,
                &format!("{} has no version folder {version}", path.display()),
            ));
        }
    }
    Ok(TargetSpec::Local { path, version })
}

impl TargetSpec {
    /// The spec as a user would write it again (reports, table headers).
    pub fn describe(&self) -> String {
        match self {
            TargetSpec::Local {
                path,
                version: Some(version),
            } => format!("{}@{version}", path.display()),
            TargetSpec::Local {
                path,
                version: None,
            } => path.display().to_string(),
            TargetSpec::Server(config) => {
                let tls = config.tls.is_some();
                match config.protocol {
                    Protocol::Rest => {
                        let version = match &config.version {
                            VersionSelector::Version(version) => format!("/versions/{version}"),
                            _ => String::new(),
                        };
                        format!(
                            "{}/v1/models/{}{version}",
                            config.base_url(),
                            config.model_name
                        )
                    }
                    Protocol::Grpc => {
                        let version = match &config.version {
                            VersionSelector::Version(version) => format!("@{version}"),
                            _ => String::new(),
                        };
                        let scheme = if tls { "grpcs" } else { "grpc" };
                        format!(
                            "{scheme}://{}/{}{version}",
                            config.authority(),
                            config.model_name
                        )
                    }
                }
            }
        }
    }
}

impl TargetSpec {
    /// Trusts `ca_file` for this target when it speaks TLS; whether it does.
    pub fn trust_ca(&mut self, ca_file: &Path) -> bool {
        match self {
            TargetSpec::Server(config) => match &mut config.tls {
                Some(tls) => {
                    tls.ca_file = Some(ca_file.to_path_buf());
                    true
                }
                None => false,
            },
            TargetSpec::Local { .. } => false,
        }
    }
}

/// One opened side of a comparison.
#[derive(Clone)]
pub struct Side {
    /// The spec as written again ([`TargetSpec::describe`]), or the app's name for it.
    pub label: String,
    pub target: AnyTarget,
    pub model: SavedModelInfo,
    /// The version folder when the model is on this machine (labels, preprocessing.json).
    pub model_dir: Option<PathBuf>,
}

impl Side {
    /// A side over a target the front end already holds (the app's current target).
    pub async fn from_target(
        label: String,
        target: AnyTarget,
        model_dir: Option<PathBuf>,
    ) -> Result<Side, WorkflowError> {
        let model = target.model().await?;
        Ok(Side {
            label,
            target,
            model,
            model_dir,
        })
    }
}

/// The folder a local spec loads: `PATH/VERSION`, or `PATH` itself (a version folder,
/// or a base path whose highest version loads).
pub fn local_dir(path: &Path, version: Option<i64>) -> PathBuf {
    match version {
        Some(version) => path.join(version.to_string()),
        None => path.to_path_buf(),
    }
}

/// Opens a target: loads a local model (off the async threads) or connects to a server
/// and asks it for the model's signatures. `timeout` bounds each call to a server.
pub async fn open(spec: &TargetSpec, timeout: std::time::Duration) -> Result<Side, WorkflowError> {
    let label = spec.describe();
    match spec {
        TargetSpec::Local { path, version } => {
            let dir = local_dir(path, *version);
            let target = tokio::task::spawn_blocking(move || {
                LocalTarget::load(&dir, &LoadOptions::default())
            })
            .await
            .map_err(|join| WorkflowError::interrupted("loading the model", join))??;
            let model_dir = Some(target.info().path.clone());
            Side::from_target(label, AnyTarget::Local(target), model_dir).await
        }
        TargetSpec::Server(config) => {
            let mut config = (**config).clone();
            config.timeout = timeout;
            config.connect_timeout = timeout.min(std::time::Duration::from_secs(5));
            let target = ServerTarget::connect(&config)?;
            let side = Side::from_target(label, AnyTarget::Server(Box::new(target)), None).await;
            side.map_err(|err| {
                WorkflowError::Setting(format!(
                    "target '{}': cannot read the model's signatures: {err}",
                    spec.describe()
                ))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(spec: &str) -> ClientConfig {
        match parse_target(spec).unwrap() {
            TargetSpec::Server(config) => *config,
            other => panic!("{spec}: {other:?}"),
        }
    }

    #[test]
    fn urls_name_protocol_model_version_and_tls() {
        let rest = server("http://127.0.0.1:8501/v1/models/resnet/versions/3");
        assert_eq!(
            (
                rest.protocol,
                rest.authority(),
                rest.model_name.as_str(),
                rest.version.clone(),
                rest.tls.is_some()
            ),
            (
                Protocol::Rest,
                "127.0.0.1:8501".to_string(),
                "resnet",
                VersionSelector::Version(3),
                false
            )
        );
        let grpc = server("grpcs://[::1]:8500/resnet@2");
        assert_eq!(
            (
                grpc.protocol,
                grpc.authority(),
                grpc.model_name.as_str(),
                grpc.version.clone(),
                grpc.tls.is_some()
            ),
            (
                Protocol::Grpc,
                "[::1]:8500".to_string(),
                "resnet",
                VersionSelector::Version(2),
                true
            )
        );
        let latest = server("https://host:443/v1/models/m/");
        assert_eq!(latest.version, VersionSelector::Latest);
        for spec in [
            "http://127.0.0.1:8501/v1/models/resnet/versions/3",
            "grpcs://[::1]:8500/resnet@2",
            "grpc://h:1/m",
        ] {
            assert_eq!(parse_target(spec).unwrap().describe(), spec);
        }
    }

    #[test]
    fn bad_specs_name_the_accepted_forms_and_v2_is_refused_plainly() {
        let err = parse_target("ftp://host/model").unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "target 'ftp://host/model': unknown scheme 'ftp://'; expected {ACCEPTED_TARGETS}"
            )
        );
        let err = parse_target("http://h:8501/models/m")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/v1/models/NAME[/versions/N]") && err.ends_with(ACCEPTED_TARGETS),
            "{err}"
        );
        let err = parse_target("/nonexistent/model@3")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("target '/nonexistent/model@3': no such folder; expected {ACCEPTED_TARGETS}")
        );
        for spec in ["http://h:8000/v2/models/m", "v2://h:8001/m"] {
            let err = parse_target(spec).unwrap_err().to_string();
            assert!(err.contains("KServe V2"), "{err}");
            assert!(err.contains("not supported yet"), "{err}");
        }
        let err = parse_target("grpc://h:1/m@x").unwrap_err().to_string();
        assert!(
            err.contains("version 'x' is not a positive number"),
            "{err}"
        );
    }

    #[test]
    fn local_specs_take_a_version_folder_that_exists() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("7")).unwrap();
        let spec = format!("{}@7", dir.path().display());
        assert_eq!(
            parse_target(&spec).unwrap(),
            TargetSpec::Local {
                path: dir.path().to_path_buf(),
                version: Some(7)
            }
        );
        assert_eq!(parse_target(&spec).unwrap().describe(), spec);
        let err = parse_target(&format!("{}@8", dir.path().display()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no version folder 8"), "{err}");
        assert_eq!(local_dir(dir.path(), Some(7)), dir.path().join("7"));
    }
}
