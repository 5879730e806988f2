//! The IONOS config file, as the IONOS Go SDK bundle and `ionosctl` read it:
//! profiles with credentials, and environments with each product's endpoints.
//!
//! ```
//! use std::path::Path;
//! use activitylog_client::ConfigFile;
//! let text = "\
//! version: 1.0
//! currentProfile: prod
//! profiles:
//!   - name: prod
//!     environment: prod
//!     credentials:
//!       token: my-token
//! environments:
//!   - name: prod
//!     products:
//!       - name: activitylog
//!         endpoints:
//!           - name: https://api.ionos.com/activitylog/v1
//!             location: ''
//! ";
//! let file = ConfigFile::parse(text, Path::new("config")).unwrap();
//! let profile = file.profile("prod").unwrap();
//! let endpoint = file.endpoint(profile).unwrap().unwrap();
//! assert_eq!(endpoint.url(), "https://api.ionos.com");
//! assert!(!format!("{file:?}").contains("my-token"));
//! ```
//!
//! TLS settings (`skipTlsVerify`, `certificateAuthData`) are applied by
//! [`Settings::resolve`](crate::Settings::resolve) when the API URL is the
//! endpoint's.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

/// Environment variable: the path of the config file (default `~/.ionos/config`).
pub const ENV_CONFIG_FILE: &str = "IONOS_CONFIG_FILE";
/// Environment variable: the profile to use (default: the file's `currentProfile`).
pub const ENV_CURRENT_PROFILE: &str = "IONOS_CURRENT_PROFILE";
/// The product name of the Activity Log in the file's `environments[].products[]`.
pub const PRODUCT: &str = "activitylog";

/// An IONOS config file. Unknown fields are ignored; `Debug` redacts secrets.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConfigFile {
    /// The file's format version, as written (`1.0`).
    #[serde(default, deserialize_with = "scalar")]
    pub version: Option<String>,
    /// The profile used when neither `--profile` nor `IONOS_CURRENT_PROFILE` names one.
    #[serde(default, deserialize_with = "scalar")]
    pub current_profile: Option<String>,
    /// The profiles.
    #[serde(default, deserialize_with = "or_default")]
    pub profiles: Vec<Profile>,
    /// The environments the profiles refer to.
    #[serde(default, deserialize_with = "or_default")]
    pub environments: Vec<Environment>,
    #[serde(skip)]
    path: PathBuf,
    #[serde(skip)]
    from_env: bool,
}

/// One profile: credentials, and the environment whose endpoints to use.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Profile {
    /// The profile's name.
    #[serde(default, deserialize_with = "scalar_or_empty")]
    pub name: String,
    /// The name of an entry of `environments` (none: the default endpoint).
    #[serde(default, deserialize_with = "scalar")]
    pub environment: Option<String>,
    /// The credentials.
    #[serde(default, deserialize_with = "or_default")]
    pub credentials: FileCredentials,
}

/// A profile's credentials: a token, or a user name and password.
#[derive(Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct FileCredentials {
    /// The user name for Basic auth.
    #[serde(default, deserialize_with = "scalar")]
    pub username: Option<String>,
    /// The password for Basic auth.
    #[serde(default, deserialize_with = "secret")]
    pub password: Option<SecretString>,
    /// A token, sent as `Authorization: Bearer` (preferred over the password).
    #[serde(default, deserialize_with = "secret")]
    pub token: Option<SecretString>,
}

impl fmt::Debug for FileCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |secret: &Option<SecretString>| secret.as_ref().map(|_| "[REDACTED]");
        f.debug_struct("FileCredentials")
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("token", &redacted(&self.token))
            .finish()
    }
}

/// An environment: the endpoints of each product.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Environment {
    /// The environment's name.
    #[serde(default, deserialize_with = "scalar_or_empty")]
    pub name: String,
    /// A CA certificate (PEM, base64-encoded) trusted for all its endpoints.
    #[serde(default, deserialize_with = "scalar")]
    pub certificate_auth_data: Option<String>,
    /// The products.
    #[serde(default, deserialize_with = "or_default")]
    pub products: Vec<Product>,
}

/// A product (`activitylog`, `cloud`, `dns`, ...) and its endpoints.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Product {
    /// The product's name.
    #[serde(default, deserialize_with = "scalar_or_empty")]
    pub name: String,
    /// Its endpoints.
    #[serde(default, deserialize_with = "or_default")]
    pub endpoints: Vec<Endpoint>,
}

/// One endpoint of a product.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Endpoint {
    /// The endpoint: a host, a URL, or a URL with the API's path.
    #[serde(default, deserialize_with = "scalar_or_empty")]
    pub name: String,
    /// The location (`de/fra`, ...); empty for the global endpoint.
    #[serde(default, deserialize_with = "scalar")]
    pub location: Option<String>,
    /// Whether to skip certificate verification (warned about on every run).
    #[serde(default, deserialize_with = "or_default")]
    pub skip_tls_verify: bool,
    /// A CA certificate (PEM, base64-encoded) for this endpoint; wins over the environment's.
    #[serde(default, deserialize_with = "scalar")]
    pub certificate_auth_data: Option<String>,
}

impl Endpoint {
    /// The endpoint as a base URL, normalized like `IONOS_API_URL`.
    pub fn url(&self) -> String {
        crate::config::normalize_api_url(&self.name)
    }

    /// Whether this is the global endpoint (no location).
    pub fn is_global(&self) -> bool {
        self.location.as_deref().is_none_or(|l| l.trim().is_empty())
    }
}

impl ConfigFile {
    /// Parses the text of a config file read from `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile> {
        let parsed = crate::yaml::parse(text).and_then(Option::<ConfigFile>::deserialize);
        let mut file = match parsed {
            Ok(Some(file)) => file,
            // An empty file (or only comments).
            Ok(None) => ConfigFile::default(),
            Err(error) => return Err(file_error(path, error.to_string())),
        };
        file.path = path.to_path_buf();
        Ok(file)
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<ConfigFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| file_error(path, format!("could not be read: {e}")))?;
        ConfigFile::parse(&text, path)
    }

    /// Where the config file is, reading variables through `lookup`:
    /// `IONOS_CONFIG_FILE`, else `~/.ionos/config`, else `~/.ionos/config.yaml`
    /// when only that one exists. `None` when there is no such file; the
    /// flag says whether `IONOS_CONFIG_FILE` named it.
    pub fn locate(lookup: impl Fn(&str) -> Option<String>) -> Option<(PathBuf, bool)> {
        if let Some(path) = lookup(ENV_CONFIG_FILE).filter(|p| !p.trim().is_empty()) {
            return Some((PathBuf::from(path), true));
        }
        let dir = default_dir(&lookup)?;
        [dir.join("config"), dir.join("config.yaml")]
            .into_iter()
            .find(|path| path.is_file())
            .map(|path| (path, false))
    }

    /// The config file [`ConfigFile::locate`] finds, loaded; `None` when
    /// there is none. A file `IONOS_CONFIG_FILE` names must exist.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<ConfigFile>> {
        let Some((path, from_env)) = ConfigFile::locate(lookup) else {
            return Ok(None);
        };
        if from_env && !path.exists() {
            return Err(file_error(
                &path,
                format!("does not exist (named by {ENV_CONFIG_FILE})"),
            ));
        }
        let mut file = ConfigFile::load(&path)?;
        file.from_env = from_env;
        Ok(Some(file))
    }

    /// The path the file was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `IONOS_CONFIG_FILE` named the file (else it is the default location).
    pub fn named_by_env(&self) -> bool {
        self.from_env
    }

    /// The names of the profiles, in file order.
    pub fn profile_names(&self) -> Vec<&str> {
        self.profiles.iter().map(|p| p.name.as_str()).collect()
    }

    /// The profile called `name`; the error lists the profiles there are.
    pub fn profile(&self, name: &str) -> Result<&Profile> {
        self.profiles
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                let names = self.profile_names();
                let there = if names.is_empty() {
                    "it has no profiles".to_string()
                } else {
                    format!("it has: {}", names.join(", "))
                };
                file_error(&self.path, format!("no profile `{name}`: {there}"))
            })
    }

    /// The `activitylog` endpoint of `profile`'s environment: the global one
    /// (no location), else the first. `None` when the profile names no
    /// environment or the environment lists no `activitylog` endpoint.
    pub fn endpoint(&self, profile: &Profile) -> Result<Option<&Endpoint>> {
        let Some(name) = profile
            .environment
            .as_deref()
            .filter(|n| !n.trim().is_empty())
        else {
            return Ok(None);
        };
        let environment = self
            .environments
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| {
                file_error(
                    &self.path,
                    format!(
                        "profile `{}` names environment `{name}`, which is not in `environments`",
                        profile.name
                    ),
                )
            })?;
        let endpoints: Vec<&Endpoint> = environment
            .products
            .iter()
            .filter(|p| p.name.eq_ignore_ascii_case(PRODUCT))
            .flat_map(|p| p.endpoints.iter())
            .filter(|e| !e.name.trim().is_empty())
            .collect();
        Ok(endpoints
            .iter()
            .find(|e| e.is_global())
            .or(endpoints.first())
            .copied())
    }
}

/// `~/.ionos`, from `HOME` (or `USERPROFILE` on Windows).
pub(crate) fn default_dir(lookup: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    lookup("HOME")
        .or_else(|| lookup("USERPROFILE"))
        .filter(|home| !home.trim().is_empty())
        .map(|home| PathBuf::from(home).join(".ionos"))
}

pub(crate) fn file_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::ConfigFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// A missing or `null` value is the default.
fn or_default<'de, D, T>(deserializer: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A scalar (string, number or boolean) as text.
fn scalar<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<String>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_string<E>(self, v: String) -> std::result::Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_bool<E>(self, v: bool) -> std::result::Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E>(self, v: i64) -> std::result::Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E>(self, v: u64) -> std::result::Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E>(self, v: f64) -> std::result::Result<Self::Value, E> {
            Ok(Some(format!("{v:?}")))
        }
        fn visit_none<E>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> std::result::Result<Self::Value, D::Error> {
            deserializer.deserialize_any(Visitor)
        }
    }
    deserializer.deserialize_option(Visitor)
}

fn scalar_or_empty<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<String, D::Error> {
    Ok(scalar(deserializer)?.unwrap_or_default())
}

fn secret<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<SecretString>, D::Error> {
    Ok(scalar(deserializer)?
        .filter(|s| !s.trim().is_empty())
        .map(SecretString::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const SAMPLE: &str = "\
version: 1.0
currentProfile: user
somethingNew: { nested: [1, 2] }
profiles:
  - name: user
    environment: prod
    credentials:
      username: me@example.com
      password: hunter2
  - name: robot
    environment: staging
    extra: ignored
    credentials:
      token: s3cr3t-token
environments:
  - name: prod
    certificateAuthData: ''
    products:
      - name: cloud
        endpoints:
          - name: https://api.ionos.com/cloudapi/v6
      - name: activitylog
        endpoints:
          - name: activitylog.example.com
            location: de/fra
          - name: https://api.example.com/activitylog/v1/
            location: ''
            skipTlsVerify: true
  - name: staging
    products:
      - name: activitylog
        endpoints:
          - name: http://127.0.0.1:8080
            location: de/txl
";

    fn sample() -> ConfigFile {
        ConfigFile::parse(SAMPLE, Path::new("/home/me/.ionos/config")).unwrap()
    }

    #[test]
    fn profiles_and_endpoints_are_read_and_unknown_fields_ignored() {
        let file = sample();
        assert_eq!(file.version.as_deref(), Some("1.0"));
        assert_eq!(file.current_profile.as_deref(), Some("user"));
        assert_eq!(file.profile_names(), ["user", "robot"]);
        let user = file.profile("user").unwrap();
        assert_eq!(user.credentials.username.as_deref(), Some("me@example.com"));
        let endpoint = file.endpoint(user).unwrap().unwrap();
        assert_eq!(endpoint.url(), "https://api.example.com");
        assert!(endpoint.skip_tls_verify);
        let robot = file.profile("robot").unwrap();
        let token = robot.credentials.token.as_ref().unwrap();
        assert_eq!(token.expose_secret(), "s3cr3t-token");
        // Only a located endpoint: it is used.
        let endpoint = file.endpoint(robot).unwrap().unwrap();
        assert_eq!(endpoint.url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let shown = format!("{:?}", sample());
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cr3t"),
            "{shown}"
        );
        assert!(shown.contains("me@example.com"), "{shown}");
    }

    #[test]
    fn a_missing_profile_lists_the_profiles() {
        let message = sample().profile("nope").unwrap_err().to_string();
        assert!(message.contains("/home/me/.ionos/config"), "{message}");
        assert!(
            message.contains("`nope`") && message.contains("user, robot"),
            "{message}"
        );
    }

    #[test]
    fn a_malformed_file_is_named_with_its_line_and_no_secret() {
        let text = "profiles:\n  - name: a\n    credentials:\n      token: hunter2\n   bad: [\n";
        let message = ConfigFile::parse(text, Path::new("/x/config"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("/x/config"), "{message}");
        assert!(message.contains("line 5"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(!message.contains('\n'), "{message}");
        let message = ConfigFile::parse("profiles: 5\n", Path::new("/x/config"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("line 1"), "{message}");
    }

    #[test]
    fn empty_and_null_parts_are_empty() {
        let file = ConfigFile::parse("", Path::new("c")).unwrap();
        assert!(file.profiles.is_empty());
        let file = ConfigFile::parse("profiles:\nenvironments: ~\n", Path::new("c")).unwrap();
        assert!(file.profiles.is_empty() && file.environments.is_empty());
        let file = ConfigFile::parse("profiles:\n  - name: p\n    credentials:\n", Path::new("c"))
            .unwrap();
        let profile = file.profile("p").unwrap();
        assert!(file.endpoint(profile).unwrap().is_none());
    }

    #[test]
    fn an_unknown_environment_is_an_error() {
        let file = ConfigFile::parse(
            "profiles:\n  - name: p\n    environment: e\n",
            Path::new("c"),
        )
        .unwrap();
        let message = file
            .endpoint(file.profile("p").unwrap())
            .unwrap_err()
            .to_string();
        assert!(message.contains("environment `e`"), "{message}");
    }

    #[test]
    fn the_file_is_found_where_the_go_sdk_looks() {
        let home = std::env::temp_dir().join(format!("activitylog-profile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(home.join(".ionos")).unwrap();
        let home_text = home.to_string_lossy().into_owned();
        let lookup = |name: &str| (name == "HOME").then(|| home_text.clone());
        assert!(ConfigFile::locate(lookup).is_none());
        std::fs::write(home.join(".ionos/config.yaml"), "").unwrap();
        assert_eq!(
            ConfigFile::locate(lookup),
            Some((home.join(".ionos/config.yaml"), false))
        );
        std::fs::write(home.join(".ionos/config"), "").unwrap();
        assert_eq!(
            ConfigFile::locate(lookup),
            Some((home.join(".ionos/config"), false))
        );
        let named = |name: &str| match name {
            ENV_CONFIG_FILE => Some("/nowhere/config".to_string()),
            _ => lookup(name),
        };
        let message = ConfigFile::from_lookup(named).unwrap_err().to_string();
        assert!(message.contains("/nowhere/config") && message.contains(ENV_CONFIG_FILE));
        let _ = std::fs::remove_dir_all(&home);
    }
}
