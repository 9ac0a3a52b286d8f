//! The S3 transport of `sealtrail archive` and `verify-bundle --archive` (the `s3` feature):
//! rusty-s3 signs each request (AWS Signature V4, as a presigned URL), ureq sends it.
//! Credentials and region come from the standard AWS environment variables and profile files.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rusty_s3::actions::{GetObject, ListObjectsV2, PutObject};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

/// How long a signed request stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(15 * 60);

/// `s3://BUCKET/PREFIX`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The prefix, empty or ending in `/`.
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://BUCKET` or `s3://BUCKET/PREFIX`.
    pub fn parse(s: &str) -> Result<S3Location> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| anyhow!("{s}: not an s3://BUCKET/PREFIX location"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            bail!("{s}: {bucket:?} is not an S3 bucket name (3 to 63 of a-z, 0-9, '-' and '.')");
        }
        let prefix = prefix.trim_matches('/');
        Ok(S3Location {
            bucket: bucket.to_owned(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
    }

    /// The full object key of `name` under the prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// What a write-once PUT found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// Written; the version id, when the bucket is versioned.
    Written(Option<String>),
    /// An object of that name was there already (`If-None-Match: *` refused the write).
    Exists,
}

/// A connection to one bucket.
pub struct S3 {
    agent: ureq::Agent,
    bucket: Bucket,
    credentials: Credentials,
    /// Where requests go, for messages.
    pub endpoint: String,
}

impl S3 {
    /// A client for `location`'s bucket, at `endpoint` (path-style URLs: MinIO, moto, any
    /// S3-compatible store) or, without one, `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, or AWS
    /// S3 in the configured region (virtual-hosted URLs).
    pub fn connect(location: &S3Location, endpoint: Option<&str>) -> Result<S3> {
        let profile = Profile::load()?;
        let credentials = profile.credentials()?;
        let region = profile.region();
        let configured = endpoint.map(str::to_owned).or_else(|| {
            ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        });
        let (endpoint, style) = match configured {
            Some(e) => (e, UrlStyle::Path),
            None => (
                format!("https://s3.{region}.amazonaws.com"),
                UrlStyle::VirtualHost,
            ),
        };
        let url = endpoint
            .parse()
            .with_context(|| format!("--endpoint {endpoint}: not a URL"))?;
        let bucket = Bucket::new(url, style, location.bucket.clone(), region)
            .with_context(|| format!("--endpoint {endpoint}"))?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .into();
        Ok(S3 {
            agent,
            bucket,
            credentials,
            endpoint,
        })
    }

    /// PUT `body` as `key` once: refused if the key exists (`If-None-Match: *`), with `headers`
    /// (Object Lock, checksum) signed into the request.
    pub fn put_once(&self, key: &str, body: &[u8], headers: &[(&str, String)]) -> Result<Put> {
        let mut action = PutObject::new(&self.bucket, Some(&self.credentials), key);
        action.headers_mut().insert("if-none-match", "*");
        for (name, value) in headers {
            action.headers_mut().insert(*name, value.clone());
        }
        let url = action.sign(SIGNED_FOR);
        let mut request = self.agent.put(url.as_str()).header("if-none-match", "*");
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let mut response = request
            .send(body)
            .map_err(|e| anyhow!("PUT {key} at {}: {e}", self.endpoint))?;
        match response.status().as_u16() {
            200 | 201 | 204 => Ok(Put::Written(header(&response, "x-amz-version-id"))),
            412 => Ok(Put::Exists),
            status => Err(self.failure("PUT", key, status, &mut response)),
        }
    }

    /// Sets the legal hold of `key` (its latest version) ON or OFF (PutObjectLegalHold).
    pub fn put_legal_hold(&self, key: &str, on: bool) -> Result<()> {
        use base64::Engine as _;
        use sha2::Digest as _;
        let body = format!(
            "<LegalHold xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>{}</Status></LegalHold>",
            if on { "ON" } else { "OFF" }
        );
        let checksum =
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body.as_bytes()));
        let headers = [
            ("x-amz-sdk-checksum-algorithm", "SHA256".to_owned()),
            ("x-amz-checksum-sha256", checksum),
        ];
        let mut action = PutObject::new(&self.bucket, Some(&self.credentials), key);
        action.query_mut().insert("legal-hold", "");
        for (name, value) in &headers {
            action.headers_mut().insert(*name, value.clone());
        }
        let url = action.sign(SIGNED_FOR);
        let mut request = self.agent.put(url.as_str());
        for (name, value) in &headers {
            request = request.header(*name, value.as_str());
        }
        let mut response = request
            .send(body.as_bytes())
            .map_err(|e| anyhow!("PUT {key}?legal-hold at {}: {e}", self.endpoint))?;
        match response.status().as_u16() {
            200 | 204 => Ok(()),
            status => Err(self.failure("PUT legal hold of", key, status, &mut response)),
        }
    }

    /// GET `key` as a stream, or `None` if there is no such object.
    pub fn get(&self, key: &str) -> Result<Option<Box<dyn Read + Send>>> {
        let url = GetObject::new(&self.bucket, Some(&self.credentials), key).sign(SIGNED_FOR);
        let mut response = self
            .agent
            .get(url.as_str())
            .call()
            .map_err(|e| anyhow!("GET {key} at {}: {e}", self.endpoint))?;
        match response.status().as_u16() {
            200 => Ok(Some(Box::new(response.into_body().into_reader()))),
            404 => Ok(None),
            status => Err(self.failure("GET", key, status, &mut response)),
        }
    }

    /// GET `key` whole, refusing more than `limit` bytes; `None` if there is no such object.
    pub fn get_bytes(&self, key: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let Some(reader) = self.get(key)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        reader
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .with_context(|| format!("GET {key}"))?;
        if bytes.len() as u64 > limit {
            bail!("{key}: larger than {limit} bytes");
        }
        Ok(Some(bytes))
    }

    /// Every object under `prefix`, with its size, in key order.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = ListObjectsV2::new(&self.bucket, Some(&self.credentials));
            action.with_prefix(prefix);
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let url = action.sign(SIGNED_FOR);
            let mut response = self
                .agent
                .get(url.as_str())
                .call()
                .map_err(|e| anyhow!("LIST {prefix} at {}: {e}", self.endpoint))?;
            let status = response.status().as_u16();
            if status != 200 {
                return Err(self.failure("LIST", prefix, status, &mut response));
            }
            let text = response
                .body_mut()
                .with_config()
                .limit(64 * 1024 * 1024)
                .read_to_string()
                .with_context(|| format!("LIST {prefix}"))?;
            let page = ListObjectsV2::parse_response(&text)
                .map_err(|e| anyhow!("LIST {prefix}: unreadable answer: {e}"))?;
            out.extend(page.contents.into_iter().map(|c| (c.key, c.size)));
            match page.next_continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        out.sort();
        Ok(out)
    }

    fn failure(
        &self,
        method: &str,
        key: &str,
        status: u16,
        response: &mut ureq::http::Response<ureq::Body>,
    ) -> anyhow::Error {
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let code = xml_element(&body, "Code").unwrap_or_default();
        let message = xml_element(&body, "Message").unwrap_or_default();
        let hint = match status {
            403 => {
                " (check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile, and the bucket \
                 policy)"
            }
            404 if code == "NoSuchBucket" => {
                " (create it with Object Lock enabled: aws s3api create-bucket --bucket NAME \
                 --object-lock-enabled-for-bucket)"
            }
            _ => "",
        };
        anyhow!(
            "{method} s3://{}/{key} at {}: HTTP {status} {code} {message}{hint}",
            self.bucket.name(),
            self.endpoint
        )
    }
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

// The text of the first <name>…</name> in an S3 error body, for messages only.
fn xml_element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let len = body.get(start..)?.find(&format!("</{name}>"))?;
    body.get(start..start + len).map(str::to_owned)
}

/// The AWS shared configuration: `AWS_PROFILE` (or `default`) in `~/.aws/credentials` and
/// `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`).
struct Profile {
    name: String,
    credentials: Vec<(String, String)>,
    config: Vec<(String, String)>,
    credentials_file: Option<PathBuf>,
}

impl Profile {
    fn load() -> Result<Profile> {
        let name = std::env::var("AWS_PROFILE")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into());
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let file = |var: &str, default: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
        };
        let credentials_file = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
        let config_file = file("AWS_CONFIG_FILE", "config");
        let read = |path: &Option<PathBuf>, section: &str| -> Result<Vec<(String, String)>> {
            match path {
                Some(p) if p.exists() => {
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("{}: cannot read", p.display()))?;
                    Ok(ini_section(&text, section))
                }
                _ => Ok(Vec::new()),
            }
        };
        // In the config file a profile other than `default` is `[profile NAME]`.
        let config_section = if name == "default" {
            "default".to_owned()
        } else {
            format!("profile {name}")
        };
        Ok(Profile {
            credentials: read(&credentials_file, &name)?,
            config: read(&config_file, &config_section)?,
            credentials_file,
            name,
        })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.credentials
            .iter()
            .chain(&self.config)
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn credentials(&self) -> Result<Credentials> {
        let env = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
        if let (Some(key), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
        {
            return Ok(match env("AWS_SESSION_TOKEN") {
                Some(token) => Credentials::new_with_token(key, secret, token),
                None => Credentials::new(key, secret),
            });
        }
        match (
            self.get("aws_access_key_id"),
            self.get("aws_secret_access_key"),
        ) {
            (Some(key), Some(secret)) => Ok(match self.get("aws_session_token") {
                Some(token) => Credentials::new_with_token(key, secret, token),
                None => Credentials::new(key, secret),
            }),
            _ => bail!(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and \
                 AWS_SESSION_TOKEN for temporary ones), or put them in profile {:?} of {}",
                self.name,
                self.credentials_file
                    .as_ref()
                    .map_or("~/.aws/credentials".into(), |p| p.display().to_string())
            ),
        }
    }

    fn region(&self) -> String {
        ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .or_else(|| self.get("region").map(str::to_owned))
            .unwrap_or_else(|| "us-east-1".into())
    }
}

// The `key = value` lines of `[section]` in an AWS shared config or credentials file (INI:
// `#` and `;` comments, names compared without surrounding blanks).
fn ini_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.split_whitespace().collect::<Vec<_>>().join(" ") == section;
            continue;
        }
        if let (true, Some((k, v))) = (inside, line.split_once('=')) {
            out.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_profiles_parse() {
        let l = S3Location::parse("s3://audit-archive/logs/prod/").unwrap();
        assert_eq!(l.bucket, "audit-archive");
        assert_eq!(l.key("manifests/x.json"), "logs/prod/manifests/x.json");
        assert_eq!(S3Location::parse("s3://bkt").unwrap().prefix, "");
        assert!(S3Location::parse("s3://Bad_Bucket/x").is_err());
        assert!(S3Location::parse("https://bkt/x").is_err());
        let text = "[default]\naws_access_key_id = A\n[profile ci]\nregion = eu-west-1\n\
                    [ci]\naws_access_key_id=B\n# c\naws_secret_access_key = S\n";
        assert_eq!(
            ini_section(text, "default"),
            vec![("aws_access_key_id".into(), "A".into())]
        );
        assert_eq!(
            ini_section(text, "profile ci"),
            vec![("region".into(), "eu-west-1".into())]
        );
        assert_eq!(ini_section(text, "ci").len(), 2);
    }
}
