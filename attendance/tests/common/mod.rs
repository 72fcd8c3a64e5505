//! What the attendance black-box suites share: starting the real binary, minting tokens,
//! calling the API, and checking every answer of a documented operation against the service's
//! own OpenAPI document.
#![allow(dead_code)] // each test binary uses its own part of this module

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use service_kit::auth::Role;
use sha2::Sha256;
use std::path::Path;
use std::time::{Duration, Instant};
#[allow(unused_imports)] // re-exported for the suites that need them
pub use testkit::{token, unix_now};
#[allow(unused_imports)] // re-exported for the suites that need them
pub use testkit::{HttpResponse, Launch, Service, TempDir, SECRET};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_attendance");

/// The journal's file name in `DATA_DIR`.
pub const JOURNAL: &str = "checkins.jsonl";

/// An admin's token (`sub` = `admin-user`).
pub fn admin() -> String {
    token("admin-user", Role::Admin)
}

/// A committee member's token (`sub` = `panitia1`).
pub fn committee() -> String {
    token("panitia1", Role::Committee)
}

/// A token with any header and payload, HMAC-SHA256-signed with `secret`.
pub fn signed(header: &Value, payload: &Value, secret: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// True for `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`.
pub fn is_api_timestamp(text: &str) -> bool {
    let pattern = "dddd-dd-ddTdd:dd:dd.dddddd+00:00";
    text.len() == pattern.len()
        && text.bytes().zip(pattern.bytes()).all(|(c, p)| match p {
            b'd' => c.is_ascii_digit(),
            _ => c == p,
        })
}

/// Whether `check` holds within five seconds (for output, which the service writes just
/// after it answers and testkit collects on another thread).
pub fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Asserts the response's status and its JSON body.
#[track_caller]
pub fn assert_json(response: &HttpResponse, status: u16, body: &Value) {
    assert_eq!(
        (response.status, &response.json()),
        (status, body),
        "full body: {}",
        response.text()
    );
}

/// Asserts a 422 whose `detail` lists exactly these `(loc, type)` pairs, each with a message.
#[track_caller]
pub fn assert_422(response: &HttpResponse, expected: &[(Value, &str)]) {
    assert_eq!(response.status, 422, "{}", response.text());
    let body = response.json();
    let detail = body["detail"].as_array().expect("detail is a list");
    let got: Vec<(Value, &str)> = detail
        .iter()
        .map(|e| {
            assert!(
                e["msg"].as_str().is_some_and(|m| !m.is_empty()),
                "no msg in {e}"
            );
            (e["loc"].clone(), e["type"].as_str().unwrap_or_default())
        })
        .collect();
    assert_eq!(got, expected, "full body: {body}");
}

/// A running attendance service with its OpenAPI document.
pub struct Api {
    pub svc: Service,
    doc: Value,
}

impl Api {
    /// Starts the binary on `data_dir`.
    pub fn start(data_dir: &Path) -> Api {
        Api::attach(Launch::new(BIN, data_dir).start())
    }

    /// Wraps a started service and fetches its OpenAPI document.
    pub fn attach(svc: Service) -> Api {
        let answer = svc.get("/openapi.json", None);
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        let doc = answer.json();
        let api = Api { svc, doc };
        api.conform("get", "/openapi.json", &answer);
        api
    }

    /// Stops the service with `kill -9`.
    pub fn kill9(self) {
        self.svc.kill9();
    }

    /// Sends a request and checks the answer against the document's `template` operation.
    pub fn call(
        &self,
        method: &str,
        target: &str,
        template: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.extend(auth.iter().map(|a| ("Authorization", a.as_str())));
        if body.is_some() {
            all.push(("Content-Type", "application/json"));
        }
        let answer = self.svc.request(method, target, &all, body);
        self.conform(&method.to_ascii_lowercase(), template, &answer);
        answer
    }

    /// `POST /checkins` with a JSON body.
    pub fn post_checkin(
        &self,
        token: Option<&str>,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        let body = body.to_string();
        self.call(
            "POST",
            "/checkins",
            "/checkins",
            token,
            headers,
            Some(body.as_bytes()),
        )
    }

    /// `POST /checkins` for `event` and `ticket`.
    pub fn check_in(&self, token: &str, event: &str, ticket: &str) -> HttpResponse {
        self.post_checkin(
            Some(token),
            &json!({"event_id": event, "ticket_id": ticket}),
            &[],
        )
    }

    /// `POST /checkins` with an `Idempotency-Key`.
    pub fn check_in_keyed(
        &self,
        token: &str,
        event: &str,
        ticket: &str,
        key: &str,
    ) -> HttpResponse {
        self.post_checkin(
            Some(token),
            &json!({"event_id": event, "ticket_id": ticket}),
            &[("Idempotency-Key", key)],
        )
    }

    /// `GET /attendance/<rest>`; `rest` is the encoded event id plus any query.
    pub fn attendance(
        &self,
        token: Option<&str>,
        rest: &str,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        self.call(
            "GET",
            &format!("/attendance/{rest}"),
            "/attendance/{event_id}",
            token,
            headers,
            None,
        )
    }

    /// `DELETE /checkins/<rest>`; `rest` is `event/ticket`, encoded.
    pub fn undo(&self, token: Option<&str>, rest: &str) -> HttpResponse {
        self.call(
            "DELETE",
            &format!("/checkins/{rest}"),
            "/checkins/{event_id}/{ticket_id}",
            token,
            &[],
            None,
        )
    }

    /// The tickets of an event, in order, as listed by the service.
    pub fn tickets(&self, event: &str) -> Vec<String> {
        let answer = self.attendance(Some(&admin()), event, &[]);
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["ticket_id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Asserts the document declares `method template` answering this status with this content
    /// type, that the declared headers are there (when `required`) and fit their schemas, and
    /// that a JSON body fits the declared schema.
    #[track_caller]
    pub fn conform(&self, method: &str, template: &str, answer: &HttpResponse) {
        let operation = &self.doc["paths"][template][method];
        assert!(
            operation.is_object(),
            "openapi.json has no {method} {template}"
        );
        let declared = &operation["responses"][answer.status.to_string()];
        assert!(
            declared.is_object(),
            "openapi.json: {method} {template} does not declare {}",
            answer.status
        );
        let declared = testkit::openapi::resolve(&self.doc, declared);
        if let Err(e) = testkit::openapi::check_headers(&self.doc, &declared["headers"], answer) {
            panic!("{method} {template} {}: {e}", answer.status);
        }
        let content_type = answer
            .header("content-type")
            .and_then(|c| c.split(';').next())
            .unwrap_or_default()
            .trim()
            .to_owned();
        let Some(content) = declared["content"].as_object() else {
            assert!(
                answer.body.is_empty(),
                "undeclared body for {}",
                answer.status
            );
            return;
        };
        let media = content.get(&content_type).unwrap_or_else(|| {
            panic!(
                "openapi.json: {method} {template} {} has no {content_type}",
                answer.status
            )
        });
        if content_type == "application/json" {
            if let Err(e) = self.fits(&media["schema"], &answer.json(), "body") {
                panic!(
                    "{method} {template} {}: {e}; body: {}",
                    answer.status,
                    answer.text()
                );
            }
        }
    }

    /// A small JSON Schema check: `$ref`, `type`, `enum`, `required`, `properties`, `items`, and
    /// for strings `pattern`, `minLength` and `maxLength`.
    fn fits(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        if let Some(reference) = schema["$ref"].as_str() {
            let target = self
                .doc
                .pointer(reference.trim_start_matches('#'))
                .ok_or_else(|| format!("unresolved {reference}"))?;
            return self.fits(target, value, at);
        }
        let type_ok = match schema["type"].as_str() {
            None => true,
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            Some(other) => return Err(format!("unknown schema type {other}")),
        };
        if !type_ok {
            return Err(format!("{at} is not of type {}: {value}", schema["type"]));
        }
        if let Some(choices) = schema["enum"].as_array() {
            if !choices.contains(value) {
                return Err(format!("{at} = {value} is not one of {choices:?}"));
            }
        }
        if let Some(text) = value.as_str() {
            testkit::openapi::check_string(schema, text).map_err(|e| format!("{at}: {e}"))?;
        }
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if value.get(name).is_none() {
                return Err(format!("{at} lacks required property {name}"));
            }
        }
        if let (Some(properties), Some(object)) =
            (schema["properties"].as_object(), value.as_object())
        {
            for (name, property) in properties {
                if let Some(v) = object.get(name) {
                    self.fits(property, v, &format!("{at}.{name}"))?;
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (i, item) in array.iter().enumerate() {
                self.fits(items, item, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }
}

/// One journal line as the service writes it: CRC-32 of the JSON in hex, a space, the JSON.
pub fn journal_line(record: &Value) -> String {
    let json = record.to_string();
    format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes()))
}

/// A check-in line of the journal.
pub fn check_in_line(event: &str, ticket: &str, by: &str, at: &str) -> String {
    journal_line(&json!({"check_in": {
        "event_id": event, "ticket_id": ticket, "checked_in_by": by, "checked_in_at": at
    }}))
}
