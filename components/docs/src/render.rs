//! The OpenAPI document rendered on the server as one self-contained HTML page.
//!
//! No script (the page works with scripting disabled; `<details>` folds the examples)
//! and nothing fetched from elsewhere: the style sheet is inline and the page's CSP
//! allows exactly it by hash ([`DOCS_CONTENT_SECURITY_POLICY`]; a unit test recomputes
//! the hash). Every string taken from the document is HTML-escaped.

use std::fmt::Write as _;
use std::sync::OnceLock;

use edge_http::ETag;
use serde_json::{Map, Value};

use crate::document::{self, OPERATION_METHODS, resolve};

/// The page's only style sheet, inlined in a `<style>` element.
pub const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem 2rem;color:#1b1f24}\
h1,h2,h3{line-height:1.2}h2{border-bottom:2px solid #d0d7de;padding-bottom:.3rem;margin-top:2.5rem}\
code,pre{font:13px/1.4 ui-monospace,monospace}pre{background:#f6f8fa;padding:.6rem;overflow:auto}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}\
th{background:#f6f8fa}.op{border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}\
.m{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}\
.get{color:#0550ae}.post{color:#1a7f37}.put{color:#9a6700}.patch{color:#8250df}.delete{color:#cf222e}\
.muted{color:#57606a}nav ul{columns:2}";

/// The `/docs` page's `Content-Security-Policy`: nothing but the inline style sheet
/// above (by its SHA-256), no script at all, no framing, no forms.
pub const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'sha256-Vc4YILZ3ilvpy8YsHHsq3rGIDvp18p8yz/dfae9FapM='; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The rendered page and its strong entity tag.
#[derive(Debug)]
pub struct Page {
    /// The whole HTML document.
    pub html: String,
    /// The strong entity tag of the HTML.
    pub etag: ETag,
}

/// The page for the embedded document, rendered once per instance; `None` only if the
/// embedded document is not JSON (a unit test proves it is).
pub fn page() -> Option<&'static Page> {
    static PAGE: OnceLock<Option<Page>> = OnceLock::new();
    PAGE.get_or_init(|| {
        let html = render(document::parsed()?);
        let etag = ETag::from_bytes(html.as_bytes());
        Some(Page { html, etag })
    })
    .as_ref()
}

/// HTML-escapes `text` for element content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

fn object(value: &Value) -> impl Iterator<Item = (&String, &Value)> {
    value.as_object().into_iter().flat_map(Map::iter)
}

/// Paragraphs from a description (blank-line separated), escaped.
fn paragraphs(out: &mut String, description: &str) {
    for paragraph in description.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let _ = write!(out, "<p>{}</p>", escape(paragraph.trim()));
    }
}

/// Renders `doc` as a complete HTML page.
pub fn render(doc: &Value) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let title = escape(
        doc.pointer("/info/title")
            .and_then(Value::as_str)
            .unwrap_or("API"),
    );
    let version = escape(
        doc.pointer("/info/version")
            .and_then(Value::as_str)
            .unwrap_or(""),
    );
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} {version}</title><style>{STYLE}</style></head><body>\
         <h1>{title} <small class=\"muted\">{version}</small></h1>\
         <p class=\"muted\">OpenAPI {} · machine-readable: <a href=\"/openapi.json\">/openapi.json</a></p>",
        escape(text(doc, "openapi"))
    );
    paragraphs(
        &mut out,
        doc.pointer("/info/description")
            .and_then(Value::as_str)
            .unwrap_or(""),
    );

    let operations = operations(doc);
    out.push_str("<nav><h2>Operations</h2><ul>");
    for op in &operations {
        let _ = write!(
            out,
            "<li><a href=\"#op-{id}\"><span class=\"m {m}\">{m}</span> <code>{path}</code></a> {summary}</li>",
            id = escape(&op.id),
            m = op.method,
            path = escape(&op.path),
            summary = escape(text(op.operation, "summary")),
        );
    }
    out.push_str("</ul></nav>");

    render_servers(&mut out, doc);
    render_security_schemes(&mut out, doc);

    out.push_str("<h2 id=\"operations\">Endpoints</h2>");
    let mut current_tag = None;
    for op in &operations {
        let tag = op.operation.pointer("/tags/0").and_then(Value::as_str);
        if tag != current_tag {
            current_tag = tag;
            if let Some(tag) = tag {
                let _ = write!(out, "<h2 id=\"tag-{0}\">{0}</h2>", escape(tag));
                let description = doc
                    .get("tags")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .find(|t| t.get("name").and_then(Value::as_str) == Some(tag))
                    .map_or("", |t| text(t, "description"));
                paragraphs(&mut out, description);
            }
        }
        render_operation(&mut out, doc, op);
    }
    render_schemas(&mut out, doc);
    out.push_str("</body></html>");
    out
}

struct Operation<'a> {
    path: String,
    method: &'static str,
    id: String,
    item: &'a Value,
    operation: &'a Value,
}

/// Every operation, grouped by the document's tag order (then path and method order).
fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let tags: Vec<&str> = doc
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tag| tag.get("name").and_then(Value::as_str))
        .collect();
    let rank = |operation: &Value| {
        operation
            .pointer("/tags/0")
            .and_then(Value::as_str)
            .and_then(|tag| tags.iter().position(|t| *t == tag))
            .unwrap_or(tags.len())
    };
    let mut list = operations_in_path_order(doc);
    list.sort_by_key(|op| rank(op.operation));
    list
}

fn operations_in_path_order(doc: &Value) -> Vec<Operation<'_>> {
    let mut list = Vec::new();
    for (path, item) in object(doc.get("paths").unwrap_or(&Value::Null)) {
        for method in OPERATION_METHODS {
            if let Some(operation) = item.get(*method) {
                let id = match text(operation, "operationId") {
                    "" => format!("{method}-{path}"),
                    id => id.to_owned(),
                };
                list.push(Operation {
                    path: path.clone(),
                    method,
                    id,
                    item,
                    operation,
                });
            }
        }
    }
    list
}

fn render_servers(out: &mut String, doc: &Value) {
    let Some(servers) = doc.get("servers").and_then(Value::as_array) else {
        return;
    };
    out.push_str("<h2 id=\"servers\">Servers</h2><ul>");
    for server in servers {
        let _ = write!(
            out,
            "<li><code>{}</code> {}</li>",
            escape(text(server, "url")),
            escape(text(server, "description"))
        );
    }
    out.push_str("</ul>");
}

fn render_security_schemes(out: &mut String, doc: &Value) {
    let schemes = doc
        .pointer("/components/securitySchemes")
        .unwrap_or(&Value::Null);
    out.push_str("<h2 id=\"security\">Authentication</h2>");
    for (name, scheme) in object(schemes) {
        let _ = write!(
            out,
            "<h3 id=\"scheme-{n}\">{n} <small class=\"muted\">{t} {s}</small></h3>",
            n = escape(name),
            t = escape(text(scheme, "type")),
            s = escape(text(scheme, "scheme")),
        );
        paragraphs(out, text(scheme, "description"));
        for (flow_name, flow) in object(scheme.get("flows").unwrap_or(&Value::Null)) {
            let _ = write!(out, "<h4>{}</h4><ul>", escape(flow_name));
            for key in ["authorizationUrl", "tokenUrl", "refreshUrl"] {
                if let Some(url) = flow.get(key).and_then(Value::as_str) {
                    let _ = write!(out, "<li>{key}: <code>{}</code></li>", escape(url));
                }
            }
            out.push_str("</ul><table><tr><th>scope</th><th>grants</th></tr>");
            for (scope, what) in object(flow.get("scopes").unwrap_or(&Value::Null)) {
                let _ = write!(
                    out,
                    "<tr><td><code>{}</code></td><td>{}</td></tr>",
                    escape(scope),
                    escape(what.as_str().unwrap_or(""))
                );
            }
            out.push_str("</table>");
        }
    }
}

fn security_text(doc: &Value, operation: &Value) -> String {
    let requirements = operation
        .get("security")
        .or_else(|| doc.get("security"))
        .and_then(Value::as_array);
    let Some(requirements) = requirements else {
        return "not stated".to_owned();
    };
    let alternatives: Vec<String> = requirements
        .iter()
        .map(|requirement| {
            let schemes: Vec<String> = object(requirement)
                .map(|(scheme, scopes)| {
                    let scopes: Vec<&str> = scopes
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    if scopes.is_empty() {
                        format!("<a href=\"#scheme-{0}\">{0}</a>", escape(scheme))
                    } else {
                        format!(
                            "<a href=\"#scheme-{0}\">{0}</a> (<code>{1}</code>)",
                            escape(scheme),
                            escape(&scopes.join(" "))
                        )
                    }
                })
                .collect();
            if schemes.is_empty() {
                "anonymous".to_owned()
            } else {
                schemes.join(" and ")
            }
        })
        .collect();
    if alternatives.is_empty() {
        "public (no authentication)".to_owned()
    } else {
        alternatives.join(" <em>or</em> ")
    }
}

fn render_operation(out: &mut String, doc: &Value, op: &Operation<'_>) {
    let operation = op.operation;
    let _ = write!(
        out,
        "<section class=\"op\" id=\"op-{id}\"><h3><span class=\"m {m}\">{m}</span> <code>{path}</code></h3>\
         <p><strong>{summary}</strong> <span class=\"muted\">operationId {id}</span></p>",
        id = escape(&op.id),
        m = op.method,
        path = escape(&op.path),
        summary = escape(text(operation, "summary")),
    );
    paragraphs(out, text(operation, "description"));
    let _ = write!(out, "<p>Security: {}</p>", security_text(doc, operation));
    if let Some(limit) = operation.get("x-rate-limit") {
        let _ = write!(
            out,
            "<p>Rate limit: <code>{}</code></p>",
            escape(&limit.to_string())
        );
    }

    let parameters: Vec<&Value> = [op.item.get("parameters"), operation.get("parameters")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .map(|p| resolve(doc, p))
        .collect();
    if !parameters.is_empty() {
        out.push_str(
            "<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th>\
             <th>schema</th><th>description</th></tr>",
        );
        for parameter in parameters {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(text(parameter, "name")),
                escape(text(parameter, "in")),
                if parameter.get("required").and_then(Value::as_bool) == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                schema_summary(parameter.get("schema").unwrap_or(&Value::Null)),
                escape(text(parameter, "description")),
            );
        }
        out.push_str("</table>");
    }

    if let Some(body) = operation.get("requestBody").map(|b| resolve(doc, b)) {
        let required = body.get("required").and_then(Value::as_bool) == Some(true);
        let _ = write!(
            out,
            "<h4>Request body{}</h4>",
            if required { " (required)" } else { "" }
        );
        paragraphs(out, text(body, "description"));
        render_content(out, body.get("content").unwrap_or(&Value::Null));
    }

    out.push_str(
        "<h4>Responses</h4><table><tr><th>status</th><th>description</th><th>headers</th>\
         <th>content</th></tr>",
    );
    for (status, response) in object(operation.get("responses").unwrap_or(&Value::Null)) {
        let response = resolve(doc, response);
        let headers: Vec<String> = object(response.get("headers").unwrap_or(&Value::Null))
            .map(|(name, _)| format!("<code>{}</code>", escape(name)))
            .collect();
        let content: Vec<String> = object(response.get("content").unwrap_or(&Value::Null))
            .map(|(media, body)| {
                format!(
                    "<code>{}</code> {}",
                    escape(media),
                    schema_summary(body.get("schema").unwrap_or(&Value::Null))
                )
            })
            .collect();
        let _ = write!(
            out,
            "<tr><td><strong>{}</strong></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(status),
            escape(text(response, "description")),
            headers.join(", "),
            content.join("<br>"),
        );
    }
    out.push_str("</table>");
    render_response_examples(out, doc, operation);
    out.push_str("</section>");
}

fn render_content(out: &mut String, content: &Value) {
    for (media, body) in object(content) {
        let _ = write!(
            out,
            "<p><code>{}</code> {}</p>",
            escape(media),
            schema_summary(body.get("schema").unwrap_or(&Value::Null))
        );
        render_examples(out, body);
    }
}

fn render_examples(out: &mut String, media: &Value) {
    if let Some(example) = media.get("example") {
        example_block(out, "example", example);
    }
    for (name, example) in object(media.get("examples").unwrap_or(&Value::Null)) {
        let label = match text(example, "summary") {
            "" => name.clone(),
            summary => format!("{name}: {summary}"),
        };
        if let Some(value) = example.get("value") {
            example_block(out, &label, value);
        }
    }
}

fn render_response_examples(out: &mut String, doc: &Value, operation: &Value) {
    for (status, response) in object(operation.get("responses").unwrap_or(&Value::Null)) {
        // Shared responses (`$ref`) are examples of the problem shape, shown once in
        // the schema section; an operation's own responses show their examples here.
        if response.get("$ref").is_some() {
            continue;
        }
        let response = resolve(doc, response);
        for (media, body) in object(response.get("content").unwrap_or(&Value::Null)) {
            if body.get("example").is_none() && body.get("examples").is_none() {
                continue;
            }
            let _ = write!(
                out,
                "<p class=\"muted\">{} <code>{}</code></p>",
                escape(status),
                escape(media)
            );
            render_examples(out, body);
        }
    }
}

fn example_block(out: &mut String, label: &str, value: &Value) {
    let pretty = match value {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let _ = write!(
        out,
        "<details><summary>{}</summary><pre>{}</pre></details>",
        escape(label),
        escape(&pretty)
    );
}

/// A one-line, linked description of a schema: `Product`, `array of Product`,
/// `string (uuid)`, `"a" | "b"`.
pub fn schema_summary(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        if reference.starts_with("#/components/schemas/") {
            return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
        }
        return escape(name);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = schema.get(key).and_then(Value::as_array) {
            let joiner = if key == "allOf" { " &amp; " } else { " | " };
            return list
                .iter()
                .map(schema_summary)
                .collect::<Vec<_>>()
                .join(joiner);
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(|v| format!("<code>{}</code>", escape(&v.to_string())))
            .collect::<Vec<_>>()
            .join(" | ");
    }
    if let Some(value) = schema.get("const") {
        return format!("<code>{}</code>", escape(&value.to_string()));
    }
    let types: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let described: Vec<String> = types
        .iter()
        .map(|t| match t.as_str() {
            "array" => format!(
                "array of {}",
                schema_summary(schema.get("items").unwrap_or(&Value::Null))
            ),
            other => match schema.get("format").and_then(Value::as_str) {
                Some(format) => format!("{} ({})", escape(other), escape(format)),
                None => escape(other),
            },
        })
        .collect();
    if described.is_empty() {
        "any".to_owned()
    } else {
        described.join(" | ")
    }
}

fn render_schemas(out: &mut String, doc: &Value) {
    out.push_str("<h2 id=\"schemas\">Schemas</h2>");
    for (name, schema) in object(doc.pointer("/components/schemas").unwrap_or(&Value::Null)) {
        let _ = write!(
            out,
            "<section class=\"op\" id=\"schema-{n}\"><h3>{n}</h3><p>{s}{closed}</p>",
            n = escape(name),
            s = schema_summary(schema),
            closed = if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
                " · no other properties accepted"
            } else {
                ""
            },
        );
        paragraphs(out, text(schema, "description"));
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(properties) = properties {
            out.push_str(
                "<table><tr><th>property</th><th>schema</th><th>required</th>\
                 <th>description</th></tr>",
            );
            for (property, property_schema) in properties {
                let _ = write!(
                    out,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(property),
                    schema_summary(property_schema),
                    if required.contains(&property.as_str()) {
                        "yes"
                    } else {
                        "no"
                    },
                    escape(text(property_schema, "description")),
                );
            }
            out.push_str("</table>");
        }
        render_examples(out, schema);
        if let Some(examples) = schema.get("examples").and_then(Value::as_array) {
            for example in examples {
                example_block(out, "example", example);
            }
        }
        out.push_str("</section>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64, Encoding};
    use serde_json::json;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_csp_allows_exactly_the_inline_style_sheet_by_its_hash() {
        let hash = Base64::encode_string(&Sha256::digest(STYLE.as_bytes()));
        let expected = format!("style-src 'sha256-{hash}'");
        assert!(
            DOCS_CONTENT_SECURITY_POLICY.contains(&expected),
            "update DOCS_CONTENT_SECURITY_POLICY: {expected}"
        );
        let html = page().map(|p| p.html.as_str()).unwrap_or_default();
        assert!(html.contains(&format!("<style>{STYLE}</style>")));
        assert_eq!(html.matches("<style").count(), 1);
        assert!(
            !html.contains(" style=\""),
            "inline style attributes break the CSP"
        );
    }

    #[test]
    fn the_page_lists_every_operation_with_its_scopes_and_every_schema() {
        let doc = document::parsed().unwrap_or_else(|| panic!("not JSON"));
        let html = page().map(|p| p.html.as_str()).unwrap_or_default();
        for op in operations(doc) {
            assert!(
                html.contains(&format!("id=\"op-{}\"", escape(&op.id))),
                "{}",
                op.id
            );
        }
        for (name, _) in object(doc.pointer("/components/schemas").unwrap_or(&Value::Null)) {
            assert!(
                html.contains(&format!("id=\"schema-{}\"", escape(name))),
                "{name}"
            );
        }
    }

    #[test]
    fn operations_are_grouped_in_the_documents_tag_order() {
        let doc = json!({
            "tags": [{"name": "b"}, {"name": "a"}],
            "paths": {
                "/a": {"get": {"operationId": "getA", "tags": ["a"]}},
                "/b": {"get": {"operationId": "getB", "tags": ["b"]}},
                "/c": {"post": {"operationId": "postC", "tags": ["b"]}}
            }
        });
        let ids: Vec<String> = operations(&doc).into_iter().map(|op| op.id).collect();
        assert_eq!(ids, ["getB", "postC", "getA"]);
    }

    #[test]
    fn text_from_the_document_is_escaped() {
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "<script>alert(1)</script>", "version": "1\"><b>"},
            "paths": {"/x": {"get": {
                "operationId": "x", "summary": "<img src=x onerror=alert(1)>",
                "security": [],
                "responses": {"200": {"description": "ok", "content": {"application/json": {
                    "example": {"a": "</pre><script>"}
                }}}}
            }}}
        });
        let html = render(&doc);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("public (no authentication)"));
    }

    #[test]
    fn schema_summaries_link_references_and_describe_types() {
        assert_eq!(
            schema_summary(&json!({"$ref": "#/components/schemas/Product"})),
            "<a href=\"#schema-Product\">Product</a>"
        );
        assert_eq!(
            schema_summary(
                &json!({"type": "array", "items": {"type": "string", "format": "uuid"}})
            ),
            "array of string (uuid)"
        );
        assert_eq!(
            schema_summary(&json!({"enum": ["a", "b"]})),
            "<code>&quot;a&quot;</code> | <code>&quot;b&quot;</code>"
        );
        assert_eq!(
            schema_summary(&json!({"type": ["string", "null"]})),
            "string | null"
        );
    }
}
