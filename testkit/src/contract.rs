//! The in-process contract harness: a service's [`App`] and its OpenAPI document, with every
//! answer checked against the document.
//!
//! A contract test builds the service on a scratch data directory, then calls it as a function
//! ([`crate::call`]): the same route table, handlers and answer headers as on a socket, without
//! one, so the tests are fast and deterministic.

use crate::openapi::Document;
use crate::HttpResponse;
use serde_json::Value;
use service_kit::app::{App, Service};

/// A service answering in-process, each answer checked against its OpenAPI document.
#[derive(Debug)]
pub struct Contract<S> {
    app: App<S>,
    document: Document,
}

impl<S: Service> Contract<S> {
    /// The harness for `app`, whose OpenAPI document is `document` (JSON text).
    pub fn new(app: App<S>, document: &str) -> Contract<S> {
        Contract {
            app,
            document: Document::parse(document),
        }
    }

    /// The app.
    pub fn app(&self) -> &App<S> {
        &self.app
    }

    /// The service.
    pub fn service(&self) -> &S {
        self.app.service()
    }

    /// Answers one request, checked against the document's operation for the route it matches
    /// (a path that cannot be percent-decoded matches no route and its 400 is not checked: the
    /// document cannot name its operation).
    #[track_caller]
    pub fn call(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        let answer = crate::call(&self.app, method, target, headers, body);
        let path = target.split('?').next().unwrap_or(target);
        let decoded = service_kit::http::Request::new(
            service_kit::http::Method::Get,
            path,
            Vec::new(),
            Vec::new(),
        );
        if let Ok(request) = decoded {
            let template = self.app.router().template_of(&request.segments);
            self.document.check(method, template, &answer);
        }
        answer
    }

    /// `GET target`, with a Bearer token when given.
    #[track_caller]
    pub fn get(&self, target: &str, token: Option<&str>) -> HttpResponse {
        let auth = bearer(token);
        self.call("GET", target, &headers(&auth, false), None)
    }

    /// `POST target` with a JSON body, with a Bearer token when given.
    #[track_caller]
    pub fn post_json(&self, target: &str, body: &Value, token: Option<&str>) -> HttpResponse {
        let auth = bearer(token);
        let body = body.to_string();
        self.call("POST", target, &headers(&auth, true), Some(body.as_bytes()))
    }

    /// `DELETE target`, with a Bearer token when given.
    #[track_caller]
    pub fn delete(&self, target: &str, token: Option<&str>) -> HttpResponse {
        let auth = bearer(token);
        self.call("DELETE", target, &headers(&auth, false), None)
    }
}

fn bearer(token: Option<&str>) -> Option<String> {
    token.map(|t| format!("Bearer {t}"))
}

fn headers(auth: &Option<String>, json: bool) -> Vec<(&str, &str)> {
    let mut headers: Vec<(&str, &str)> =
        auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    if json {
        headers.push(("Content-Type", "application/json"));
    }
    headers
}
